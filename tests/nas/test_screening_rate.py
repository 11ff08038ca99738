"""nas.screening_rate (benchmarks/screening.py): how many proposals the screening step lets train, and what
scoring them costs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nas import screening_rate
from nas.screening import ScreenPolicy, keeps
from search_space import SearchSpace, analytic_cost


@pytest.fixture(autouse=True)
def keep_threads():
    """The benchmark scores on one thread (process-wide): put the count back after the test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_kept_share_replays_keeps_over_a_window():
    pts = [(float(i), 1e6 * (10 - i)) for i in range(10)]  # each better and cheaper than all before: all kept
    assert screening_rate.kept_share(pts, 3, window=4) == 1.0
    worse = [(float(-i), 1e6 * (1 + i)) for i in range(10)]  # each worse and dearer: only the first kept
    assert screening_rate.kept_share(worse, 3, window=4) == pytest.approx(0.1)
    assert screening_rate.kept_share(worse, 1, window=4) == 1.0  # --screen 1 keeps every proposal
    mixed = [(float(i % 3), 1e6 * ((7 * i) % 5 + 1)) for i in range(12)]
    expected = np.mean([keeps(pt, mixed[max(0, i - 4):i], 2)[0] for i, pt in enumerate(mixed)])
    assert screening_rate.kept_share(mixed, 2, window=4) == pytest.approx(expected)


def test_draw_scored_keeps_draws_within_the_budget_in_order():
    torch.set_num_threads(1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    pts, cpu = screening_rate.draw_scored(SearchSpace(), np.random.default_rng(0), 2, 50e6, "synflow", x, y)
    rng, space, ops = np.random.default_rng(0), SearchSpace(), []
    while len(ops) < 2:  # the same draws, without scoring
        cost = analytic_cost(space.sample(rng)).ops()
        ops += [cost] if cost <= 50e6 else []
    assert [o for _, o in pts] == ops and len(cpu) == 2 and all(c >= 0 for c in cpu)
    assert all(np.isfinite(s) for s, _ in pts)


def test_main_prints_the_table_and_writes_its_json(tmp_path, capsys):
    out = tmp_path / "screening.json"
    assert screening_rate.main(["--n", "3", "--ks", "2,3", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["score"], result["budget"], result["draws_per_space"], result["torch_threads"]) == (
        "synflow", 50e6, 3, 1)
    assert [(r["space"], r["k"], r["n"]) for r in result["rows"]] == [
        ("uniform", 2, 3), ("uniform", 3, 3), ("per-stage", 2, 3), ("per-stage", 3, 3)]
    assert all(r["proposals_per_trained"] == pytest.approx(1 / r["kept"]) for r in result["rows"])
    assert result["cpu_s_per_proposal_median"] <= result["cpu_s_per_proposal_max"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"screening by synflow, window {ScreenPolicy().window}, 3 within-50M draws per space;")
    assert printed[1].split() == ["space", "K", "kept", "proposals/trained"] and len(printed) == 6
