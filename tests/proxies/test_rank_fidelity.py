"""Rank-fidelity metrics on synthetic scores with known answers; the default rule; the fitted weight."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from proxies.calibration.evaluators import Evaluator, RunSpec
from proxies.calibration.fidelity_runs import RUN_COLUMNS
from proxies.calibration.rank_fidelity import (
    MIN_REF_ARCHS,
    choose_default,
    choose_screen,
    fidelity_plot_data,
    fidelity_table,
    fit_weight,
    paper_pairwise,
    recompute_kendall,
    reference_vs_papers,
)
from proxies.calibration.reference import reference_truth
from proxies.scoring.fidelity import Fidelity

F = Fidelity(epochs=1, train_subset=64, val_size=20)
ZC = RunSpec("params", F, 0)


def registry() -> dict[str, Evaluator]:
    evs = [Evaluator("default", "perfect on the reference", (RunSpec("train", F, 0),)),
           Evaluator("reversed", "", (RunSpec("train", F, 1),)),
           Evaluator("random", "", (RunSpec("train", F, 2),)),
           Evaluator("mean2", "", (RunSpec("train", F, 0), RunSpec("train", F, 2))),
           Evaluator("zc", "", (ZC,), "score"),
           Evaluator("default+zc", "", members=("default", "zc")),
           Evaluator("default+zc@fit", "", members=("default", "zc"), fit_weights=True)]
    return {e.name: e for e in evs}


def _row(kind, seed, arch, value, cpu):
    return {"kind": kind, "fidelity": F.key(), "seed": seed, "arch": arch, "val_top1": value, "sotl_e": 1.0,
            "score": value, "cpu_seconds": cpu, "seconds": cpu, "diverged": False, "device": "cpu", "data": "d",
            "error": ""}


def synthetic(n_ref: int = 40, seed: int = 0):
    """Reference truth over n_ref architectures, two paper tables, and the runs of registry()."""
    rng = np.random.default_rng(seed)
    ref_archs = [f"r{i:02d}" for i in range(n_ref)]
    truth = pd.Series(np.linspace(0.2, 0.6, n_ref), index=ref_archs)
    paper = pd.DataFrame({"table": ["t1"] * 3 + ["t2"] * 2, "name": list("abcde"),
                          "arch": ["p0", "p1", "p2", "q0", "q1"], "top1": [10.0, 20.0, 30.0, 50.0, 60.0]})
    paper_val = {"p0": 0.1, "p1": 0.2, "p2": 0.3, "q0": 0.9, "q1": 0.1}  # t1 in order, t2 reversed
    rows = []
    perm = rng.permutation(n_ref)
    for i, a in enumerate(ref_archs):
        rows += [_row("train", 0, a, truth[a], 10.0), _row("train", 1, a, -truth[a], 10.0),
                 _row("train", 2, a, float(perm[i]), 10.0), _row("params", 0, a, float(rng.normal()), 0.01)]
    for a, v in paper_val.items():
        rows += [_row("train", s, a, v, 10.0) for s in (0, 1, 2)] + [_row("params", 0, a, -v, 0.01)]
    return pd.DataFrame(rows, columns=RUN_COLUMNS), truth, paper


def table_for(runs, truth, paper, names=None, n_resamples=100):
    reg = registry()
    names = names or list(reg)
    cpu = {n: 10.0 if n != "zc" else 0.01 for n in names}
    return fidelity_table(names, reg, runs, truth, paper, cpu=cpu, n_resamples=n_resamples)


def test_perfect_reversed_and_random_evaluators():
    table, _ = table_for(*synthetic())
    t = table.set_index("evaluator")
    assert t.loc["default", "kendall_ref"] == pytest.approx(1) and t.loc["default", "pairwise_ref"] == 1
    assert t.loc["reversed", "kendall_ref"] == pytest.approx(-1)
    assert t.loc["reversed", "spearman_ref"] == pytest.approx(-1)
    assert abs(t.loc["random", "kendall_ref"]) < 0.25 and 0.35 < t.loc["random", "pairwise_ref"] < 0.65
    assert t.loc["default", "n_ref"] == 40
    lo, hi = t.loc["random", "kendall_ref_lo"], t.loc["random", "kendall_ref_hi"]
    assert lo < t.loc["random", "kendall_ref"] < hi
    assert list(table.columns[:8]) == ["evaluator", "kendall_ref", "spearman_ref", "pairwise_ref", "paper_spearman",
                                       "paper_pairwise", "cpu_s_per_arch", "is_default"]


def test_paper_metrics_are_within_tables_and_row_weighted():
    table, _ = table_for(*synthetic())
    d = table.set_index("evaluator").loc["default"]
    assert d["paper_spearman"] == pytest.approx((3 * 1 + 2 * -1) / 5)  # t1: +1 over 3 rows, t2: -1 over 2 rows
    assert d["paper_pairwise"] == pytest.approx(3 / 4)  # 3 agreeing pairs in t1, 1 disagreeing in t2
    assert d["paper_rows"] == 5
    df = pd.DataFrame({"table": ["a", "a", "b", "b"], "top1": [1, 2, 50, 60], "score": [1, 2, 0, -5]})
    # pooling across tables would count (a, b) pairs; within tables a agrees and b disagrees
    assert paper_pairwise(df) == pytest.approx(0.5)
    tied = pd.DataFrame({"table": ["a"] * 3, "top1": [1, 1, 2], "score": [3, 2, 1]})
    assert paper_pairwise(tied) == pytest.approx(0.0)  # the tied truth pair is not a pair
    # one architecture in two rows (Sp Table 5: 200 and 450 epochs) is not a pair either; a score tie counts half
    same = pd.DataFrame({"table": ["t5"] * 3, "arch": ["x", "x", "y"], "top1": [60, 61, 50], "score": [2, 2, 2]})
    assert paper_pairwise(same) == pytest.approx(0.5)  # (x, y) twice, both tied in score
    assert paper_pairwise(same.drop(columns="arch")) == pytest.approx(0.5)  # (x, x) tied too: 3 pairs of 0.5
    same["score"] = [2, 2, 1]
    assert paper_pairwise(same) == pytest.approx(1.0)
    diverged = pd.DataFrame({"table": ["a"] * 3, "arch": ["x", "y", "z"], "top1": [1, 2, 3],
                             "score": [-math.inf, -math.inf, 5]})  # two diverged runs: a tie, not a disagreement
    assert paper_pairwise(diverged) == pytest.approx(5 / 6)


def test_combination_ranks_within_each_set():
    runs, truth, paper = synthetic()
    _, scores = table_for(runs, truth, paper, names=["default", "default+zc"])
    combo = scores[scores["evaluator"] == "default+zc"]
    assert set(combo["set"]) == {"reference", "t1", "t2"}
    t1 = combo[combo["set"] == "t1"].set_index("arch")["score"]
    # default ranks p0 < p1 < p2 (1, 2, 3); params = -val ranks them 3, 2, 1: the mean is 2 each
    assert t1.to_dict() == {"p0": 2.0, "p1": 2.0, "p2": 2.0}
    ref = combo[combo["set"] == "reference"]
    assert len(ref) == 40 and ref["score"].between(1, 40).all()  # ranks among the 40, not among all 45
    assert (scores.loc[scores["evaluator"] == "default", "set"] == "all").all()


def test_fit_weight_uses_only_the_tables_it_is_given():
    per_weight = {w: {"A": (w, 10), "B": (1 - w, 10), "C": (0.3, 1)} for w in (i / 10 for i in range(11))}
    assert fit_weight(per_weight, ["B", "C"]) == 0.0  # held-out A
    assert fit_weight(per_weight, ["A", "C"]) == 1.0  # held-out B
    assert fit_weight(per_weight, ["A", "B", "C"]) == 0.5  # a plateau: the tie goes to 0.5
    assert fit_weight(per_weight, []) == 0.5


def test_held_out_weights_never_see_their_table_nor_the_reference():
    runs, truth, paper = synthetic()
    rng = np.random.default_rng(3)
    more = pd.DataFrame({"table": ["t3"] * 4 + ["t4"] * 4, "name": list("ghijklmn"),
                         "arch": [f"s{i}" for i in range(8)], "top1": rng.permutation(8).astype(float)})
    extra = [_row("train", 0, a, float(rng.normal()), 1.0) for a in more["arch"]]
    extra += [_row("params", 0, a, float(rng.normal()), 0.01) for a in more["arch"]]
    runs = pd.concat([runs, pd.DataFrame(extra, columns=RUN_COLUMNS)], ignore_index=True)
    paper = pd.concat([paper, more], ignore_index=True)

    def fitted(truth, paper):
        table = table_for(runs, truth, paper, names=["default", "default+zc@fit"], n_resamples=0)[0]
        row = table.set_index("evaluator").loc["default+zc@fit"]
        return dict(w.split(":") for w in row["heldout_weights"].split(";")), row

    held, row = fitted(truth, paper)
    assert set(held) == {"t1", "t2", "t3", "t4"}
    for table in held:  # scramble the held-out table's published top-1: its weight does not move
        scrambled = paper.copy()
        mask = scrambled["table"] == table
        scrambled.loc[mask, "top1"] = scrambled.loc[mask, "top1"].to_numpy()[::-1]
        assert fitted(truth, scrambled)[0][table] == held[table]
    # another reference truth changes the reference metrics, never the weights or the paper metrics
    held2, row2 = fitted(truth.iloc[::-1].set_axis(truth.index), paper)
    assert held2 == held and row2["weight"] == row["weight"]
    assert row2["paper_spearman"] == row["paper_spearman"] and row2["kendall_ref"] != row["kendall_ref"]


def _choice_table(rows):
    """(evaluator, kendall_ref, paper_spearman, cpu_s_per_arch, kendall_gain_p) rows; default's p is NaN."""
    cols = ["evaluator", "kendall_ref", "paper_spearman", "cpu_s_per_arch", "kendall_gain_p"]
    return pd.DataFrame(rows, columns=cols)


