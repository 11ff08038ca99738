"""python -m proxies.evaluate: zero-cost and training proxies on a small image folder, and
bad input as one line with exit code 2."""

from __future__ import annotations

import json

import pytest

from proxies.scoring.evaluate import PROXIES, main

SMALL = ["--train-subset", "100", "--val-size", "50", "--width-scale", "0.25"]


def test_zero_cost_proxy_json(image_folder, capsys):
    assert main(["bin_mobilenet_sp", "--data-dir", str(image_folder), "--proxy", "synflow", "--json", *SMALL]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["proxy"] == "synflow" and out["preset"] == "bin_mobilenet_sp"
    assert out["ops"] == pytest.approx(44.68e6, rel=1e-3)
    assert isinstance(out["score"], float)


def test_training_proxy_json_and_progress(image_folder, capsys):
    args = ["w1.0-d1:S-none-k0-copy-relu-pw", "--data-dir", str(image_folder), "--epochs", "1", "--json", *SMALL]
    assert main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["epochs_done"] == 1 and 0.0 <= out["score"] <= 1.0 and out["score"] == out["val_top1"]
    assert out["preset"] is None and not out["diverged"]
    assert "epoch 1: val top-1" in captured.err  # progress on stderr


def test_env_var_data_dir(image_folder, monkeypatch, capsys):
    monkeypatch.setenv("NAS_DATA_DIR", str(image_folder))
    assert main(["mobilenet_v1", "--proxy", "params", *SMALL]) == 0
    assert "params score" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope", "--proxy", "params"], "nope"),
        (["mobilenet_v1", "--proxy", "magic"], "magic"),
        (["mobilenet_v1", "--fidelity", "extreme"], "extreme"),
        (["mobilenet_v1", "--epochs", "0"], "epochs"),
        (["mobilenet_v1", "--data-dir", "/does/not/exist", "--proxy", "params"], "/does/not/exist"),
        (["mobilenet_v1", "--train-subset", "100000", "--val-size", "50", "--proxy", "params"], "--train-subset"),
    ],
)
def test_bad_input_one_line_exit_2(args, needle, image_folder, capsys):
    if "--data-dir" not in args:
        args = [*args, "--data-dir", str(image_folder)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_bad_memory_format_one_line_exit_2(image_folder, monkeypatch, capsys):
    monkeypatch.setenv("BINAS_CPU_FORMAT", "nhcw")
    assert main(["mobilenet_v1", "--data-dir", str(image_folder), *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BINAS_CPU_FORMAT" in err[0] and "'nhcw'" in err[0]


def test_proxy_names():
    assert PROXIES[0] == "train" and {"synflow", "snip", "grad_norm", "jacob_cov", "naswot"} <= set(PROXIES)


@pytest.mark.parametrize("args", [["nope"], ["mobilenet_v1", "--device", "cuda:7"], ["mobilenet_v1", "--seed", "-1"]])
def test_module_entry_point_one_line_exit_2(args, image_folder):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "proxies.evaluate", *args, "--data-dir", str(image_folder)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("error: ")


def test_baselines_describe_the_architecture_not_the_scaled_network(synthetic_data):
    from proxies import Fidelity, run_proxy
    from search_space import PRESETS, analytic_cost

    arch = PRESETS["bin_mobilenet_sp"].arch
    f = Fidelity(epochs=1, train_subset=400, val_size=100, width_scale=0.5)
    assert run_proxy(arch, "ops", f, synthetic_data)["score"] == analytic_cost(arch).ops()
    assert run_proxy(arch, "params", f, synthetic_data)["score"] == analytic_cost(arch).params
