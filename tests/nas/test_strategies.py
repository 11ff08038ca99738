"""The strategy replay: the tabular pool, the cross-fit (no strategy sees a result of an architecture it is
judged on), each strategy's contract, the metrics, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nas.analyze.cli import main
from nas.analyze.pool import Pool, load_results
from nas.analyze.replay import default_trainings, repeat_metrics, strategy_table
from nas.analyze.strategies import STRATEGIES, Half, half_ids, replay_one
from nas.proposer import features
from search_space import ArchConfig, SearchSpace, analytic_cost
from search_space.cli import run_cli

F = "e2-n3000-r32-ws1-b32-v2000"


def _pool(n: int = 60, seed: int = 0) -> Pool:
    space, rng, archs = SearchSpace(), np.random.default_rng(seed), []
    while len(archs) < n:
        a = space.sample(rng)
        if analytic_cost(a).ops() <= 50e6 and a not in archs:
            archs.append(a)
    top1 = rng.uniform(0.1, 0.4, n)
    return Pool([a.encode() for a in archs], np.array([analytic_cost(a).ops() for a in archs]),
                np.stack([features(a) for a in archs]), [np.array([v, v + 0.01]) for v in top1], top1 + 0.005)


def test_cross_fit_halves_are_disjoint_and_swap():
    pool = _pool()
    a, prior_a = half_ids(pool, 0, 50e6)
    b, prior_b = half_ids(pool, 1, 50e6)
    assert not set(a) & set(prior_a) and not set(b) & set(prior_b)
    assert set(a) <= set(prior_b) and set(b) <= set(prior_a)  # swapped
    assert set(prior_a) | set(a) == set(range(len(pool)))


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "gp"])
def test_every_strategy_trains_distinct_architectures_of_its_half_only(strategy, monkeypatch):
    pool = _pool()
    seen_prior: list[np.ndarray] = []
    real_fit = __import__("nas.proposer", fromlist=["EnsembleModel"]).EnsembleModel.fit

    def spy(self, x, y):  # every fit sees only rows of the other half or of what was trained
        seen_prior.append(x)
        return real_fit(self, x, y)

    monkeypatch.setattr("nas.analyze.strategies.EnsembleModel.fit", spy)
    trained = replay_one(pool, strategy, 3, 10, 50e6)
    mine, other = half_ids(pool, 3, 50e6)
    ids = [i for i, _ in trained]
    assert len(ids) == 10 and len(set(ids)) == 10 and set(ids) <= set(mine)
    allowed = {tuple(r) for r in pool.x[other]} | {tuple(r) for r in pool.x[ids]}
    for x in seen_prior:
        assert {tuple(r) for r in x} <= allowed
    assert all(v in pool.runs[i] for i, v in trained)  # a query returns a recorded result


def test_queries_draw_among_the_recorded_seeds():
    pool = _pool()
    h = Half(pool, np.arange(len(pool)), np.arange(0), (0.1, 50e6), np.random.default_rng(0))
    assert {h.query(0) for _ in range(50)} == set(pool.runs[0])


def test_metrics_score_the_observed_best_by_its_mean():
    pool = _pool(20)
    half = np.arange(20)
    order = list(np.argsort(pool.mean))  # worst first
    trained = [(int(i), float(pool.runs[i][0])) for i in order]
    rows = repeat_metrics(pool, half, trained, (0.1, 50e6))
    assert rows[-1]["best"] == pytest.approx(pool.mean.max())
    assert rows[-1]["beats_random"] == pytest.approx(0.5)  # all 20 of 20: every random search ties it
    assert rows[0]["beats_random"] < 0.1
    assert all(0 <= r["hv"] <= 1 for r in rows)


def test_table_and_default_trainings():
    rng = np.random.default_rng(0)
    rows = []
    for s, lift in (("nsga2-screen", 0.0), ("guided-ucb", 0.02)):
        for r in range(30):
            for n in range(1, 37):
                rows.append({"strategy": s, "repeat": r, "n": n, "best": 0.2 + lift + 0.003 * min(n, 20)
                             + rng.normal(0, 0.001), "hv": 0.1 + lift + rng.normal(0, 0.001),
                             "beats_random": 0.5 + 10 * lift, "arch": "a"})
    runs = pd.DataFrame(rows)
    t = strategy_table(runs)
    g = t[(t["strategy"] == "guided-ucb") & (t["n"] == 36)].iloc[0]
    assert g["hv_gain_lo"] > 0 and g["hv_gain"] == pytest.approx(0.02, abs=0.002)
    assert pd.isna(t[t["strategy"] == "nsga2-screen"]["hv_gain"]).all()
    assert default_trainings(runs, "guided-ucb", 0.0162) == 15  # within 1.62 points of the plateau from 15 on


def test_load_results_dedups_keys_and_leaves_out_the_reference(tmp_path):
    res = tmp_path / "results"
    (res / "calibration").mkdir(parents=True)
    a, b = "w1.0-d1:S-none-k0-2xdw-relu-pw", "w1.0-d1:L-mid-k3-prelu-all"
    cache = pd.DataFrame({"kind": "train", "fidelity": F, "seed": [0, 1, 0], "arch": [a, a, b],
                          "val_top1": [0.3, 0.32, 0.2], "diverged": False})
    cache.to_csv(res / "calibration" / "fidelity-runs.csv", index=False)
    (res / "s").mkdir()
    pd.DataFrame({"outcome": ["trained", "pruned"], "fidelity": F, "arch": [a, b], "top1": [0.31, 0.1]}).to_csv(
        res / "s" / "trials.csv", index=False)
    (res / "c" / "confirm").mkdir(parents=True)
    (res / "c" / "confirm" / "x.json").write_text(json.dumps({"arch": a, "fidelity": F, "seed": 2,
                                                              "val_top1": 0.33, "diverged": False}))
    t = load_results(res, F, {"s": 0}, exclude={b})
    assert sorted(t["top1"]) == [0.3, 0.32, 0.33]  # the search's seed-0 result is the cache's (0, 0): kept once
    assert set(t["arch"]) == {a}


def test_cli_replays_resumes_and_refuses_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = tmp_path / "results"
    (res / "calibration").mkdir(parents=True)
    (res / "reference").mkdir()
    pool = _pool(30)
    pd.DataFrame({"kind": "train", "fidelity": F, "seed": 0, "arch": pool.archs, "val_top1": pool.mean,
                  "diverged": False}).to_csv(res / "calibration" / "fidelity-runs.csv", index=False)
    pd.DataFrame({"arch": [pool.archs[0]]}).to_csv(res / "reference" / "archs.csv", index=False)
    out = tmp_path / "out"
    args = ["strategies", "--results", str(res), "--reference", str(res / "reference"), "--repeats", "4",
            "--strategies", "random,guided-ucb,nsga2-screen", "--trainings", "12", "--out", str(out), "--quiet"]
    assert run_cli(main, args) == 0
    runs = pd.read_csv(out / "strategy-runs.csv")
    assert runs.groupby("strategy")["repeat"].nunique().to_dict() == {"guided-ucb": 4, "nsga2-screen": 4, "random": 4}
    assert pool.archs[0] not in set(runs["arch"])  # the reference set's architecture is never in the pool
    for name in ("strategies.csv", "strategies.md", "strategies.png", "strategies.svg", "manifest.json"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].startswith("python -m nas.analyze strategies ")
    assert manifest["data"]["pool_architectures"] == 29 and manifest["cpu_seconds"] > 0
    assert run_cli(main, args) == 0  # resumed: nothing replayed twice
    assert len(pd.read_csv(out / "strategy-runs.csv")) == len(runs)
    assert run_cli(main, [*args[:-4], "--strategies", "bogus", "--out", str(out)]) == 2


def test_pool_keeps_only_points_of_the_space():
    t = pd.DataFrame({"arch": ["w1.0-d1:S-none-k0-2xdw-relu-pw", "w0.93-d1:L-pre-k2-prelu-all"], "data_seed": 0,
                      "train_seed": 0, "top1": [0.3, 0.2], "source": "x"})
    pool = Pool.from_results(t)
    assert pool.archs == [ArchConfig.decode("w1.0-d1:S-none-k0-2xdw-relu-pw").encode()]