def test_is_default_rule():
    nan = math.nan
    t = _choice_table([("default", 0.5, 0.1, 10.0, nan), ("a", 0.7, 0.2, 10.9, 0.001), ("b", 0.9, 0.9, 11.5, 0.001),
                       ("z", 0.3, 0.9, 0.01, 0.9)])
    assert choose_default(t)[0] == "a"  # b costs more than 1.1x default
    t = _choice_table([("default", 0.5, 0.1, 10.0, nan), ("a", 0.7, 0.2, 10.9, 0.01), ("c", 0.7, 0.5, 3.0, 0.01)])
    assert choose_default(t)[0] == "c"  # a tie on kendall_ref goes to paper_spearman
    # better point estimates alone do not replace default: the gain must be shown
    t = _choice_table([("default", 0.70, 0.3, 10.0, nan), ("a", 0.78, 0.0, 5.0, 0.2), ("b", 0.77, 0.4, 10.0, 0.3)])
    name, why = choose_default(t)
    assert name == "default" and "beyond chance" in why and "'a' at +0.78, has p 0.200" in why
    # Holm over the family: p 0.03 alone passes; beside 5 other evaluators under the cost limit it does not
    assert choose_default(_choice_table([("default", 0.7, 0, 10.0, nan), ("a", 0.8, 0, 5.0, 0.03)]))[0] == "a"
    crowd = [("default", 0.7, 0, 10.0, nan), ("a", 0.8, 0, 5.0, 0.03)] + [(f"z{i}", 0.1, 0, 1.0, 0.9) for i in range(5)]
    name, why = choose_default(_choice_table(crowd))
    assert name == "default" and "over the 6 evaluators" in why
    name, why = choose_default(t.drop(columns="kendall_gain_p"))
    assert name == "default" and "nan" not in why  # no p-values (no resamples): nothing is shown
    t = _choice_table([("default", nan, 0.1, 10.0, nan), ("a", nan, 0.4, 5.0, nan)])
    name, why = choose_default(t)
    assert name == "default" and "too little reference data" in why and "the most any evaluator has is 0" in why
    t = _choice_table([("default", nan, 0.1, 10.0, nan), ("a", 0.2, 0.4, 5.0, 0.01), ("b", nan, 0.9, 1.0, 0.001)])
    assert choose_default(t)[0] == "a"  # NaN ranks last
    t = _choice_table([("default", 0.5, 0.1, nan, nan), ("a", 0.9, 0.4, 5.0, 0.001)])
    assert choose_default(t)[0] == "default"  # no cost to compare with yet
    t = _choice_table([("default", 0.5, 0.1, 10.0, nan), ("a", 0.9, 0.4, 5.0, 0.001)])
    t = t.assign(n_ref=[MIN_REF_ARCHS - 1] * 2)
    name, why = choose_default(t)
    assert name == "default" and f"has is {MIN_REF_ARCHS - 1})" in why  # too few reference architectures to decide
    assert choose_default(t.assign(n_ref=MIN_REF_ARCHS))[0] == "a"
    # a figure over fewer architectures than default's is not compared with default's
    assert choose_default(t.assign(n_ref=[MIN_REF_ARCHS + 4, MIN_REF_ARCHS + 3]))[0] == "default"
    assert choose_default(t.assign(n_ref=[MIN_REF_ARCHS + 4, MIN_REF_ARCHS + 4]))[0] == "a"
    table, _ = table_for(*synthetic())
    assert table["is_default"].sum() == 1
    assert table.loc[table["is_default"], "evaluator"].item() == "default"  # perfect, and the others cost the same


