"""A bad BINAS_CPU_FORMAT is refused by every command that trains: one line naming it, exit code 2,
before any data loads or any output folder is made."""

from __future__ import annotations

import importlib

import pytest

from search_space.cli import run_cli

COMMANDS = {
    "nas.search": (lambda mp: lambda argv: run_cli(importlib.import_module("nas.search").main, argv),
                   ["--budget", "50M"]),
    "nas.train": (lambda mp: importlib.import_module("nas.deploy.train").main, ["bin_mobilenet_sp"]),
    "nas.analyze edf": (lambda mp: importlib.import_module("nas.analyze").main, ["edf", "--budget", "50M"]),
    "nas.analyze claims": (lambda mp: importlib.import_module("nas.analyze").main, ["claims"]),
    "proxies.evaluate": (lambda mp: importlib.import_module("proxies.evaluate").main, ["bin_mobilenet_sp"]),
    "proxies.reference": (lambda mp: importlib.import_module("proxies.reference").main, []),
    "proxies.calibrate": (lambda mp: importlib.import_module("proxies.calibrate").main, ["--proxy", "synflow"]),
    "benchmarks/fidelity.py": (lambda mp: importlib.import_module("proxies.calibration.fidelity_bench").main, []),
    "benchmarks/replay_noise.py": (lambda mp: importlib.import_module("proxies.calibration.replay_noise").main,
                                   ["--runs", "RUNS"]),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_bad_cpu_format_is_one_line_and_exit_2(name, tmp_path, image_folder, monkeypatch, capsys):
    monkeypatch.setenv("BINAS_CPU_FORMAT", "nhcw")
    monkeypatch.chdir(tmp_path)
    get_main, args = COMMANDS[name]
    out = tmp_path / "out"
    args = [str(tmp_path / "runs.csv") if a == "RUNS" else a for a in args]
    if name == "benchmarks/replay_noise.py":
        (tmp_path / "runs.csv").write_text("kind,fidelity,seed,arch,val_top1,sotl_e,score,cpu_seconds,seconds,"
                                           "diverged\n")
        args += ["--out", str(out)]
    elif name == "proxies.evaluate":  # writes no folder
        args += ["--data-dir", str(image_folder)]
    elif name == "proxies.calibrate":
        args += ["--data-dir", str(image_folder), "--out", str(out / "cal.csv")]
    else:
        args += ["--data-dir", str(image_folder), "--out", str(out)]
    rc = get_main(monkeypatch)(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and "BINAS_CPU_FORMAT" in err[0] and "'nhcw'" in err[0], err
    assert not out.exists()
