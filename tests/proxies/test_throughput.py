"""proxies.scoring.throughput (benchmarks/proxy_throughput.py): a binary preset and its float twin timed side
by side, the rate against the matmul peak, its JSON, and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from proxies.scoring import throughput
from search_space import PRESETS, analytic_cost

NAME = "bin_mobilenet_sp_w0.5_d1"


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One thread (on a busy machine, a step on several takes seconds), also where the benchmark would
    use every core; torch's process-wide thread count is put back after the test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    real = throughput.set_threads
    monkeypatch.setattr(throughput, "set_threads", lambda threads=None: real(1))
    yield
    torch.set_num_threads(before)


def test_timed_step_trains_one_step():
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    before = model.weight.detach().clone()
    assert throughput.timed_step(model, opt, torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])) > 0
    assert not torch.equal(before, model.weight)


def test_measure_counts_the_rate_from_the_macs():
    row = throughput.measure(NAME, steps=1, batch=2, warmup=0)
    cost = analytic_cost(PRESETS[NAME].arch, 10, 32)
    assert row["preset"] == NAME and row["macs_per_image"] == cost.fp_macs + cost.binary_macs
    assert row["binary_img_s"] > 0 and row["float_img_s"] > 0
    assert row["step_ratio"] == pytest.approx(row["float_img_s"] / row["binary_img_s"])
    assert row["binary_gflops"] == pytest.approx(6 * row["macs_per_image"] * row["binary_img_s"] / 1e9)


def test_matmul_rate_is_positive():
    assert throughput.matmul_gflops(n=64, repeats=2) > 0


def test_main_writes_its_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(throughput, "matmul_gflops", lambda: 1000.0)
    out = tmp_path / "t.json"
    assert throughput.main(["--presets", NAME, "--steps", "1", "--batch", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["matmul_gflops"] == 1000.0 and (result["threads"], result["batch"], result["steps"]) == (1, 2, 1)
    (row,) = result["rows"]
    assert row["preset"] == NAME and row["fraction_of_matmul_peak"] == pytest.approx(row["binary_gflops"] / 1000)
    assert capsys.readouterr().out.endswith(f"wrote {out}\n")


def test_an_unknown_preset_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert throughput.main(["--presets", f"{NAME},no_such_preset", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --presets: unknown preset 'no_such_preset'"] and not out.exists()
