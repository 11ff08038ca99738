"""A user's own data set, end to end: a folder of class folders with no split, photos of mixed
sizes and modes, one truncated file (tests/conftest.py: write_messy_folder). proxies.scoring.evaluate, a
smoke nas.search, nas.export and one epoch of nas.train all run on it as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TINY = "w0.5-d1:S-none-k0-2xdw-relu-pw"


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_a_truncated_file_is_one_line_naming_it_and_nothing_is_written(messy_folder, tmp_path):
    out = tmp_path / "search"
    for cmd in (["proxies.evaluate", TINY, "--data-dir", str(messy_folder), "--epochs", "1"],
                ["nas.search", "--budget", "50M", "--data-dir", str(messy_folder), "--fidelity", "smoke",
                 "--out", str(out)]):
        proc = _run(*cmd)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, proc.stderr
        assert lines[-1].startswith("error: cannot read image ") and "9999.jpg" in lines[-1], proc.stderr
        assert "--skip-bad-images" in lines[-1] and "Traceback" not in proc.stderr
    assert not out.exists()


def test_evaluate_search_export_and_train_on_a_folder_with_no_split(messy_folder, tmp_path):
    common = ["--data-dir", str(messy_folder), "--skip-bad-images"]
    proc = _run("proxies.evaluate", TINY, *common, "--epochs", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "held out as its test split" in proc.stderr and "skipped 1 unreadable image" in proc.stderr
    # 24 readable images a class: round(0.2 * 24) = 5 of each carved out for test (50); of the other 190,
    # a fifth (38) for validation, the rest (152) trains
    assert "e8-n152-r32" in result["fidelity"] and "v38" in result["fidelity"]
    assert result["score"] > 0.3, result  # 10 classes: chance is 0.1

    out = tmp_path / "search"
    proc = _run("nas.search", "--budget", "50M", *common, "--fidelity", "smoke", "--trials", "2",
                "--no-seed-presets", "--no-compare-presets", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert (out / "trials.csv").is_file() and (out / "best_arch.json").is_file()

    proc = _run("nas.export", str(out), "--out", str(tmp_path / "exported"))
    assert proc.returncode == 0, proc.stderr
    arch_json = tmp_path / "exported" / "arch.json"
    proc = _run("nas.train", str(arch_json), *common, "--epochs", "1", "--resolution", "48", "--batch-size", "16",
                "--out", str(tmp_path / "train"))
    assert proc.returncode == 0, proc.stderr
    done = json.loads((tmp_path / "train" / "result.json").read_text())
    assert done["settings"]["resolution"] == 48 and done["test_images"] == 50
    assert done["settings"]["classes"] == [f"class_{i}" for i in range(10)]
