"""The MobileNet V1 skeleton: stem, five stages of separable blocks, pool, classifier.

Channels follow TensorFlow's MobileNet: ``make_divisible(c * width, 8)`` for every layer.
The depth multiplier repeats every non-downsampling block (stride 1) ``depth`` times.

Input resolution: at ImageNet size the stem has stride 2 (224 -> 112, last map 7x7). For
small proxy inputs (``input_size <= 64``, e.g. CIFAR's 32x32) the stem has stride 1, so
the four stride-2 stages leave a 2x2 last map instead of a 1x1 one (32 -> 32 -> 16 -> 8 ->
4 -> 2). The OPs of an architecture are always stated at the deployment input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .checks import check_int
from .cost import conv_out

if TYPE_CHECKING:  # arch imports this module (to normalise K); an annotation needs no import at run time
    from .arch import ArchConfig

__all__ = ["BlockSpec", "Skeleton", "make_divisible", "max_useful_k", "skeleton"]

STEM_CHANNELS = 32
# (base channels, stride) of MobileNet V1's 13 separable blocks, by stage.
STAGES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((64, 1),),
    ((128, 2), (128, 1)),
    ((256, 2), (256, 1)),
    ((512, 2),) + ((512, 1),) * 5,
    ((1024, 2), (1024, 1)),
)
SMALL_INPUT_MAX = 64


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to a multiple of ``divisor``, never going down by more than 10% (TF/timm)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


@dataclass(frozen=True)
class BlockSpec:
    stage: int
    cin: int
    cout: int
    stride: int
    in_size: int
    out_size: int


@dataclass(frozen=True)
class Skeleton:
    stem_channels: int
    stem_stride: int
    stem_out_size: int
    blocks: tuple[BlockSpec, ...]
    last_channels: int
    input_size: int


def skeleton(arch: ArchConfig, input_size: int, stem_stride: int | None = None) -> Skeleton:
    """Channels, strides and feature-map sizes of every block of ``arch``."""
    check_int("input_size", input_size, 8)
    if stem_stride is None:
        stem_stride = 1 if input_size <= SMALL_INPUT_MAX else 2
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride: invalid value {stem_stride!r} (expected 1 or 2)")
    return _skeleton(arch.width, arch.depth, input_size, stem_stride)


@lru_cache(maxsize=4096)
def _skeleton(width: float, depth: int, input_size: int, stem_stride: int) -> Skeleton:
    cin = make_divisible(STEM_CHANNELS * width)
    size = conv_out(input_size, 3, stem_stride)
    stem = (cin, size)
    blocks = []
    for stage, layers in enumerate(STAGES):
        for base, stride in layers:
            cout = make_divisible(base * width)
            for _ in range(1 if stride == 2 else depth):
                out = conv_out(size, 3, stride)
                blocks.append(BlockSpec(stage, cin, cout, stride, size, out))
                cin, size = cout, out
    return Skeleton(stem[0], stem_stride, stem[1], tuple(blocks), cin, input_size)


@lru_cache(maxsize=8192)
def max_useful_k(stage: int, topology: str, expansion: str | None, width: float, depth: int) -> int:
    """The largest K that still changes a depthwise conv of ``stage``: the most factors of 2 in
    the channel count of any of its depthwise convs (their group size is gcd(C, 2^K))."""
    channels = []
    for b in _skeleton(width, depth, 224, 2).blocks:
        if b.stage != stage:
            continue
        expanded = b.cout if expansion == "2xdw" and b.cout != b.cin else b.cin
        channels += {"cascade": [b.cin], "parallel": [expanded], "both": [b.cin, expanded]}[topology]
    return max((c & -c).bit_length() - 1 for c in channels)