def test_recompute_kendall_from_the_csvs(tmp_path):
    runs, _, paper = synthetic(n_ref=12, seed=5)
    rng = np.random.default_rng(1)
    ref_rows = [{"arch": f"r{i:02d}", "seed": s, "test_top1": float(rng.uniform(0.2, 0.6))}
                for i in range(12) for s in ((0, 1) if i < 4 else (0,))]
    ref_rows.append({"arch": "r99", "seed": 0, "test_top1": 0.5})  # has no score: not used
    reference = pd.DataFrame(ref_rows)
    reference.to_csv(tmp_path / "reference.csv", index=False)
    table, scores = table_for(runs, reference_truth(reference), paper)
    scores.to_csv(tmp_path / "scores.csv", index=False)
    assert set(scores.loc[scores["evaluator"] == "mean2", "seed"]) == {"0", "2", "mean"}
    for name, k in zip(table["evaluator"], table["kendall_ref"], strict=True):
        again = recompute_kendall(tmp_path / "scores.csv", tmp_path / "reference.csv", name)
        assert again == pytest.approx(k, abs=1e-12, nan_ok=True), name
    assert (table["n_ref"] == 12).all() and table["kendall_ref"].notna().all()


def test_plot_data_places_points_by_cpu():
    table, _ = table_for(*synthetic())
    table.loc[table["evaluator"] == "reversed", "cpu_s_per_arch"] = math.nan
    data = fidelity_plot_data(table)
    names = [p[0] for p in data.kendall]
    assert "reversed" in data.unplaced and "reversed" not in names
    k = dict((n, (x, y)) for n, x, y in data.kendall)
    assert k["default"] == (10.0, pytest.approx(1.0)) and k["zc"][0] == 0.01
    err = dict(zip(names, data.kendall_err, strict=True))
    assert all(e >= 0 for e in err["random"])
    assert data.default == "default" and "40 reference" in data.title
    assert {n for n, _, _ in data.paper} >= {"default", "zc"}


