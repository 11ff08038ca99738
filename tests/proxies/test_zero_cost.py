"""The contract every zero-cost proxy passes: finite, deterministic under a seed, leaves the
model untouched."""

from __future__ import annotations

import math

import pytest
import torch

from proxies import ZERO_COST, float_twin, register_zero_cost, zero_cost_score
from search_space import PRESETS, BinaryActivation, BinaryConv2d, build_model

ARCHS = ["bin_mobilenet_sp", "mobinet_mid_k3_prelu", "bin_mobilenet_ls", "mobilenet_v1"]


def _model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(PRESETS[name].arch, 10, 32)


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)


@pytest.mark.parametrize("proxy", sorted(ZERO_COST))
@pytest.mark.parametrize("arch", ARCHS)
def test_zero_cost_contract(proxy, arch):
    model = _model(arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _batch()
    score = zero_cost_score(proxy, model, x, y)
    assert isinstance(score, float) and math.isfinite(score)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights or BN stats changed"
    assert all(p.grad is None for p in model.parameters()), "gradients left behind"
    assert model.training  # mode untouched
    again = zero_cost_score(proxy, _model(arch), *_batch())
    assert again == pytest.approx(score, rel=1e-6, abs=1e-9)


def test_scores_tell_architectures_apart():
    x, y = _batch()
    for proxy in ("params", "ops", "synflow", "naswot", "snip", "grad_norm"):
        scores = {a: zero_cost_score(proxy, _model(a), x, y) for a in ARCHS}
        assert len(set(scores.values())) == len(ARCHS), (proxy, scores)


def test_float_twin_has_no_binary_layers_and_same_weights():
    model = _model("bin_mobilenet_sp")
    twin = float_twin(model)
    assert not any(isinstance(m, BinaryConv2d | BinaryActivation) for m in twin.modules())
    assert any(isinstance(m, BinaryConv2d) for m in model.modules())
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), twin.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)


def test_unknown_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown name 'magic'"):
        zero_cost_score("magic", _model("mobilenet_v1"), *_batch())
    with pytest.raises(ValueError, match="already registered"):
        register_zero_cost("snip")(lambda m, x, y: 0.0)
