"""Separable blocks for every seed design, from one plan that both builds and counts.

A block is planned as a small tree (:func:`block_plan`): units (one conv each) in
sequences and parallel sums. The same plan instantiates the ``nn.Module``
(:class:`Block`) and gives the analytic complexity (:func:`block_cost`), so the two
cannot drift apart; tests pin the analytic counts to fvcore's.

Design choices where the papers are ambiguous (and why):

* **Unit order.** A binary unit is ``sign -> conv -> act -> BN`` (MoBiNet: binary act ->
  binary conv -> PReLU -> BN). In a network with any binary layer, every unit, float ones
  and the stem included, ends with BN (``order="post"``), so every binarizer sees a
  zero-centred input that takes both signs. A sign right after a ReLU would be +1
  everywhere and the binary layer would carry nothing. Fully float networks use the
  standard ``conv -> BN -> act`` (``order="pre"``).
* **Parallel (MobileNet-Sp).** ``y = act(BN(expand(DW(x))) + BN(PW(x)))`` (then BN, in a
  binary network): the Sp paper's sparse conv, split into its plane (DW) and pillar (PW),
  followed by its BN and ReLU. Each branch has its own BN, which puts a binary PW branch on
  the scale of the float DW branch; the activation comes after the sum, as in the paper.
  (Measured: giving each branch its own activation instead cost 4.7 points of proxy top-1
  on binarized MobileNet-Sp, 33.7% vs 38.4%.) A stride-2 PW branch average-pools 2x2
  before its 1x1 conv (Bi-Real's downsampling) instead of dropping 3/4 of the pixels.
* **Expansion** when the DW branch must produce C_out > C_in channels: ``copy`` tiles the
  DW output, ``crelu`` tiles ``[d, -d]`` before its own activation (CReLU: the one branch
  unit that keeps an activation before the sum), ``2xdw`` runs a
  distinct depthwise kernel for every output channel over the tiled input (two DW convs
  when C_out = 2 C_in; any ratio works, as width rounding can make one).
* **Both (MobileNet-LS).** ``y = act(BN(PW(DW1(x))) + BN(expand(DW2(x))))``.
* **MoBiNet extra block** ``E`` (binary 1x1, same channels in and out, with an identity
  skip): ``pre`` right after the block input, ``mid`` between DW and PW (in a parallel
  block: on the DW branch, after expansion, a residual step that keeps its own
  activation), ``post`` after the block output.
  A block with an extra block also has a skip around every other step whose channels
  match (DW, and PW or the parallel sum when C_in = C_out): MoBiNet adds skips to keep
  information through binary depthwise layers. A skip that crosses a stride is average
  pooled 2x2, as MoBiNet does. ``placement="none"`` is the plain block of the Sp paper
  and of MobileNet (no skips).
* **K-dependency** gives every depthwise conv C / 2^K groups (see :func:`dw_groups`).
* **Binary scope** ``pw`` binarizes the 1x1 convs (PW and E); ``all`` the DW convs too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn as nn

from .arch import StageConfig
from .binary import BinaryActivation, BinaryConv2d
from .cost import Cost, conv_out, dw_groups
from .skeleton import BlockSpec

__all__ = ["Block", "BlockOptions", "Unit", "block_cost", "block_plan"]


@dataclass(frozen=True)
class BlockOptions:
    """Settings of the binary layers (not part of the architecture)."""

    order: str = "post"
    estimator: str = "approxsign"
    sign_bias: bool = False


# -- the plan -----------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitPlan:
    kind: str  # "dw" or "pw"
    cin: int
    cout: int
    stride: int
    in_size: int
    binary: bool
    expansion: str | None
    k: int
    activation: str | None  # None: conv -> BN only (a branch feeding a parallel sum)

    @property
    def out_size(self) -> int:
        return conv_out(self.in_size, 3 if self.kind == "dw" else 1, self.stride)


@dataclass(frozen=True)
class SeqPlan:
    steps: tuple[tuple[object, bool], ...]  # (plan, has identity skip)
    stride: int


@dataclass(frozen=True)
class SumPlan:
    """Branches summed, then the activation (and BN, in ``post`` order)."""

    branches: tuple[object, ...]
    channels: int
    out_size: int
    activation: str


def _seq(steps: list[tuple[object, bool]]) -> object:
    steps = [s for s in steps if s[0] is not None]
    return SeqPlan(tuple(steps), max(_stride(p) for p, _ in steps))


def _stride(plan: object) -> int:
    if isinstance(plan, SumPlan):
        return _stride(plan.branches[0])
    return plan.stride  # type: ignore[attr-defined]


def block_plan(spec: BlockSpec, stage: StageConfig) -> SeqPlan:
    """The structure of one block (see the module docstring for the choices)."""
    cin, cout, s = spec.cin, spec.cout, spec.stride
    skips = stage.placement != "none"
    bin_pw = stage.binary_scope != "none"
    bin_dw = stage.binary_scope == "all"

    def unit(kind, ci, co, stride, size, expansion=None, act=True):
        binary = bin_dw if kind == "dw" else bin_pw
        act = act or expansion == "crelu"
        return UnitPlan(kind, ci, co, stride, size, binary, expansion, stage.k,
                        stage.activation if act else None)

    def extra(c, size, where):
        return (unit("pw", c, c, 1, size), True) if stage.placement == where else (None, False)

    insz, outsz = spec.in_size, spec.out_size
    expansion = stage.expansion if cout != cin else None
    pre, post = extra(cin, insz, "pre"), extra(cout, outsz, "post")
    if stage.topology == "cascade":
        body = [
            (unit("dw", cin, cin, s, insz), skips),
            extra(cin, outsz, "mid"),
            (unit("pw", cin, cout, 1, outsz), skips and cin == cout),
        ]
        return _seq([pre, *body, post])
    mid = extra(cout, outsz, "mid")
    # A unit that feeds the sum directly has no activation of its own (BN only).
    dw_exp = unit("dw", cin, cout, s, insz, expansion, act=mid[0] is not None)
    if stage.topology == "parallel":
        dw_branch = _seq([(dw_exp, skips and cin == cout), mid])
        branches = (dw_branch, unit("pw", cin, cout, s, insz, act=False))
    else:  # both
        cascade = _seq([
            (unit("dw", cin, cin, s, insz), skips),
            extra(cin, outsz, "mid"),
            (unit("pw", cin, cout, 1, outsz, act=False), False),
        ])
        branches = (cascade, unit("dw", cin, cout, s, insz, expansion, act=False))
    merged = SumPlan(branches, cout, outsz, stage.activation)
    return _seq([pre, (merged, skips and cin == cout), post])


@lru_cache(maxsize=65536)
def block_cost(spec: BlockSpec, stage: StageConfig, sign_bias: bool = False, order: str = "post") -> Cost:
    """Analytic complexity of a block, without building it."""
    return _cost(block_plan(spec, stage), sign_bias, order)


def _cost(plan: object, sign_bias: bool, order: str) -> Cost:
    if isinstance(plan, SeqPlan):
        return sum((_cost(p, sign_bias, order) for p, _ in plan.steps), Cost())
    if isinstance(plan, SumPlan):
        total = sum((_cost(p, sign_bias, order) for p in plan.branches), Cost())
        c, out = plan.channels, plan.out_size
        prelu = c if plan.activation == "prelu" else 0
        if order == "post":
            return total + Cost(0, 0, 2 * c * out * out, 0, 0, 2 * c + prelu, 0)
        return total + Cost(0, 0, 0, 0, 0, prelu, 0)
    return Unit.cost(plan, sign_bias)


# -- the modules --------------------------------------------------------------------------
def activation_layer(name: str | None, channels: int) -> nn.Module:
    if name is None:
        return nn.Identity()
    return nn.PReLU(channels, init=0.25) if name == "prelu" else nn.ReLU(inplace=True)


def _tile(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Channels ``index`` (= arange(C_out) % C) of ``x``: a repeat when C divides C_out, which
    is cheaper than a gather, forward and backward."""
    c, n = x.shape[1], index.numel()
    if n == c:
        return x
    if n % c == 0:
        return x.repeat(1, n // c, 1, 1)
    return x.index_select(1, index)


class Unit(nn.Module):
    """``[avgpool] -> [sign] -> conv [-> expand] -> act -> BN`` (or ``BN -> act``)."""

    def __init__(self, plan: UnitPlan, opts: BlockOptions) -> None:
        super().__init__()
        cin, cout = plan.cin, plan.cout
        self.order = opts.order
        self.pool = nn.AvgPool2d(2, ceil_mode=True) if plan.kind == "pw" and plan.stride == 2 else None
        self.sign = (
            BinaryActivation(cin, opts.estimator, opts.sign_bias) if plan.binary else None
        )
        conv = BinaryConv2d if plan.binary else nn.Conv2d
        self.crelu = plan.expansion == "crelu"
        tile = expand = None
        if plan.kind == "pw":
            self.conv = conv(cin, cout, 1, bias=False)
        else:
            cc = cout if plan.expansion == "2xdw" else cin
            self.conv = conv(cc, cc, 3, plan.stride, 1, groups=dw_groups(cc, plan.k), bias=False)
            if plan.expansion == "2xdw":
                tile = torch.arange(cout) % cin
            elif plan.expansion is not None:
                expand = torch.arange(cout) % (2 * cin if self.crelu else cin)
        self.register_buffer("tile", tile, persistent=False)
        self.register_buffer("expand", expand, persistent=False)
        self.act = activation_layer(plan.activation, cout)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        if self.sign is not None:
            x = self.sign(x)
        if self.tile is not None:
            x = _tile(x, self.tile)
        x = self.conv(x)
        if self.crelu:
            x = torch.cat([x, -x], dim=1)
        if self.expand is not None:
            x = _tile(x, self.expand)
        if self.order == "post":
            return self.bn(self.act(x))
        return self.act(self.bn(x))

    @staticmethod
    def cost(plan: UnitPlan, sign_bias: bool = False) -> Cost:
        out = plan.out_size
        if plan.kind == "pw":
            weights = plan.cin * plan.cout
            conv_out_c = plan.cout
        else:
            cc = plan.cout if plan.expansion == "2xdw" else plan.cin
            weights = cc * (cc // dw_groups(cc, plan.k)) * 9
            conv_out_c = cc
        macs = weights * out * out
        other = 2 * plan.cout + (plan.cout if plan.activation == "prelu" else 0)
        bn_flops = 2 * plan.cout * out * out
        if plan.binary:
            other += plan.cin if sign_bias else 0
            return Cost(0, macs, bn_flops, 0, weights, other, conv_out_c)
        return Cost(macs, 0, bn_flops, weights, 0, other, 0)


class _Seq(nn.Module):
    def __init__(self, plan: SeqPlan, opts: BlockOptions) -> None:
        super().__init__()
        self.steps = nn.ModuleList(_make(p, opts) for p, _ in plan.steps)
        self.skips = tuple(skip for _, skip in plan.steps)
        self.pools = nn.ModuleList(
            nn.AvgPool2d(2, ceil_mode=True) if skip and _stride(p) == 2 else nn.Identity()
            for p, skip in plan.steps
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step, skip, pool in zip(self.steps, self.skips, self.pools, strict=True):
            x = step(x) + pool(x) if skip else step(x)
        return x


class _Sum(nn.Module):
    def __init__(self, plan: SumPlan, opts: BlockOptions) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_make(p, opts) for p in plan.branches)
        self.act = activation_layer(plan.activation, plan.channels)
        self.bn = nn.BatchNorm2d(plan.channels) if opts.order == "post" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        out = self.act(out)
        return self.bn(out) if self.bn is not None else out


def _make(plan: object, opts: BlockOptions) -> nn.Module:
    if isinstance(plan, SeqPlan):
        return _Seq(plan, opts)
    if isinstance(plan, SumPlan):
        return _Sum(plan, opts)
    return Unit(plan, opts)  # type: ignore[arg-type]


class Block(_Seq):
    """One separable block of ``stage``'s design, with the channels of ``spec``."""

    def __init__(self, spec: BlockSpec, stage: StageConfig, opts: BlockOptions) -> None:
        super().__init__(block_plan(spec, stage), opts)
        self.spec = spec
        self.stage_config = stage
