"""Deployment forms of a built network: a float model that emulates the binary ops, and a
checkpoint with the binary weights packed 1 bit each.

* :func:`deploy_model` turns every :class:`BinaryConv2d` into a plain ``nn.Conv2d`` holding
  ``alpha * sign(W)`` (precomputed) and every :class:`BinaryActivation` into :class:`DeploySign`
  (``+1`` where ``x >= 0``, ``-1`` elsewhere, ONNX-exportable). The binary ops are *emulated in
  float*: the values are exactly +-1 and +-alpha, but a runtime still multiplies floats.
* :func:`pack_binary_state` stores ``sign(W)`` 8 weights per ``uint8`` byte plus ``alpha`` per
  output channel for every binary conv, every other tensor of the state dict as it is; the
  result holds only tensors, ints, floats, strings, lists and dicts, so it loads with
  ``torch.load(..., weights_only=True)``. :func:`unpack_binary_state` loads it into a model
  built from the same architecture; its eval outputs are those of the packed model. The latent
  float weights are gone (only ``alpha * sign(W)`` is kept): a packed checkpoint is for
  deployment and evaluation, not for resuming training.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn as nn

from .binary import BinaryActivation, BinaryConv2d, sign

__all__ = [
    "PACKED_FORMAT",
    "DeploySign",
    "deploy_model",
    "model_spec",
    "pack_binary_state",
    "pack_bits",
    "packed_nbytes",
    "unpack_binary_state",
    "unpack_bits",
]

PACKED_FORMAT = "binas-packed/1"
_SHIFTS = torch.arange(7, -1, -1, dtype=torch.uint8)  # bit 7 of byte 0 is weight 0


class DeploySign(nn.Module):
    """``+1`` where ``x (+ bias) >= 0``, ``-1`` elsewhere: the forward of
    :class:`BinaryActivation` written with ONNX-exportable ops (``GreaterOrEqual``, ``Where``).

    It differs from :func:`search_space.binary.sign` only at ``-0.0`` (+1 here, -1 there, the
    IEEE sign bit); ``x >= 0`` is the rule of the design notes.
    """

    def __init__(self, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False) if bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None:
            x = x + self.bias
        one = torch.ones((), dtype=x.dtype, device=x.device)
        return torch.where(x >= 0, one, -one)


def _alpha(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-channel ``mean |W|`` computed exactly as :class:`BinaryConv2d`'s forward does."""
    return weight.abs().mean(dim=tuple(range(1, weight.dim())), keepdim=True)


def _float_conv(conv: BinaryConv2d) -> nn.Conv2d:
    w = conv.weight.detach()
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode,
                      device=w.device, dtype=w.dtype)
    with torch.no_grad():
        plain.weight.copy_(sign(w).mul_(_alpha(w)))
        if conv.bias is not None:
            plain.bias.copy_(conv.bias.detach())
    return plain