def test_depth_pairs_counts_the_pairs_ordered_as_the_paper():
    from proxies.calibration.rank_fidelity import depth_pairs

    frame = pd.DataFrame({"table": ["sp-T7"] * 4 + ["mobinet-T3"],
                          "name": ["bin_mobilenet_sp_w1.0_d2", "bin_mobilenet_sp_w1.0_d1", "bin_mobilenet_sp_w0.7_d2",
                                   "bin_mobilenet_sp_w0.75_d1", "pre_k0"],
                          "score": [0.5, 0.4, 0.3, 0.35, 0.9]})
    assert depth_pairs(frame) == "1/2"  # d2 above d1 at w1.0; w0.7/d2 below w0.75/d1
    assert depth_pairs(frame.assign(score=[0.5, 0.4, float("nan"), 0.35, 0.9])) == "1/1"
    assert depth_pairs(frame[frame["table"] != "sp-T7"]) == ""


def test_reference_against_the_papers_known_answers():
    paper = pd.DataFrame({"table": ["t1"] * 3 + ["t2"] * 2 + ["t3"], "name": list("abcdef"),
                          "arch": ["p0", "p1", "p2", "q0", "q1", "z0"], "top1": [10.0, 20.0, 30.0, 50.0, 60.0, 70.0]})
    truth = pd.Series({"p0": 0.1, "p1": 0.2, "p2": 0.3, "q0": 0.9, "q1": 0.1, "z0": 0.5, "other": 0.4})
    agree = reference_vs_papers(truth, paper).set_index("table")
    assert list(agree.index) == ["t1", "t2", "all"]  # t3 has one row: nothing to order
    assert agree.loc["t1", "spearman"] == pytest.approx(1.0) and agree.loc["t2", "spearman"] == pytest.approx(-1.0)
    assert agree.loc["all", "spearman"] == pytest.approx((3 * 1.0 + 2 * -1.0) / 5)  # row-weighted
    assert agree.loc["all", "pairwise"] == pytest.approx(3 / 4)  # t1's 3 pairs right, t2's one wrong
    assert agree.loc["all", "depth_pairs"] == ""  # no Sp Table 7 rows
    partial = reference_vs_papers(truth.drop("p2"), paper).set_index("table")  # rows without a truth drop out
    assert partial.loc["t1", "rows"] == 2


def test_screen_rule():
    def table(n, k, lo):
        return pd.DataFrame([{"evaluator": "screen", "kendall_ref": k, "kendall_ref_lo": lo, "n_ref": n}])

    assert choose_screen(table(MIN_REF_ARCHS, 0.4, 0.05))[0] == "on"
    assert choose_screen(table(MIN_REF_ARCHS, 0.3, -0.1))[0] == "off"  # positive, but not shown to help
    assert choose_screen(table(MIN_REF_ARCHS, -0.3, -0.6))[0] == "off"
    state, why = choose_screen(table(MIN_REF_ARCHS - 1, 0.9, 0.5))
    assert state == "undecided" and f"needs {MIN_REF_ARCHS}" in why  # too few reference architectures
    assert choose_screen(table(MIN_REF_ARCHS, 0.4, math.nan))[0] == "undecided"  # no interval (--bootstrap 0)
    assert choose_screen(table(20, 0.4, 0.1).assign(evaluator="x"))[0] == "undecided"
