"""Binary layers: forward values and backward gradients against the formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from search_space.binary import BinaryActivation, BinaryConv2d, binarize_weight, sign


def test_sign_maps_zero_to_plus_one():
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 3.0])
    assert sign(x).tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]


def test_sign_is_the_sign_bit_and_keeps_dtype():
    x = torch.tensor([-0.0, 0.0, float("-inf"), float("inf")], dtype=torch.float64)
    out = sign(x)
    assert out.dtype == torch.float64
    assert out.tolist() == [-1.0, 1.0, -1.0, 1.0]


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        # ApproxSign (Bi-Real): 2 - 2|x| on [-1, 1], 0 outside.
        ("approxsign", [0.0, 0.0, 1.0, 2.0, 1.0, 0.4, 0.0]),
        # clipped STE: 1 on [-1, 1], 0 outside.
        ("ste", [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
    ],
)
def test_activation_forward_and_gradient(estimator, expected):
    x = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.5, 0.8, 1.2], requires_grad=True)
    y = BinaryActivation(estimator=estimator)(x)
    assert y.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    y.backward(torch.ones_like(y))
    assert torch.allclose(x.grad, torch.tensor(expected))


def test_activation_gradient_is_scaled_by_upstream():
    x = torch.tensor([0.25], requires_grad=True)
    BinaryActivation()(x).backward(torch.tensor([3.0]))
    assert x.grad.item() == pytest.approx(3.0 * (2 - 2 * 0.25))


def test_learnable_bias_shifts_before_sign_and_gets_gradient():
    act = BinaryActivation(2, learnable_bias=True)
    with torch.no_grad():
        act.bias.copy_(torch.tensor([0.5, -0.5]).view(1, 2, 1, 1))
    x = torch.full((1, 2, 1, 1), -0.25, requires_grad=True)
    y = act(x)
    assert y.flatten().tolist() == [1.0, -1.0]
    y.sum().backward()
    # x + b = 0.25 and -0.75: ApproxSign gives 1.5 and 0.5.
    assert act.bias.grad.flatten().tolist() == pytest.approx([1.5, 0.5])


def test_activation_rejects_unknown_estimator():
    with pytest.raises(ValueError, match="estimator"):
        BinaryActivation(estimator="tanh")


def test_binarize_weight_forward_is_alpha_times_sign():
    w = torch.tensor([[[[0.5, -1.5]]], [[[0.0, -0.2]]]], requires_grad=True)  # (2, 1, 1, 2)
    wb = binarize_weight(w)
    # alpha = mean |W| per output channel: 1.0 and 0.1.
    assert wb.detach().flatten().tolist() == pytest.approx([1.0, -1.0, 0.1, -0.1])
    wb.backward(torch.ones_like(wb))
    # clipped STE: gradient 1 where |W| <= 1, 0 where |W| > 1; alpha is detached.
    assert w.grad.flatten().tolist() == [1.0, 0.0, 1.0, 1.0]


def test_binarize_weight_equals_the_detach_trick():
    torch.manual_seed(0)
    w = (torch.randn(8, 4, 3, 3) * 0.8).requires_grad_()
    ref_w = w.detach().clone().requires_grad_()
    alpha = ref_w.abs().mean(dim=(1, 2, 3), keepdim=True).detach()
    clipped = ref_w.clamp(-1.0, 1.0)
    ref = (alpha * torch.where(ref_w >= 0, 1.0, -1.0)).detach() - clipped.detach() + clipped
    out = binarize_weight(w)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    out.backward(g)
    ref.backward(g)
    torch.testing.assert_close(w.grad, ref_w.grad)


def test_binary_conv_matches_reference_and_supports_groups():
    torch.manual_seed(0)
    conv = BinaryConv2d(4, 4, 3, padding=1, groups=2, bias=False)
    x = sign(torch.randn(2, 4, 5, 5))
    w = conv.weight.detach()
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    ref = F.conv2d(x, alpha * torch.where(w >= 0, 1.0, -1.0), padding=1, groups=2)
    assert torch.allclose(conv(x), ref, atol=1e-6)
    assert isinstance(conv, torch.nn.Conv2d)


def test_binary_conv_deployed_weights_reproduce_forward():
    torch.manual_seed(1)
    conv = BinaryConv2d(3, 5, 1, bias=False)
    bits, alpha = conv.binary_weight()
    assert bits.dtype == torch.int8 and set(bits.unique().tolist()) <= {-1, 1}
    x = sign(torch.randn(1, 3, 4, 4))
    ref = F.conv2d(x, bits.float() * alpha.view(-1, 1, 1, 1))
    assert torch.allclose(conv(x), ref, atol=1e-6)


def test_binary_conv_gradient_reaches_latent_weights():
    torch.manual_seed(2)
    conv = BinaryConv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[0.3, -2.0], [0.1, 0.4]]).view(2, 2, 1, 1))
    x = torch.ones(1, 2, 1, 1)
    conv(x).sum().backward()
    # d out / d W_hat = x = 1; clipped STE passes it where |W| <= 1.
    assert conv.weight.grad.flatten().tolist() == [1.0, 0.0, 1.0, 1.0]
