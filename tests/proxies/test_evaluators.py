"""The evaluator registry: shared runs, score signs, seed means, rank averages, CPU cost, the run cache."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from proxies.calibration.evaluators import (
    EVALUATORS,
    RunSpec,
    check_evaluators,
    cpu_per_arch,
    evaluator_runs,
    final_scores,
    rank_average,
    run_order,
    seed_scores,
)
from proxies.calibration.fidelity_runs import RUN_COLUMNS, load_runs, pending, save_runs
from proxies.scoring.fidelity import FIDELITIES
from proxies.scoring.zero_cost import ZERO_COST


def run_row(spec: RunSpec, arch: str, *, val=math.nan, sotl=math.nan, score=None, cpu=1.0, diverged=False, error=""):
    return {"kind": spec.kind, "fidelity": spec.fidelity.key(), "seed": spec.seed, "arch": arch, "val_top1": val,
            "sotl_e": sotl, "score": val if score is None else score, "cpu_seconds": cpu, "seconds": cpu,
            "diverged": diverged, "device": "cpu", "data": "d", "error": error}


def test_registry_names_and_shared_runs():
    need = {"default", "default-sotl", "default-mean3", "steps-1k", "steps-6k", "steps-12k", "steps-12k-sotl", "ws0.5",
            "synflow", "jacob_cov", "naswot", "snip", "grad_norm", "ops", "params", "default+synflow", "default+ops",
            "steps-12k+synflow", "default+synflow@fit"}
    assert need <= set(EVALUATORS)
    d = EVALUATORS["default"]
    assert d.runs == (RunSpec("train", FIDELITIES["default"], 0),) and d.metric == "val_top1"
    assert EVALUATORS["default-sotl"].runs == d.runs and EVALUATORS["default-sotl"].metric == "neg_sotl_e"
    assert EVALUATORS["default-mean3"].seeds == (0, 1, 2) and EVALUATORS["default-mean3"].runs[0] == d.runs[0]
    s6, s12 = EVALUATORS["steps-6k"].runs[0].fidelity, EVALUATORS["steps-12k"].runs[0].fidelity
    assert (s6.epochs, s6.train_subset, s6.val_size) == (1, 6000, FIDELITIES["default"].val_size)
    assert (s12.epochs, s12.train_subset) == (1, 12000)
    s1 = EVALUATORS["steps-1k"].runs[0].fidelity
    assert (s1.epochs, s1.train_subset, s1.val_size) == (1, 1000, FIDELITIES["default"].val_size)
    assert EVALUATORS["steps-12k-sotl"].runs == EVALUATORS["steps-12k"].runs
    assert EVALUATORS["ws0.5"].runs[0].fidelity.width_scale == 0.5
    assert evaluator_runs(EVALUATORS["default+synflow"], EVALUATORS) == (d.runs[0], EVALUATORS["synflow"].runs[0])
    assert EVALUATORS["default+synflow@fit"].fit_weights and not EVALUATORS["default+synflow"].fit_weights


def test_ops_and_params_keep_the_zero_cost_sign(synthetic_data):
    """The baselines score +OPs and +parameters, as proxies.scoring.zero_cost does: bigger is 'better'."""
    from search_space import build_model, get_preset

    small, big = get_preset("bin_mobilenet_sp_w0.5_d1").arch, get_preset("bin_mobilenet_sp_w2.0_d1").arch
    x, y = synthetic_data.train_x[:2].float(), synthetic_data.train_y[:2]
    for name in ("ops", "params"):
        assert EVALUATORS[name].metric == "score"
        lo, hi = (ZERO_COST[name](build_model(a, 10, 32), x, y) for a in (small, big))
        assert 0 < lo < hi


def test_run_order_is_cheapest_first():
    order = run_order(list(EVALUATORS), EVALUATORS)
    kinds = [s.kind for s in order]
    assert kinds.index("train") > max(kinds.index(z) for z in ("params", "ops", "synflow", "jacob_cov"))
    assert kinds[:2] == ["params", "ops"]
    default0 = EVALUATORS["default"].runs[0]
    seed1 = EVALUATORS["default-mean3"].runs[1]
    s12 = EVALUATORS["steps-12k"].runs[0]
    assert order.index(EVALUATORS["ws0.5"].runs[0]) < order.index(default0) < order.index(s12) < order.index(seed1)
    assert len(order) == len(set(order))  # shared runs appear once


def test_unknown_evaluator_names_the_flag():
    with pytest.raises(ValueError, match="--evaluators: unknown evaluator 'magic'"):
        check_evaluators(["default", "magic"])
    assert check_evaluators([""]) == list(EVALUATORS)


def test_scores_signs_seed_means_and_divergence():
    mean3, sotl = EVALUATORS["default-mean3"], EVALUATORS["default-sotl"]
    s0, s1, s2 = mean3.runs
    rows = [run_row(s, "a", val=v, sotl=10 * v) for s, v in zip(mean3.runs, (0.3, 0.4, 0.5), strict=True)]
    rows += [run_row(s0, "b", val=0.2, sotl=5.0), run_row(s1, "b", val=0.2, sotl=5.0)]  # seed 2 not run yet
    rows += [run_row(s, "c", diverged=True) for s in (s0, s1, s2)]
    rows += [run_row(s0, "d", error="width")]
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS)
    m = final_scores(mean3, runs)
    assert m["a"] == pytest.approx(0.4) and "b" not in m and m["c"] == -math.inf and "d" not in m
    assert sorted(seed_scores(mean3, runs).query("arch == 'a'")["seed"]) == [0, 1, 2]
    s = final_scores(sotl, runs)
    assert s["a"] == pytest.approx(-3.0) and s["b"] == pytest.approx(-5.0) and s["c"] == -math.inf
    assert final_scores(EVALUATORS["default"], runs)["b"] == pytest.approx(0.2)


def test_rank_average_ranks_within_the_set():
    a = pd.Series({"x": 1.0, "y": 2.0, "z": 1.5, "u": 9.0})
    b = pd.Series({"x": 2.0, "y": 1.0, "z": 0.0})  # b does not score u
    two = rank_average([a, b], archs=["x", "y"])
    assert two.to_dict() == {"x": 1.5, "y": 1.5}
    three = rank_average([a, b], archs=["x", "y", "z"])
    assert three.to_dict() == {"x": 2.0, "y": 2.5, "z": 1.5}  # adding z orders x and y
    assert list(rank_average([a, b]).index) == ["x", "y", "z"]  # u: not scored by every member
    w = rank_average([a, b], (1.0, 0.0), archs=["x", "y", "z"])
    assert list(w.sort_values().index) == list(a.loc[["x", "y", "z"]].sort_values().index)
    with pytest.raises(ValueError):
        rank_average([a, b], (1.0, -1.0))


def test_cpu_per_arch_sums_distinct_runs():
    d, z = EVALUATORS["default"].runs[0], EVALUATORS["synflow"].runs[0]
    runs = pd.DataFrame([run_row(d, "a", val=0.5, cpu=10), run_row(z, "a", score=1.0, cpu=0.5),
                         run_row(d, "b", val=0.5, cpu=20)], columns=RUN_COLUMNS)
    assert cpu_per_arch(EVALUATORS["default"], runs, EVALUATORS) == pytest.approx(15)
    assert cpu_per_arch(EVALUATORS["default-sotl"], runs, EVALUATORS) == pytest.approx(15)  # the same runs
    assert cpu_per_arch(EVALUATORS["default+synflow"], runs, EVALUATORS) == pytest.approx(10.5)  # only a has both
    assert math.isnan(cpu_per_arch(EVALUATORS["default-mean3"], runs, EVALUATORS))


def test_run_cache_round_trip_and_refusal(tmp_path):
    path = tmp_path / "runs.csv"
    assert load_runs(path).empty
    d = EVALUATORS["default"].runs[0]
    runs = pd.DataFrame([run_row(d, "a", val=0.5), run_row(d, "b", diverged=True)], columns=RUN_COLUMNS)
    save_runs(runs, path)
    back = load_runs(path)
    assert list(back.columns) == RUN_COLUMNS and back["seed"].tolist() == [0, 0]
    assert np.isnan(back["val_top1"][1]) and bool(back["diverged"][1])
    assert pending([d], ["a", "b", "c"], back) == [(d, "c")]
    # cheap runs first for every architecture; then training runs architecture by architecture
    z, t2 = RunSpec("synflow", d.fidelity), RunSpec("train", d.fidelity, 1)
    assert pending([d, z, t2], ["a", "c"], back) == [(z, "a"), (z, "c"), (t2, "a"), (d, "c"), (t2, "c")]
    foreign = tmp_path / "other.csv"
    foreign.write_text("name,value\nx,1\n")
    with pytest.raises(ValueError, match="is not a fidelity run cache"):
        load_runs(foreign)
    assert foreign.read_text() == "name,value\nx,1\n"
