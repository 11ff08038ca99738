"""OPs counted with fvcore: full-precision MACs + binary MACs / 64 (Bi-Real / ReActNet).

Counted on the built model at the deployment input (default 224x224, 1000 classes),
batch 1, eval mode. Two conventions:

* ``bireal`` (default): convolutions and the classifier only; BN, pooling and
  element-wise ops are not counted.
* ``with-bn``: also counts eval-mode BatchNorm as fvcore does (2 flops per element with
  an affine BN); the seed papers' own figures appear to include something of the kind.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from .arch import ArchConfig
from .binary import BinaryConv2d
from .builder import BuildOptions, build_model
from .cost import Cost

__all__ = ["CONVENTIONS", "LayerOps", "OpsReport", "count_ops", "count_model_ops"]

CONVENTIONS = ("bireal", "with-bn")


@dataclass(frozen=True)
class LayerOps:
    name: str
    type: str
    role: str  # stem, dw, pw, conv, fc, bn
    binary: bool
    macs: int
    ops: float
    params: int


@dataclass(frozen=True)
class OpsReport:
    arch: str
    convention: str
    resolution: int
    num_classes: int
    ops: float
    fp_macs: int
    binary_macs: int
    bn_flops: int
    params_fp: int
    params_binary: int
    params_other: int
    binary_scales: int
    size_bytes: int
    macs_by_role: dict[str, int] = field(default_factory=dict)
    layers: list[LayerOps] = field(default_factory=list)

    @property
    def params(self) -> int:
        return self.params_fp + self.params_binary

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = self.params
        return d


def _role(name: str, module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return "fc"
    if isinstance(module, nn.BatchNorm2d):
        return "bn"
    if name.startswith("stem"):
        return "stem"
    assert isinstance(module, nn.Conv2d)
    if module.kernel_size == (1, 1) and module.groups == 1:
        return "pw"
    if module.groups > 1:
        return "dw"
    return "conv"


def _count_nothing(inputs: list, outputs: list) -> Counter:
    return Counter()


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention: invalid value {convention!r} (choose from {', '.join(CONVENTIONS)})"
        )


def count_model_ops(
    model: nn.Module, resolution: int, convention: str = "bireal", arch: str = ""
) -> OpsReport:
    """Count a built model's OPs with fvcore at ``resolution`` x ``resolution``."""
    _check_convention(convention)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, 3, resolution, resolution)
        analysis = FlopCountAnalysis(model, x)
        # fvcore's set_op_handle(name, None) leaves a default handle in place (0.1.5):
        # install a handle that counts nothing instead.
        analysis.set_op_handle("aten::adaptive_avg_pool2d", _count_nothing)
        if convention == "bireal":
            analysis.set_op_handle("aten::batch_norm", _count_nothing)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        logger = logging.getLogger("fvcore")
        level = logger.level
        logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_module = analysis.by_module()
        logger.setLevel(level)
    finally:
        model.train(was_training)

    layers: list[LayerOps] = []
    fp = binary = bn = 0
    params_fp = params_bin = params_other = scales = 0
    by_role: dict[str, int] = {}
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        n_params = sum(p.numel() for p in module.parameters(recurse=False))
        is_bin = isinstance(module, BinaryConv2d)
        if is_bin:
            params_bin += n_params
            scales += module.out_channels
        elif isinstance(module, nn.Conv2d | nn.Linear):
            params_fp += n_params
        else:
            params_other += n_params
        macs = int(by_module.get(name, 0))
        if macs == 0 and not isinstance(module, nn.Conv2d | nn.Linear):
            continue
        role = _role(name, module)
        if role == "bn":
            bn += macs
        elif is_bin:
            binary += macs
        else:
            fp += macs
        if role != "bn":
            by_role[role] = by_role.get(role, 0) + macs
        layers.append(
            LayerOps(name, type(module).__name__, role, is_bin, macs,
                     macs / 64 if is_bin else float(macs), n_params)
        )
    num_classes = next(m.out_features for m in reversed(list(model.modules()))
                       if isinstance(m, nn.Linear))
    cost = Cost(fp, binary, bn, params_fp, params_bin, params_other, scales)
    return OpsReport(arch, convention, resolution, num_classes, cost.ops(convention == "with-bn"), fp, binary,
                     bn, params_fp, params_bin, params_other, scales, cost.size_bytes, by_role, layers)


def count_ops(
    arch: ArchConfig,
    resolution: int = 224,
    num_classes: int = 1000,
    convention: str = "bireal",
    options: BuildOptions | None = None,
) -> OpsReport:
    """Build ``arch`` at the deployment input and count its OPs with fvcore."""
    _check_convention(convention)
    model = build_model(arch, num_classes, resolution, options)
    return count_model_ops(model, resolution, convention, arch.encode())
