"""search_space.deploy: the float deployment form and the 1-bit packed state."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from search_space import PRESETS, BinaryActivation, BinaryConv2d, BuildOptions, build_model
from search_space.deploy import (
    PACKED_FORMAT,
    DeploySign,
    deploy_model,
    model_spec,
    pack_binary_state,
    pack_bits,
    packed_nbytes,
    unpack_binary_state,
    unpack_bits,
)

PRESET_NAMES = ["bin_mobilenet_sp", "mobinet_mid_k3_prelu", "bin_mobilenet_sp_crelu", "bin_mobilenet_l_all",
                "mobinet_post_k1_relu", "mobilenet_v1"]


def _model(name: str, seed: int = 0, sign_bias: bool = False) -> nn.Module:
    """A small build of preset ``name`` whose BN statistics, affine terms and sign biases are
    not the init values (so that they matter to the outputs)."""
    torch.manual_seed(seed)
    model = build_model(PRESETS[name].arch, 10, 32, BuildOptions(sign_bias=sign_bias))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, BinaryActivation) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    return model.eval()


def _x(seed: int = 1) -> torch.Tensor:
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_deploy_model_gives_the_eval_outputs(name):
    model = _model(name).train()
    deployed = deploy_model(model)
    assert model.training, "the original is left as it was"
    assert any(isinstance(m, BinaryConv2d) for m in model.modules()) == PRESETS[name].arch.is_binary
    assert not any(isinstance(m, BinaryConv2d | BinaryActivation) for m in deployed.modules())
    assert not deployed.training and not any(p.requires_grad for p in deployed.parameters())
    model.eval()
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), model(x))


def test_deployed_binary_convs_hold_plus_minus_alpha():
    model = _model("mobinet_mid_k3_prelu")
    deployed = dict(deploy_model(model).named_modules())
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, BinaryConv2d)]
    assert convs
    for name, conv in convs:
        plain = deployed[name]
        assert type(plain) is nn.Conv2d and plain.groups == conv.groups and plain.stride == conv.stride
        signs, alpha = conv.binary_weight()
        torch.testing.assert_close(plain.weight, signs.float() * alpha.view(-1, 1, 1, 1), rtol=0, atol=0)


def test_deploy_sign_is_x_ge_0_and_keeps_the_bias():
    x = torch.tensor([[-2.0, -1e-30, 0.0, 1e-30, 3.0]]).view(1, 1, 1, 5)
    assert DeploySign()(x).flatten().tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    shifted = DeploySign(torch.full((1, 1, 1, 1), -0.5))
    assert shifted(x).flatten().tolist() == [-1.0, -1.0, -1.0, -1.0, 1.0]


def test_deploy_keeps_learnable_sign_biases():
    model = _model("bin_mobilenet_sp", sign_bias=True)
    deployed = deploy_model(model)
    assert sum(isinstance(m, DeploySign) and m.bias is not None for m in deployed.modules()) > 0
    with torch.no_grad():
        torch.testing.assert_close(deployed(_x()), model(_x()))


@pytest.mark.parametrize("numel", [1, 7, 8, 13, 64, 1001])
def test_pack_bits_round_trip(numel):
    bits = torch.rand(numel, generator=torch.Generator().manual_seed(numel)) > 0.5
    packed = pack_bits(bits)
    assert packed.dtype == torch.uint8 and packed.numel() == (numel + 7) // 8
    assert torch.equal(unpack_bits(packed, numel), bits)


def test_pack_bits_order_is_msb_first():
    assert pack_bits(torch.tensor([True] + [False] * 7 + [True])).tolist() == [128, 128]


@pytest.mark.parametrize("name", ["bin_mobilenet_sp", "mobinet_mid_k3_prelu"])
def test_pack_unpack_round_trip_gives_the_same_outputs(name, tmp_path):
    model = _model(name, seed=0, sign_bias=True)
    packed = pack_binary_state(model)
    path = tmp_path / "packed.pt"
    torch.save(packed, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["format"] == PACKED_FORMAT and loaded["model"] == model_spec(model)
    fresh = _model(name, seed=123, sign_bias=True)  # other weights, same architecture
    restored = unpack_binary_state(loaded, fresh)
    assert restored is fresh
    x = _x()
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(restored(x), want)
        # the deployment form holds the packed +-alpha exactly: the very outputs, bit for bit
        exact = unpack_binary_state(loaded, _model(name, seed=7, sign_bias=True), deploy=True)
        assert torch.equal(exact(x), deploy_model(model)(x))
    for a, b in zip(model.modules(), fresh.modules(), strict=True):
        if isinstance(a, BinaryConv2d):
            (sa, alpha_a), (sb, alpha_b) = a.binary_weight(), b.binary_weight()
            assert torch.equal(sa, sb)
            torch.testing.assert_close(alpha_b, alpha_a, rtol=1e-6, atol=0)  # a few float ulps at most


def test_packed_binary_weights_are_32x_smaller():
    model = _model("bin_mobilenet_sp")
    packed = pack_binary_state(model)
    sizes = packed_nbytes(packed)
    n_binary = sum(m.weight.numel() for m in model.modules() if isinstance(m, BinaryConv2d))
    assert sizes["binary_float"] == 4 * n_binary
    assert sizes["bits"] == sum((e["numel"] + 7) // 8 for e in packed["binary"].values())
    assert 31.5 < sizes["binary_float"] / sizes["bits"] <= 32
    for entry in packed["binary"].values():
        assert entry["bits"].dtype == torch.uint8 and entry["alpha"].dtype == torch.float32
        assert isinstance(entry["numel"], int) and all(isinstance(s, int) for s in entry["shape"])
    assert not any(k in packed["tensors"] for k in packed["binary"])


def test_unpack_refuses_another_architecture_or_format():
    packed = pack_binary_state(_model("bin_mobilenet_sp"))
    with pytest.raises(ValueError, match="binary weights do not match"):
        unpack_binary_state(packed, _model("mobinet_mid_k3_prelu"))
    with pytest.raises(ValueError, match="not a"):
        unpack_binary_state({"format": "other"}, _model("bin_mobilenet_sp"))
    bad = dict(packed, tensors={k: v for k, v in packed["tensors"].items() if "classifier" not in k})
    with pytest.raises(ValueError, match="does not fit"):
        unpack_binary_state(bad, _model("bin_mobilenet_sp"))
    key = next(iter(packed["binary"]))
    truncated = dict(packed, binary=dict(packed["binary"], **{key: dict(packed["binary"][key],
                                                                      bits=packed["binary"][key]["bits"][:-1])}))
    with pytest.raises(ValueError, match="uint8 bytes"):
        unpack_binary_state(truncated, _model("bin_mobilenet_sp"))


def test_model_spec_records_the_build():
    model = build_model(PRESETS["bin_mobilenet_sp"].arch, 7, 48, BuildOptions(sign_bias=True))
    spec = model_spec(model)
    assert spec == {"arch": PRESETS["bin_mobilenet_sp"].arch.encode(), "num_classes": 7, "input_size": 48,
                    "options": {"sign_bias": True, "stem_stride": 1, "order": "post"}}
    with pytest.raises(ValueError, match="MobileNetBNN"):
        model_spec(nn.Linear(2, 2))
