"""nas.export: arch.json with checked OPs, model.onnx of the deployment model, packed checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas.deploy.checkpoint import load_packed, read_checkpoint, save_packed
from nas.deploy.export import EMULATION_NOTE, main
from search_space import PRESETS, ArchConfig, BuildOptions, analytic_cost, build_model, deploy_model

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--resolution", "64", "--num-classes", "10"]


def _check_arch_json(out: Path, arch: ArchConfig, resolution: int, num_classes: int) -> dict:
    data = json.loads((out / "arch.json").read_text())
    assert ArchConfig.from_dict(data) == arch and data["arch"] == arch.encode()
    cost = analytic_cost(arch, num_classes, resolution)
    assert data["ops"] == pytest.approx(cost.ops()) and data["fp_macs"] == cost.fp_macs
    assert data["binary_macs"] == cost.binary_macs and data["params"] == cost.params
    assert data["size_bytes"] == cost.size_bytes
    assert (data["resolution"], data["num_classes"]) == (resolution, num_classes)
    return data


def test_export_preset_writes_arch_json_and_onnx(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    arch = PRESETS["mobinet_mid_k3_prelu"].arch
    assert main(["mobinet_mid_k3_prelu", "--out", str(tmp_path / "exp"), *SMALL]) == 0
    out = capsys.readouterr().out
    data = _check_arch_json(tmp_path / "exp", arch, 64, 10)
    assert f"OPs {data['ops'] / 1e6:.2f}M" in out and "emulated in float" in out and "model.onnx" in out
    assert data["onnx"]["binary_emulation"] == EMULATION_NOTE and data["onnx"]["opset"] == 17
    model = onnx.load(str(tmp_path / "exp" / "model.onnx"))
    onnx.checker.check_model(model)
    (inp,), (outp,) = model.graph.input, model.graph.output
    assert inp.name == "image" and outp.name == "logits"
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 64, 64]
    assert [d.dim_value for d in outp.type.tensor_type.shape.dim] == [1, 10]
    assert {"Where", "GreaterOrEqual"} <= {n.op_type for n in model.graph.node}  # the +-1 activations


def test_export_arch_string_default_deployment_input(tmp_path, capsys):
    arch = PRESETS["bin_mobilenet_sp"].arch
    assert main([arch.encode(), "--out", str(tmp_path), "--no-onnx"]) == 0
    _check_arch_json(tmp_path, arch, 224, 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arch.json"]
    assert "44.68M" in capsys.readouterr().out  # MobileNet-Sp binary at 224x224, 1000 classes


def test_export_results_folder_uses_best_arch_json(tmp_path, capsys):
    arch = PRESETS["mobinet_post_k1_relu"].arch
    run = tmp_path / "results" / "run1"
    run.mkdir(parents=True)
    extra = {"ops": 1.0, "proxy_top1": 0.4, "budget": 5e7, "resolution": 48, "num_classes": 10, "trial": 3}
    (run / "best_arch.json").write_text(json.dumps(arch.to_dict() | extra))
    out = tmp_path / "exported"
    assert main([str(run), "--out", str(out), "--no-onnx"]) == 0
    _check_arch_json(out, arch, 48, 10)  # the search's deployment input is the default
    assert main([str(run), "--out", str(out), "--no-onnx", "--resolution", "32"]) == 0
    _check_arch_json(out, arch, 32, 10)
    assert "best_arch.json" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["bin_mobilenet_sp", "mobinet_mid_k3_prelu"])
def test_export_checkpoint_packed_and_onnx_outputs(name, tmp_path):
    pytest.importorskip("onnx")
    torch.manual_seed(5)
    model = build_model(PRESETS[name].arch, 10, 32).eval()
    with torch.no_grad():  # trained-looking BN: no activation sits exactly on a sign's threshold
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.bias.normal_(0, 0.1)
    torch.save({"format": "binas-train/1", "arch": model.arch.encode(), "model": model.state_dict()},
               tmp_path / "best.pt")
    out = tmp_path / "exp"
    assert main([name, "--out", str(out), "--resolution", "32", "--num-classes", "10",
                 "--checkpoint", str(tmp_path / "best.pt")]) == 0
    assert json.loads((out / "arch.json").read_text())["checkpoint"] == "checkpoint.packed.pt"
    assert read_checkpoint(out / "checkpoint.packed.pt")["meta"]["arch"] == model.arch.encode()  # weights_only
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    loaded, _ = load_packed(out / "checkpoint.packed.pt", deploy=True)
    with torch.no_grad():
        want = model(x)
        assert torch.equal(loaded(x), deploy_model(model)(x))
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(["logits"], {"image": x.numpy()})[0])
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_export_re_saves_a_packed_checkpoint_bit_for_bit(tmp_path):
    model = build_model(PRESETS["mobinet_mid_k3_prelu"].arch, 10, 32).eval()
    src = save_packed(model, tmp_path / "in.pt", {"epoch": 7})
    assert main(["mobinet_mid_k3_prelu", "--out", str(tmp_path / "exp"), "--no-onnx", "--checkpoint", str(src)]) == 0
    _check_arch_json(tmp_path / "exp", model.arch, 32, 10)  # the checkpoint's input and classes by default
    before, after = read_checkpoint(src), read_checkpoint(tmp_path / "exp" / "checkpoint.packed.pt")
    assert after["meta"]["epoch"] == 7
    for key, entry in before["packed"]["binary"].items():
        assert torch.equal(entry["bits"], after["packed"]["binary"][key]["bits"])
        assert torch.equal(entry["alpha"], after["packed"]["binary"][key]["alpha"])


def test_export_state_dict_with_sign_biases(tmp_path):
    model = build_model(PRESETS["bin_mobilenet_sp"].arch, 10, 32, BuildOptions(sign_bias=True))
    torch.save({"format": "binas-train/1", "arch": model.arch.encode(), "model": model.state_dict(),
                "settings": {"resolution": 32, "classes": [str(i) for i in range(10)]}}, tmp_path / "last.pt")
    assert main(["bin_mobilenet_sp", "--out", str(tmp_path / "exp"), "--no-onnx", "--checkpoint",
                 str(tmp_path / "last.pt")]) == 0
    data = json.loads((tmp_path / "exp" / "arch.json").read_text())
    cost = analytic_cost(model.arch, 10, 32, BuildOptions(sign_bias=True))
    assert data["sign_bias"] is True and data["size_bytes"] == cost.size_bytes and data["resolution"] == 32
    loaded, meta = load_packed(tmp_path / "exp" / "checkpoint.packed.pt")
    assert meta["options"]["sign_bias"] is True and meta["source"].endswith("last.pt")


def _bad_source(tmp_path: Path, kind: str) -> list[str]:
    if kind == "malformed":
        (tmp_path / "a.json").write_text('{"stages": [')
        return [str(tmp_path / "a.json")]
    if kind == "list":
        (tmp_path / "a.json").write_text("[1, 2]")
        return [str(tmp_path / "a.json")]
    if kind == "no_best":
        (tmp_path / "run").mkdir()
        return [str(tmp_path / "run")]
    return {"unknown": ["no_such_preset"], "opset": ["bin_mobilenet_sp", "--opset", "5"],
            "resolution": ["bin_mobilenet_sp", "--resolution", "4"], "option": ["bin_mobilenet_sp", "--bogus"],
            "missing_ckpt": ["bin_mobilenet_sp", "--checkpoint", str(tmp_path / "none.pt")]}[kind]


@pytest.mark.parametrize(("kind", "needle"), [
    ("unknown", "no_such_preset"), ("malformed", "not valid JSON"), ("list", "expected an object"),
    ("no_best", "best_arch.json"), ("opset", "--opset"), ("resolution", "--resolution"), ("option", "--bogus"),
    ("missing_ckpt", "none.pt"),
])
def test_bad_input_is_one_line_exit_2(kind, needle, tmp_path, capsys):
    args = _bad_source(tmp_path, kind)
    assert main([*args[:1], "--out", str(tmp_path / "out"), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err and "Traceback" not in err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("keep")
    assert main(["bin_mobilenet_sp", "--out", str(tmp_path / "f"), "--no-onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err and (tmp_path / "f").read_text() == "keep"


def test_symlink_escaping_the_out_folder_is_refused(tmp_path, capsys):
    victim = tmp_path / "elsewhere.json"
    victim.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "arch.json").symlink_to(victim)
    assert main(["bin_mobilenet_sp", "--out", str(out), "--no-onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symlink" in err and victim.read_text() == "keep"
    (out / "arch.json").unlink()
    (out / "model.onnx").symlink_to(tmp_path / "not-there.onnx")  # dangling, still outside
    assert main(["bin_mobilenet_sp", "--out", str(out)]) == 2
    assert "symlink" in capsys.readouterr().err and not (tmp_path / "not-there.onnx").exists()
    assert not (out / "arch.json").exists()


def test_checkpoint_of_another_architecture_is_refused(tmp_path, capsys):
    save_packed(build_model(PRESETS["bin_mobilenet_sp"].arch, 10, 32), tmp_path / "c.pt")
    assert main(["mobinet_mid_k3_prelu", "--out", str(tmp_path / "o"), "--no-onnx", "--num-classes", "10",
                 "--checkpoint", str(tmp_path / "c.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "saved for" in err
    torch.save(build_model(PRESETS["bin_mobilenet_sp"].arch, 10, 32).state_dict(), tmp_path / "sd.pt")
    assert main(["bin_mobilenet_sp", "--out", str(tmp_path / "o"), "--no-onnx", "--num-classes", "1000",
                 "--checkpoint", str(tmp_path / "sd.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit" in err
    torch.save({"format": "binas-train/1", "arch": PRESETS["bin_mobilenet_l"].arch.encode(), "model": {}},
               tmp_path / "t.pt")
    assert main(["bin_mobilenet_sp", "--out", str(tmp_path / "o2"), "--checkpoint", str(tmp_path / "t.pt")]) == 2
    assert "trained for" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_unwritable_out_is_refused(unwritable_dir, capsys):
    for out in (unwritable_dir, unwritable_dir / "new"):
        assert main(["bin_mobilenet_sp", "--out", str(out), "--no-onnx"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--out: {str(out)!r} is not writable" in err
    assert not (unwritable_dir / "new").exists()


@pytest.mark.slow
def test_module_entry_point_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nas.export", "no_such_preset", "--out", str(tmp_path / "o")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no_such_preset" in proc.stderr
    assert not (tmp_path / "o").exists()
