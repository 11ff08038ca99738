"""Build an ``nn.Module`` from an :class:`ArchConfig`, and count its complexity analytically.

The first conv (stem) and the classifier are always full precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn as nn

from .arch import ArchConfig, StageConfig
from .blocks import Block, BlockOptions, activation_layer, block_cost
from .checks import check_int
from .cost import Cost
from .skeleton import Skeleton, _skeleton, skeleton

__all__ = ["BuildOptions", "MobileNetBNN", "analytic_cost", "build_model"]


@dataclass(frozen=True)
class BuildOptions:
    """Settings that are not architecture choices.

    Args:
        estimator: activation binarizer gradient, ``"approxsign"`` or ``"ste"``.
        sign_bias: learnable shift before every activation sign (ReActNet's RSign).
        stem_stride: 1 or 2; ``None`` picks 2 above 64x64 inputs and 1 below (see
            :mod:`search_space.skeleton`).
        dropout: dropout before the classifier.
        order: unit order, ``"post"`` (conv -> act -> BN) or ``"pre"`` (conv -> BN -> act);
            ``None`` picks ``post`` for networks with binary layers, ``pre`` otherwise.
            ``pre`` in a binary network feeds binarizers a post-ReLU, all-positive input:
            it is here for experiments and for the tests that catch it.
    """

    estimator: str = "approxsign"
    sign_bias: bool = False
    stem_stride: int | None = None
    dropout: float = 0.0
    order: str | None = None

    def __post_init__(self) -> None:
        if self.order not in (None, "pre", "post"):
            raise ValueError(f"order: invalid value {self.order!r} (choose from pre, post)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: invalid value {self.dropout!r} (expected 0 <= p < 1)")

    def unit_order(self, arch: ArchConfig) -> str:
        return self.order or ("post" if arch.is_binary else "pre")


class MobileNetBNN(nn.Module):
    """MobileNet V1 skeleton with the blocks chosen by ``arch``."""

    def __init__(
        self, arch: ArchConfig, num_classes: int, input_size: int, options: BuildOptions
    ) -> None:
        super().__init__()
        sk = skeleton(arch, input_size, options.stem_stride)
        order = options.unit_order(arch)
        opts = BlockOptions(order, options.estimator, options.sign_bias)
        self.arch = arch
        self.skeleton = sk
        self.input_size = input_size
        c = sk.stem_channels
        self.stem_conv = nn.Conv2d(3, c, 3, sk.stem_stride, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(c)
        self.stem_act = activation_layer(arch.stages[0].activation, c)
        self.order = order
        self.blocks = nn.Sequential(*(Block(b, arch.stages[b.stage], opts) for b in sk.blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(options.dropout) if options.dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(sk.last_channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_conv(x)
        x = self.stem_bn(self.stem_act(x)) if self.order == "post" else self.stem_act(self.stem_bn(x))
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(self.dropout(x))


def _check_classes(num_classes: int) -> None:
    check_int("num_classes", num_classes, 1)


def build_model(
    arch: ArchConfig,
    num_classes: int = 1000,
    input_size: int = 224,
    options: BuildOptions | None = None,
) -> MobileNetBNN:
    """Build ``arch`` for ``input_size`` x ``input_size`` inputs and ``num_classes``."""
    _check_classes(num_classes)
    return MobileNetBNN(arch, num_classes, input_size, options or BuildOptions())


def _stem_classifier_cost(arch: ArchConfig, sk: Skeleton, num_classes: int) -> Cost:
    c, out = sk.stem_channels, sk.stem_out_size
    prelu = c if arch.stages[0].activation == "prelu" else 0
    stem = Cost(27 * c * out * out, 0, 2 * c * out * out, 27 * c, 0, 2 * c + prelu, 0)
    fc = sk.last_channels * num_classes
    return stem + Cost(fc, 0, 0, fc + num_classes, 0, 0, 0)


def analytic_cost(
    arch: ArchConfig,
    num_classes: int = 1000,
    input_size: int = 224,
    options: BuildOptions | None = None,
) -> Cost:
    """MACs (float and binary), BN flops and parameters of ``arch``, without building it.

    Agrees with fvcore on the built model (tests pin it); thousands of architectures per
    second, so a budget can be checked before anything is trained.
    """
    _check_classes(num_classes)
    options = options or BuildOptions()
    sk = skeleton(arch, input_size, options.stem_stride)
    total = _stem_classifier_cost(arch, sk, num_classes)
    key = (arch.width, arch.depth, input_size, sk.stem_stride)
    order = options.unit_order(arch)
    for index, stage in enumerate(arch.stages):
        total = total + _stage_cost(key, index, stage, options.sign_bias, order)
    return total


@lru_cache(maxsize=65536)
def _stage_cost(key: tuple, index: int, stage: StageConfig, sign_bias: bool, order: str) -> Cost:
    sk = _skeleton(*key)
    blocks = (block_cost(b, stage, sign_bias, order) for b in sk.blocks if b.stage == index)
    return sum(blocks, Cost())
