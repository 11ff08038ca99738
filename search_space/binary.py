"""Binary (1-bit) layers: the sign, activation binarizers and the binary convolution.

Facts taken from the reference implementations (Bi-Real Net, ReActNet, XNOR-Net):

* ``sign(x)`` is +1 for ``x >= 0`` and -1 otherwise (``torch.sign`` maps 0 to 0 and
  is never used). It is the IEEE sign bit: ``-0.0`` maps to -1, ``+0.0`` to +1.
* Activations are binarized with the ApproxSign gradient of Bi-Real Net
  (d/dx = 2 - 2|x| on [-1, 1], 0 elsewhere), or with the plain clipped straight-through
  estimator (d/dx = 1 on [-1, 1], 0 elsewhere).
* Weights are binarized per output channel as ``alpha * sign(W)`` with
  ``alpha = mean |W|`` (detached, XNOR-Net / ReActNet), the gradient reaching the latent
  float weights through a clipped STE (ReActNet's detach trick).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "ACT_ESTIMATORS",
    "BinaryActivation",
    "BinaryConv2d",
    "binarize_weight",
    "sign",
]


def sign(x: torch.Tensor) -> torch.Tensor:
    """+1 where ``x >= 0``, -1 elsewhere, in ``x``'s dtype (no gradient).

    Written as ``copysign(1, x)``: one pass over memory (a ``ge`` into a float tensor
    then ``* 2 - 1`` took three, 3.2x the time on a 16 MB activation; ``torch.where`` is
    slower still). The one difference from ``x >= 0`` is ``-0.0``, whose sign bit gives -1.
    """
    return torch.copysign(x.new_ones(()), x)


class _SignApproxSign(torch.autograd.Function):
    """sign forward; Bi-Real's piecewise-quadratic ApproxSign backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return x.abs().mul_(-2.0).add_(2.0).clamp_(min=0.0).mul_(grad)


class _SignSTE(torch.autograd.Function):
    """sign forward; clipped straight-through backward (1 on [-1, 1])."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad.masked_fill(x.abs() > 1.0, 0.0)


ACT_ESTIMATORS: dict[str, type[torch.autograd.Function]] = {
    "approxsign": _SignApproxSign,
    "ste": _SignSTE,
}


class BinaryActivation(nn.Module):
    """Binarize activations to {-1, +1}.

    Args:
        channels: number of channels; needed only with ``learnable_bias``.
        estimator: ``"approxsign"`` (default, Bi-Real) or ``"ste"`` (clipped STE).
        learnable_bias: add a learnable per-channel shift before the sign (ReActNet's
            RSign), initialised to zero.
    """

    def __init__(
        self, channels: int = 0, estimator: str = "approxsign", learnable_bias: bool = False
    ) -> None:
        super().__init__()
        if estimator not in ACT_ESTIMATORS:
            raise ValueError(
                f"estimator: unknown value {estimator!r} (choose from {sorted(ACT_ESTIMATORS)})"
            )
        if learnable_bias and channels <= 0:
            raise ValueError(f"channels: must be positive with learnable_bias, got {channels}")
        self.estimator = estimator
        self._fn = ACT_ESTIMATORS[estimator]
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1)) if learnable_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None:
            x = x + self.bias
        return self._fn.apply(x)

    def extra_repr(self) -> str:
        return f"estimator={self.estimator}, learnable_bias={self.bias is not None}"


class _BinarizeWeight(torch.autograd.Function):
    """``alpha * sign(W)`` forward; clipped straight-through backward (1 where |W| <= 1).

    One autograd node instead of the eight ops of ReActNet's detach trick
    (``binary.detach() - clipped.detach() + clipped``), with the same values and gradient.
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(weight)
        alpha = weight.abs().mean(dim=tuple(range(1, weight.dim())), keepdim=True)
        return sign(weight).mul_(alpha)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (weight,) = ctx.saved_tensors
        return grad.masked_fill(weight.abs() > 1.0, 0.0)


def binarize_weight(weight: torch.Tensor) -> torch.Tensor:
    """``alpha * sign(W)`` forward, clipped-STE backward (ReActNet's detach trick).

    ``alpha`` is the mean absolute value of each output channel's weights, detached.
    """
    return _BinarizeWeight.apply(weight)


class BinaryConv2d(nn.Conv2d):
    """A convolution with 1-bit weights (scaled per output channel).

    It stays an ``nn.Conv2d`` (latent float weights, ``groups`` and every other argument
    supported) and calls ``F.conv2d``, so fvcore traces it as a convolution. The input is
    expected to be binarized already (put a :class:`BinaryActivation` in front of it);
    its MACs are counted as binary by :mod:`search_space.ops`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x,
            binarize_weight(self.weight),
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )

    def binary_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The deployed form: ``(sign(W) as int8 in {-1, +1}, alpha per output channel)``."""
        w = self.weight.detach()
        alpha = w.abs().mean(dim=(1, 2, 3))
        return sign(w).to(torch.int8), alpha
