"""What an architecture is: per-stage block choices plus width and depth multipliers.

An :class:`ArchConfig` is validated and normalised when it is constructed (NASLib's
``model_spec`` style), so two configurations that build the same network compare equal and
have the same canonical string: a cascade stage drops its expansion, and K is lowered to the
largest value that still changes a depthwise conv of its stage. The string is the cache and dedup key::

    w1.0-d1:S-none-k0-2xdw-relu-pw                 # all five stages alike
    w0.75-d2:L-mid-k3-prelu-all:...:S-pre-k1-copy-relu-pw   # five stage tokens

Stage token fields, in order: topology (``L`` cascade / MobileNet-L, ``S`` parallel /
MobileNet-Sp, ``LS`` both), MoBiNet placement (``none|pre|mid|post``), ``k<K>``, expansion
(``copy|crelu|2xdw``, parallel and both only: a cascade block has no expansion), activation
(``relu|prelu``) and binary scope (``none|pw|all``).
"""

from __future__ import annotations

import json
import numbers
from dataclasses import asdict, dataclass, replace
from typing import Any

from .checks import check_int
from .skeleton import max_useful_k

__all__ = [
    "ACTIVATIONS",
    "ArchConfig",
    "DEPTH_RANGE",
    "EXPANSIONS",
    "KS",
    "NUM_STAGES",
    "PLACEMENTS",
    "SCOPES",
    "StageConfig",
    "TOPOLOGIES",
    "WIDTH_RANGE",
    "decode",
    "encode",
]

NUM_STAGES = 5
TOPOLOGIES = ("cascade", "parallel", "both")
PLACEMENTS = ("none", "pre", "mid", "post")
KS = (0, 1, 2, 3, 4)
EXPANSIONS = ("copy", "crelu", "2xdw")
ACTIVATIONS = ("relu", "prelu")
SCOPES = ("none", "pw", "all")
WIDTH_RANGE = (0.25, 4.0)
DEPTH_RANGE = (1, 4)

_TOPO_CODE = {"cascade": "L", "parallel": "S", "both": "LS"}
_CODE_TOPO = {v: k for k, v in _TOPO_CODE.items()}
FORMAT = "binas-arch/1"


def _check_choice(field: str, value: Any, choices: tuple) -> None:
    if value not in choices or isinstance(value, bool):
        raise ValueError(f"{field}: invalid value {value!r} (choose from {', '.join(map(str, choices))})")


@dataclass(frozen=True)
class StageConfig:
    """The block choices shared by every block of one stage."""

    topology: str = "cascade"
    placement: str = "none"
    k: int = 0
    expansion: str | None = None
    activation: str = "relu"
    binary_scope: str = "pw"

    def __post_init__(self) -> None:
        _check_choice("topology", self.topology, TOPOLOGIES)
        _check_choice("placement", self.placement, PLACEMENTS)
        object.__setattr__(self, "k", check_int("k", self.k, KS[0], KS[-1]))
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("binary_scope", self.binary_scope, SCOPES)
        if self.topology == "cascade":
            if self.expansion is not None:
                _check_choice("expansion", self.expansion, EXPANSIONS)
            # Normalise: a cascade block has no channel expansion of its own.
            object.__setattr__(self, "expansion", None)
        else:
            _check_choice("expansion", self.expansion, EXPANSIONS)

    @property
    def binary(self) -> bool:
        return self.binary_scope != "none"

    def token(self) -> str:
        parts = [_TOPO_CODE[self.topology], self.placement, f"k{self.k}"]
        if self.expansion is not None:
            parts.append(self.expansion)
        parts += [self.activation, self.binary_scope]
        return "-".join(parts)

    @classmethod
    def from_token(cls, token: str) -> StageConfig:
        parts = token.split("-")
        topo = _CODE_TOPO.get(parts[0])
        if topo is None:
            raise ValueError(
                f"topology: invalid code {parts[0]!r} in stage {token!r} (choose from L, S, LS)"
            )
        n = 5 if topo == "cascade" else 6
        if len(parts) != n:
            raise ValueError(
                f"stage {token!r}: expected {n} fields for topology {parts[0]}, got {len(parts)}"
            )
        placement, k_tok = parts[1], parts[2]
        if not (k_tok.startswith("k") and k_tok[1:].isdigit()):
            raise ValueError(f"k: invalid field {k_tok!r} in stage {token!r} (expected k0..k4)")
        expansion = parts[3] if n == 6 else None
        return cls(topo, placement, int(k_tok[1:]), expansion, parts[-2], parts[-1])


