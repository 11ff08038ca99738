"""nas.deploy.checkpoint: packed checkpoints that load with torch.load(weights_only=True)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from nas.deploy.checkpoint import CHECKPOINT_FORMAT, load_packed, load_weights, read_checkpoint, save_packed
from search_space import PRESETS, BinaryActivation, BuildOptions, build_model, deploy_model


class _NotData:
    """An object a weights_only load must refuse."""


def _trained(name: str, num_classes: int = 10, size: int = 32, sign_bias: bool = False, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(PRESETS[name].arch, num_classes, size, BuildOptions(sign_bias=sign_bias))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
            elif isinstance(m, BinaryActivation) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    return model.eval()


def _x() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize(("name", "sign_bias"), [("mobinet_mid_k3_prelu", False), ("bin_mobilenet_sp", True)])
def test_save_and_load_packed_give_the_same_outputs(name, sign_bias, tmp_path):
    model = _trained(name, sign_bias=sign_bias)
    path = save_packed(model, tmp_path / "m.pt", {"epoch": 3, "top1": 0.5, "tags": ["a", "b"]})
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["format"] == CHECKPOINT_FORMAT
    assert raw["meta"]["arch"] == PRESETS[name].arch.encode() and raw["meta"]["epoch"] == 3
    loaded, meta = load_packed(path)  # builds the model from the recorded arch and options
    assert meta["top1"] == 0.5 and meta["tags"] == ["a", "b"] and meta["num_classes"] == 10
    assert meta["options"]["sign_bias"] is sign_bias and not loaded.training
    x = _x()
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(loaded(x), want)
        exact, _ = load_packed(path, arch=PRESETS[name].arch, deploy=True)
        assert torch.equal(exact(x), deploy_model(model)(x))


def test_packed_file_is_much_smaller_than_the_float_one(tmp_path):
    model = _trained("bin_mobilenet_sp", num_classes=10)
    torch.save(model.state_dict(), tmp_path / "float.pt")
    save_packed(model, tmp_path / "packed.pt")
    float_size = (tmp_path / "float.pt").stat().st_size
    packed_size = (tmp_path / "packed.pt").stat().st_size
    assert packed_size * 6 < float_size, (packed_size, float_size)  # ~11.4 MiB -> ~1.0 MiB


def test_load_packed_refuses_another_arch_and_bad_files(tmp_path):
    path = save_packed(_trained("bin_mobilenet_sp"), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="saved for"):
        load_packed(path, arch=PRESETS["mobinet_mid_k3_prelu"].arch.encode())
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="weights_only"):
        load_packed(tmp_path / "junk.pt")
    torch.save({"evil": _NotData()}, tmp_path / "obj.pt")
    with pytest.raises(ValueError, match="weights_only"):
        read_checkpoint(tmp_path / "obj.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a packed checkpoint"):
        load_packed(tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="does not exist"):
        load_packed(tmp_path / "missing.pt")


def test_save_packed_checks_meta(tmp_path):
    model = _trained("bin_mobilenet_sp")
    with pytest.raises(ValueError, match="not plain data"):
        save_packed(model, tmp_path / "m.pt", {"bad": _NotData()})
    with pytest.raises(ValueError, match="disagrees"):
        save_packed(model, tmp_path / "m.pt", {"num_classes": 3})
    assert not (tmp_path / "m.pt").exists() and not list(tmp_path.iterdir())


def test_load_weights_takes_state_dicts_and_train_checkpoints(tmp_path):
    model = _trained("mobinet_mid_k3_prelu", seed=1)
    x = _x()
    with torch.no_grad():
        want = model(x)
    for payload in (model.state_dict(), {"format": "binas-train/1", "arch": "x", "model": model.state_dict()}):
        torch.save(payload, tmp_path / "w.pt")
        fresh = _trained("mobinet_mid_k3_prelu", seed=2)
        loaded, meta = load_weights(read_checkpoint(tmp_path / "w.pt"), fresh)
        assert loaded is fresh and meta == {}
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), want)
    with pytest.raises(ValueError, match="does not fit"):
        load_weights(model.state_dict(), _trained("mobinet_mid_k3_prelu", num_classes=5))
    with pytest.raises(ValueError, match="neither"):
        load_weights({"a": 1}, model)