def deploy_model(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with the binary layers in their deployment form.

    Binary convs become ``nn.Conv2d`` with weights ``alpha * sign(W)`` and binary activations
    :class:`DeploySign`; everything else is copied as it is. ``model`` is not changed. The copy
    has no gradients and gives the same eval outputs as ``model`` (bit for bit on the CPU).
    """
    deployed = copy.deepcopy(model).eval()
    replacements: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in deployed.modules():
        for name, child in parent.named_children():
            if isinstance(child, BinaryConv2d):
                replacements.append((parent, name, _float_conv(child)))
            elif isinstance(child, BinaryActivation):
                replacements.append((parent, name, DeploySign(child.bias)))
    for parent, name, new in replacements:
        setattr(parent, name, new)
    deployed.requires_grad_(False)
    return deployed.eval()


# -- packing ------------------------------------------------------------------------------
def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """Pack a boolean tensor 8 per ``uint8`` byte (most significant bit first, zero padded)."""
    flat = bits.detach().reshape(-1).to(torch.uint8).cpu()
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    return (flat.view(-1, 8) << _SHIFTS).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """The first ``numel`` booleans packed by :func:`pack_bits`."""
    bits = (packed.reshape(-1, 1) >> _SHIFTS) & 1
    return bits.reshape(-1)[:numel].bool()


def model_spec(model: nn.Module) -> dict[str, Any]:
    """What :func:`search_space.build_model` needs to build ``model`` again (a
    :class:`~search_space.builder.MobileNetBNN`): arch string, classes, input size, options."""
    arch = getattr(model, "arch", None)
    if arch is None or not hasattr(model, "skeleton"):
        raise ValueError(f"model: expected a MobileNetBNN from build_model, got {type(model).__name__}")
    sign_bias = any(m.bias is not None for m in model.modules() if isinstance(m, BinaryActivation))
    return {
        "arch": arch.encode(),
        "num_classes": int(model.classifier.out_features),
        "input_size": int(model.input_size),
        "options": {"sign_bias": sign_bias, "stem_stride": int(model.skeleton.stem_stride), "order": model.order},
    }


def pack_binary_state(model: nn.Module) -> dict[str, Any]:
    """``model``'s state with every binary conv weight packed to 1 bit plus ``alpha``.

    Returns ``{"format", "model" (see :func:`model_spec`, when ``model`` is a MobileNetBNN),
    "binary": {weight name: {"bits" uint8, "shape" [ints], "numel" int, "alpha" float32
    [out_channels]}}, "tensors": {name: tensor}}``.
    """
    state = model.state_dict()
    binary: dict[str, Any] = {}
    for name, module in model.named_modules():
        if isinstance(module, BinaryConv2d):
            key = f"{name}.weight" if name else "weight"
            w = module.weight.detach()
            binary[key] = {
                "bits": pack_bits(sign(w) > 0),
                "shape": [int(s) for s in w.shape],
                "numel": int(w.numel()),
                "alpha": _alpha(w).reshape(-1).to(torch.float32).cpu().clone(),
            }
    tensors = {k: v.detach().cpu().clone() for k, v in state.items() if k not in binary}
    packed: dict[str, Any] = {"format": PACKED_FORMAT, "binary": binary, "tensors": tensors}
    if hasattr(model, "arch") and hasattr(model, "skeleton"):
        packed["model"] = model_spec(model)
    return packed


def _latent(signs: torch.Tensor, alpha: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Latent weights ``a * sign`` whose forward ``mean |W|`` is as close to ``alpha`` as it
    gets: the mean of n copies of ``a`` may round away from ``a``, so ``a`` is picked per channel
    among ``alpha`` and its float neighbours (+-2 ulps). Many channels come out exact, the rest
    one to three ulps off (many floats are no rounded mean of n equal values); the deployment
    form, ``unpack_binary_state(..., deploy=True)``, is exact."""
    target = alpha.to(dtype).reshape(-1, *([1] * (signs.dim() - 1)))
    up, down = torch.full_like(target, torch.inf), torch.full_like(target, -torch.inf)
    candidates = [target, torch.nextafter(target, up), torch.nextafter(target, down)]
    candidates += [torch.nextafter(candidates[1], up), torch.nextafter(candidates[2], down)]
    best, best_err = target, torch.full_like(target, torch.inf)
    for a in candidates:
        err = (_alpha(signs * a) - target).abs()
        better = err < best_err
        best, best_err = torch.where(better, a, best), torch.where(better, err, best_err)
    return signs * best


def _check_entry(key: str, entry: Any, param: torch.Tensor) -> None:
    if not isinstance(entry, dict) or not {"bits", "shape", "numel", "alpha"} <= set(entry):
        raise ValueError(f"packed checkpoint: entry {key!r} is not a packed binary weight")
    shape, numel, bits, alpha = entry["shape"], entry["numel"], entry["bits"], entry["alpha"]
    if list(shape) != list(param.shape) or numel != param.numel():
        raise ValueError(f"packed checkpoint: {key!r} has shape {list(shape)}, the model {list(param.shape)}")
    if not isinstance(bits, torch.Tensor) or bits.dtype != torch.uint8 or bits.numel() != (numel + 7) // 8:
        raise ValueError(f"packed checkpoint: {key!r} bits are not {(numel + 7) // 8} uint8 bytes")
    if not isinstance(alpha, torch.Tensor) or alpha.numel() != shape[0]:
        raise ValueError(f"packed checkpoint: {key!r} alpha is not one float per output channel")


def unpack_binary_state(packed: Any, model: nn.Module, deploy: bool = False) -> nn.Module:
    """Load a :func:`pack_binary_state` dict into ``model`` (built from the same architecture).

    Binary conv weights become ``alpha * sign(W)``. Returns ``model`` (in place), whose forward
    recomputes ``alpha = mean |W|``: the signs are exact, ``alpha`` exact or a few float ulps off
    (see :func:`_latent`). With ``deploy=True`` returns ``deploy_model(model)`` holding exactly
    the packed ``+-alpha``: the eval outputs of the packed model, bit for bit. A dict that does
    not fit the model raises ``ValueError``.
    """
    if not isinstance(packed, dict) or packed.get("format") != PACKED_FORMAT:
        raise ValueError(f"packed checkpoint: not a {PACKED_FORMAT!r} dict")
    binary, tensors = packed.get("binary"), packed.get("tensors")
    if not isinstance(binary, dict) or not isinstance(tensors, dict):
        raise ValueError("packed checkpoint: missing 'binary' or 'tensors'")
    state = model.state_dict()
    convs = {f"{n}.weight" if n else "weight": n for n, m in model.named_modules() if isinstance(m, BinaryConv2d)}
    if set(binary) != set(convs):
        diff = sorted(set(binary) ^ set(convs))
        raise ValueError(f"packed checkpoint: binary weights do not match the model (e.g. {diff[0]!r})")
    new_state: dict[str, torch.Tensor] = {}
    exact: dict[str, torch.Tensor] = {}
    for key, entry in binary.items():
        param = state[key]
        _check_entry(key, entry, param)
        signs = torch.where(unpack_bits(entry["bits"], entry["numel"]), 1.0, -1.0).to(param.dtype)
        signs = signs.reshape(param.shape)
        alpha = entry["alpha"].to(param.dtype)
        new_state[key] = _latent(signs, alpha, param.dtype)
        exact[convs[key]] = signs * alpha.reshape(-1, *([1] * (signs.dim() - 1)))
    for key, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"packed checkpoint: {key!r} is not a tensor")
        new_state[key] = value
    try:
        model.load_state_dict(new_state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"packed checkpoint: does not fit the model ({' '.join(first[:2])[:300]})") from None
    if not deploy:
        return model
    deployed = deploy_model(model)
    modules = dict(deployed.named_modules())
    with torch.no_grad():
        for name, weight in exact.items():
            modules[name].weight.copy_(weight)
    return deployed


def packed_nbytes(packed: dict[str, Any]) -> dict[str, int]:
    """Bytes of tensor data in a packed dict: ``bits``, ``alpha``, ``tensors`` and the
    float32 size the binary weights had (``binary_float``)."""
    bits = sum(e["bits"].numel() for e in packed["binary"].values())
    alpha = sum(e["alpha"].numel() * e["alpha"].element_size() for e in packed["binary"].values())
    floats = sum(t.numel() * t.element_size() for t in packed["tensors"].values())
    binary_float = sum(4 * e["numel"] for e in packed["binary"].values())
    return {"bits": bits, "alpha": alpha, "tensors": floats, "binary_float": binary_float}