def _fmt_width(width: float) -> str:
    text = f"{width:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class ArchConfig:
    """A point of the search space: MobileNet V1 skeleton with per-stage choices.

    Args:
        stages: one :class:`StageConfig` per stage (5: 64, 128, 256, 512, 1024 channels).
        width: channel multiplier, in [0.25, 4], two decimals at most.
        depth: how many times each non-downsampling block is repeated (1..4).
    """

    stages: tuple[StageConfig, ...]
    width: float = 1.0
    depth: int = 1

    def __post_init__(self) -> None:
        stages = tuple(self.stages) if isinstance(self.stages, list | tuple) else self.stages
        if not isinstance(stages, tuple) or len(stages) != NUM_STAGES:
            raise ValueError(f"stages: expected {NUM_STAGES} stages, got {self.stages!r}")
        for s in stages:
            if not isinstance(s, StageConfig):
                raise ValueError(f"stages: expected StageConfig entries, got {s!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, numbers.Real):
            raise ValueError(f"width: invalid value {self.width!r} (expected a number)")
        try:
            width = round(float(self.width), 2)
        except (OverflowError, ValueError):
            width = float("nan")
        if not WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1] or not abs(width - self.width) <= 1e-9:
            raise ValueError(
                f"width: invalid value {self.width!r} (expected {WIDTH_RANGE[0]}..{WIDTH_RANGE[1]}"
                " with at most two decimals)"
            )
        object.__setattr__(self, "width", width)
        check_int("depth", self.depth, *DEPTH_RANGE)
        object.__setattr__(self, "depth", int(self.depth))
        # Normalise K: when no depthwise conv of a stage has a multiple of 2^K channels, the
        # group size gcd(C, 2^K) stops growing, and K builds the same network as a smaller K.
        stages = tuple(
            replace(s, k=min(s.k, max_useful_k(i, s.topology, s.expansion, width, self.depth)))
            for i, s in enumerate(stages)
        )
        object.__setattr__(self, "stages", stages)

    @classmethod
    def uniform(cls, stage: StageConfig, width: float = 1.0, depth: int = 1) -> ArchConfig:
        """Every stage alike: how the seed papers' models are defined."""
        return cls((stage,) * NUM_STAGES, width, depth)

    @property
    def is_uniform(self) -> bool:
        return all(s == self.stages[0] for s in self.stages)

    @property
    def is_binary(self) -> bool:
        return any(s.binary for s in self.stages)

    def with_stage(self, index: int, **changes: Any) -> ArchConfig:
        stages = list(self.stages)
        stages[index] = replace(stages[index], **changes)
        return replace(self, stages=tuple(stages))

    # -- string form ---------------------------------------------------------------------
    def encode(self) -> str:
        tokens = [s.token() for s in (self.stages[:1] if self.is_uniform else self.stages)]
        return ":".join([f"w{_fmt_width(self.width)}-d{self.depth}", *tokens])

    @classmethod
    def decode(cls, text: str) -> ArchConfig:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"architecture string: empty or not a string: {text!r}")
        segments = text.strip().split(":")
        head, stage_tokens = segments[0], segments[1:]
        hp = head.split("-")
        if len(hp) != 2 or not hp[0].startswith("w") or not hp[1].startswith("d"):
            raise ValueError(f"architecture string: bad head {head!r} (expected w<width>-d<depth>)")
        try:
            width = float(hp[0][1:])
        except ValueError:
            raise ValueError(f"width: invalid value {hp[0][1:]!r} in {text!r}") from None
        if not hp[1][1:].isdigit():
            raise ValueError(f"depth: invalid value {hp[1][1:]!r} in {text!r}")
        if len(stage_tokens) not in (1, NUM_STAGES):
            raise ValueError(
                f"architecture string: expected 1 or {NUM_STAGES} stage tokens, got"
                f" {len(stage_tokens)} in {text!r}"
            )
        stages = tuple(StageConfig.from_token(t) for t in stage_tokens)
        if len(stages) == 1:
            stages = stages * NUM_STAGES
        return cls(stages, width, int(hp[1][1:]))

    def __str__(self) -> str:
        return self.encode()

    # -- JSON form -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "arch": self.encode(),
            "width": self.width,
            "depth": self.depth,
            "stages": [asdict(s) for s in self.stages],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ArchConfig:
        if not isinstance(data, dict):
            raise ValueError(
                f"architecture JSON: expected an object, got {type(data).__name__}"
            )
        if "stages" not in data:
            if isinstance(data.get("arch"), str):
                return cls.decode(data["arch"])
            raise ValueError("architecture JSON: missing key 'stages' (or 'arch')")
        stages = data["stages"]
        if not isinstance(stages, list):
            raise ValueError(f"stages: expected a list, got {type(stages).__name__}")
        fields = set(StageConfig.__dataclass_fields__)
        parsed = []
        for i, s in enumerate(stages):
            if not isinstance(s, dict):
                raise ValueError(f"stages[{i}]: expected an object, got {type(s).__name__}")
            unknown = set(s) - fields
            if unknown:
                raise ValueError(f"stages[{i}]: unknown key {sorted(unknown)[0]!r}")
            parsed.append(StageConfig(**s))
        arch = cls(tuple(parsed), data.get("width", 1.0), data.get("depth", 1))
        if "arch" in data and data["arch"] != arch.encode():
            raise ValueError(
                f"arch: {data['arch']!r} disagrees with the stages given ({arch.encode()!r})"
            )
        return arch

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> ArchConfig:
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError("architecture JSON: nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"architecture JSON: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)


def encode(arch: ArchConfig) -> str:
    """The canonical compact string of ``arch``."""
    return arch.encode()


def decode(text: str) -> ArchConfig:
    """Parse a canonical (or five-stage) architecture string."""
    return ArchConfig.decode(text)
