"""Complexity bookkeeping shared by the analytic counter and the blocks (pycls style)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cost", "conv_out", "dw_groups"]


@dataclass(frozen=True, slots=True)
class Cost:
    """Multiply-accumulates, BN flops and parameters of a piece of network.

    ``bn_flops`` is what fvcore counts for an eval-mode affine BatchNorm (2 per element);
    it enters the OPs only under the ``with-bn`` convention.
    """

    fp_macs: int = 0
    binary_macs: int = 0
    bn_flops: int = 0
    params_fp: int = 0  # float conv and classifier weights (and biases)
    params_binary: int = 0  # 1-bit conv weights
    params_other: int = 0  # BN affine, PReLU slopes, sign biases (foldable at deployment)
    binary_scales: int = 0  # one float per output channel of every binary conv

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.fp_macs + other.fp_macs,
            self.binary_macs + other.binary_macs,
            self.bn_flops + other.bn_flops,
            self.params_fp + other.params_fp,
            self.params_binary + other.params_binary,
            self.params_other + other.params_other,
            self.binary_scales + other.binary_scales,
        )

    def ops(self, with_bn: bool = False) -> float:
        """OPs = full-precision MACs + binary MACs / 64 (+ BN flops under ``with-bn``)."""
        return self.fp_macs + self.binary_macs / 64 + (self.bn_flops if with_bn else 0)

    @property
    def params(self) -> int:
        """Weight parameters, float and binary, as MobileNet's 4.2M counts them (BN and
        activation parameters are in ``params_other``)."""
        return self.params_fp + self.params_binary

    @property
    def size_bytes(self) -> int:
        """Deployed size: 4 bytes per float parameter (weights, BN, PReLU) and per binary
        scale, 1 bit per binary weight."""
        floats = self.params_fp + self.params_other + self.binary_scales
        return 4 * floats + (self.params_binary + 7) // 8


def dw_groups(channels: int, k: int) -> int:
    """Groups of a K-dependency depthwise conv: C / 2^K (MoBiNet).

    When C is not a multiple of 2^K (a narrow first stage, e.g. 24 channels with K=4),
    the group size is the largest power of two dividing both, gcd(C, 2^K).
    """
    group_size = 1
    while group_size < 2**k and channels % (group_size * 2) == 0:
        group_size *= 2
    return channels // group_size


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Output size of a 'same'-padded conv (padding kernel // 2), or of the 2x2
    ceil-mode average pool used before strided 1x1 convs and on strided skips."""
    if kernel == 1:
        return -(-size // stride)
    return (size + 2 * (kernel // 2) - kernel) // stride + 1
