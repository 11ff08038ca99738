"""Zero-cost proxies: score an untrained network from one minibatch.

Each proxy is registered by name and has the signature ``fn(model, x, y) -> float``
(higher should mean better). Every proxy works on a private copy of the model, so the
caller's weights, BN statistics and gradients are left as they were (a contract test
checks it). Adapted to binary networks:

* ``synflow`` (Tanaka et al. 2020) is computed on the network's *float twin*: binarizers
  become identities and binary convs use their latent weights, since an all-ones input
  through ``sign`` carries nothing and the binarizers' clipped gradients vanish at |x| > 1.
* ``naswot`` (Mellor et al. 2021) takes its binary codes from the binarizers' outputs (the
  network's own 1-bit activations) and from the ReLU/PReLU sign pattern.
* ``grad_norm``, ``snip`` (Lee et al. 2019) and ``jacob_cov`` use the network as it is,
  gradients through the binarizers' estimators.
* ``params`` and ``ops`` are the baselines: weight parameters, and OPs at the deployment
  input (224x224, 1000 classes), from the analytic counter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from search_space import BinaryActivation, BinaryConv2d, MobileNetBNN, analytic_cost

__all__ = ["BASELINES", "ZERO_COST", "float_twin", "register_zero_cost", "zero_cost_score"]

BASELINES = ("params", "ops")  # describe the architecture, not a trained or scored network

ZeroCostFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]
ZERO_COST: dict[str, ZeroCostFn] = {}


def register_zero_cost(name: str) -> Callable[[ZeroCostFn], ZeroCostFn]:
    def deco(fn: ZeroCostFn) -> ZeroCostFn:
        if name in ZERO_COST:
            raise ValueError(f"zero-cost proxy: name {name!r} is already registered")
        ZERO_COST[name] = fn
        return fn
    return deco


def float_twin(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every binary conv a float conv (same latent weights) and
    every binarizer an identity."""
    twin = copy.deepcopy(model)
    for module in list(twin.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, BinaryActivation):
                setattr(module, name, nn.Identity())
            elif isinstance(child, BinaryConv2d):
                conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                 child.padding, child.dilation, child.groups, child.bias is not None)
                conv.load_state_dict(child.state_dict())
                setattr(module, name, conv)
    return twin


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@register_zero_cost("grad_norm")
def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = copy.deepcopy(model).train()
    F.cross_entropy(net(x), y).backward()
    return float(sum(w.grad.norm().item() for w in _weights(net) if w.grad is not None))


@register_zero_cost("snip")
def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = copy.deepcopy(model).train()
    F.cross_entropy(net(x), y).backward()
    return float(sum((w * w.grad).abs().sum().item() for w in _weights(net) if w.grad is not None))


@register_zero_cost("synflow")
def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = float_twin(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    out = net(torch.ones_like(x[:1], dtype=torch.float64))
    out.sum().backward()
    total = sum((w * w.grad).abs().sum().item() for w in _weights(net) if w.grad is not None)
    # Scores span hundreds of orders of magnitude across architectures: rank on the log.
    return float(np.log(total)) if total > 0 else float("-inf")


@register_zero_cost("jacob_cov")
def jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = copy.deepcopy(model).train()
    x = x.clone().requires_grad_(True)
    net(x).sum().backward()
    jac = x.grad.reshape(len(x), -1).double()
    corr = torch.corrcoef(jac)
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr).clamp(min=0)
    k = 1e-5
    return float(-(torch.log(eig + k) + 1.0 / (eig + k)).sum().item())


@register_zero_cost("naswot")
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net = copy.deepcopy(model).train()
    codes: list[torch.Tensor] = []

    def hook(module, inputs, output):
        src = output if isinstance(module, BinaryActivation) else inputs[0]
        codes.append((src.detach() > 0).reshape(len(src), -1).double())

    for m in net.modules():
        if isinstance(m, BinaryActivation | nn.ReLU | nn.PReLU):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(x)
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet.item()) if sign > 0 else float("-inf")


@register_zero_cost("params")
def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    if isinstance(model, MobileNetBNN):
        return float(analytic_cost(model.arch).params)
    return float(sum(w.numel() for w in _weights(model)))


@register_zero_cost("ops")
def ops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    if not isinstance(model, MobileNetBNN):
        raise ValueError("zero-cost proxy 'ops' needs a model built by search_space.build_model")
    return float(analytic_cost(model.arch).ops())


def zero_cost_score(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Score ``model`` with the zero-cost proxy ``name`` on the batch ``(x, y)``."""
    if name not in ZERO_COST:
        raise ValueError(f"zero-cost proxy: unknown name {name!r} (choose from {', '.join(ZERO_COST)})")
    return ZERO_COST[name](model, x, y)
