"""Blocks and builder: structure of every seed design, every preset runs, binarizers see
both signs."""

from __future__ import annotations

import pytest
import torch

from search_space import PRESETS, SEED_PRESETS, ArchConfig, BuildOptions, StageConfig, build_model, dw_groups
from search_space.binary import BinaryActivation, BinaryConv2d
from search_space.blocks import Block, BlockOptions, Unit, UnitPlan
from search_space.skeleton import BlockSpec, skeleton

UNIQUE_PRESETS = sorted({p.arch.encode(): name for name, p in PRESETS.items()}.values())


def _block(stage: StageConfig, cin=32, cout=64, stride=2, size=8) -> Block:
    spec = BlockSpec(0, cin, cout, stride, size, (size + 1) // 2 if stride == 2 else size)
    return Block(spec, stage, BlockOptions())


def _count(module, cls):
    return sum(isinstance(m, cls) for m in module.modules())


@pytest.mark.parametrize(
    ("stage", "n_binary_convs", "n_convs"),
    [
        (StageConfig("cascade", binary_scope="pw"), 1, 2),
        (StageConfig("cascade", binary_scope="all"), 2, 2),
        (StageConfig("cascade", binary_scope="none"), 0, 2),
        (StageConfig("parallel", expansion="copy"), 1, 2),
        (StageConfig("both", expansion="2xdw"), 1, 3),
        (StageConfig("cascade", "pre", binary_scope="all"), 3, 3),
        (StageConfig("cascade", "mid", binary_scope="pw"), 2, 3),
        (StageConfig("parallel", "post", expansion="crelu"), 2, 3),
    ],
)
def test_block_structure(stage, n_binary_convs, n_convs):
    block = _block(stage)
    assert _count(block, BinaryConv2d) == n_binary_convs
    assert _count(block, torch.nn.Conv2d) == n_convs
    y = block(torch.randn(2, 32, 8, 8))
    assert y.shape == (2, 64, 4, 4)


@pytest.mark.parametrize("topology", ["cascade", "parallel", "both"])
@pytest.mark.parametrize("placement", ["none", "pre", "mid", "post"])
@pytest.mark.parametrize(("cin", "cout", "stride"), [(24, 48, 2), (48, 88, 2), (64, 64, 1)])
def test_every_block_shape(topology, placement, cin, cout, stride):
    stage = StageConfig(topology, placement, 2, "2xdw", "prelu", "all")
    y = _block(stage, cin, cout, stride, 7)(torch.randn(2, cin, 7, 7))
    assert y.shape == (2, cout, 4 if stride == 2 else 7, 4 if stride == 2 else 7)


def test_k_dependency_groups():
    assert dw_groups(64, 0) == 64
    assert dw_groups(64, 3) == 8
    assert dw_groups(1024, 4) == 64
    assert dw_groups(24, 4) == 3  # 24 is not a multiple of 16: group size gcd(24, 16) = 8
    block = _block(StageConfig("cascade", k=3, binary_scope="all"))
    dw = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert dw[0].groups == 32 // 8


def test_crelu_expansion_is_relu_of_both_signs():
    plan = UnitPlan("dw", 3, 6, 1, 4, False, "crelu", 0, "relu")
    unit = Unit(plan, BlockOptions(order="post")).eval()
    x = torch.randn(1, 3, 4, 4)
    d = unit.conv(x)
    y = unit(x)  # BN at init in eval mode is the identity
    assert torch.allclose(y[:, :3], torch.relu(d), atol=1e-5)
    assert torch.allclose(y[:, 3:], torch.relu(-d), atol=1e-5)


def test_2xdw_has_a_kernel_per_output_channel_and_copy_duplicates():
    two = Unit(UnitPlan("dw", 3, 6, 1, 4, False, "2xdw", 0, "relu"), BlockOptions("pre"))
    assert two.conv.weight.shape == (6, 1, 3, 3)
    copy = Unit(UnitPlan("dw", 3, 6, 1, 4, False, "copy", 0, "relu"), BlockOptions("pre")).eval()
    y = copy(torch.randn(1, 3, 4, 4))
    assert torch.allclose(y[:, :3], y[:, 3:])


def test_skips_cross_strides_by_average_pooling():
    block = _block(StageConfig("cascade", "mid", binary_scope="all"), 32, 32, 2, 8)
    assert any(isinstance(m, torch.nn.AvgPool2d) for m in block.pools)
    assert block(torch.randn(1, 32, 8, 8)).shape == (1, 32, 4, 4)


def test_skeleton_sizes_and_depth():
    arch = PRESETS["bin_mobilenet_sp_w1.0_d2"].arch
    sk = skeleton(arch, 224)
    assert sk.stem_stride == 2 and sk.blocks[-1].out_size == 7
    assert len(sk.blocks) == 13 + 9  # nine stride-1 blocks, each repeated
    small = skeleton(arch, 32)
    assert small.stem_stride == 1 and small.blocks[-1].out_size == 2
    with pytest.raises(ValueError, match="input_size"):
        skeleton(arch, 4)


@pytest.mark.slow
@pytest.mark.parametrize("name", UNIQUE_PRESETS)
def test_every_preset_runs_forward_and_backward(name):
    torch.manual_seed(0)
    arch = PRESETS[name].arch
    # the deployment size for the seed models; the other presets (the same blocks in other mixes) at 64 px
    large = 224 if name in (*SEED_PRESETS, "mobilenet_v1") else 64
    for size, classes in ((32, 10), (large, 1000)):
        model = build_model(arch, classes, size)
        out = model(torch.randn(2, 3, size, size))
        assert out.shape == (2, classes) and torch.isfinite(out).all()
        out.logsumexp(1).mean().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum().item() > 0 for g in grads) > 0.9 * len(grads)


def _sign_balance(model, x):
    """Fraction of non-negative inputs seen by every binarizer during a training forward."""
    fractions = {}

    def hook(name):
        def fn(module, inputs):
            fractions[name] = (inputs[0] >= 0).float().mean().item()
        return fn

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, BinaryActivation)]
    model.train()
    model(x)
    for h in handles:
        h.remove()
    return fractions


def _one_sided(fractions, tol=0.02):
    return {n: f for n, f in fractions.items() if f < tol or f > 1 - tol}


BINARY_PRESETS = [n for n in UNIQUE_PRESETS if PRESETS[n].arch.is_binary]


@pytest.mark.parametrize("name", BINARY_PRESETS)
def test_every_binarizer_sees_both_signs(name):
    torch.manual_seed(0)
    model = build_model(PRESETS[name].arch, 10, 32)
    fractions = _sign_balance(model, torch.randn(16, 3, 32, 32))
    assert fractions, "a binary preset must have binarizers"
    assert not _one_sided(fractions), _one_sided(fractions)


def test_sign_balance_check_catches_sign_after_relu():
    """The check above can fail: conv -> BN -> ReLU -> sign feeds +1 everywhere."""
    torch.manual_seed(0)
    arch = PRESETS["bin_mobilenet_l"].arch
    model = build_model(arch, 10, 32, BuildOptions(order="pre"))
    fractions = _sign_balance(model, torch.randn(16, 3, 32, 32))
    assert len(_one_sided(fractions)) == len(fractions)


def test_build_rejects_bad_input():
    arch = ArchConfig.uniform(StageConfig())
    with pytest.raises(ValueError, match="num_classes"):
        build_model(arch, 0)
    with pytest.raises(ValueError, match="order"):
        BuildOptions(order="sideways")
