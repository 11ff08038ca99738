"""nas.analyze: claim statistics and verdicts on synthetic data with known answers, the EDF analysis,
and small real runs of both commands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import nas.analyze
from nas.analyze import (
    CHOICES,
    CLAIMS,
    choice_values,
    claim_archs,
    claims_table,
    compare_samples,
    draw_archs,
    edf_curves,
    edf_markdown,
    edf_plot_data,
    edf_shares,
    edf_stats,
    fdr_verdicts,
    match_width,
    ops_residuals,
    seed_interval,
    seed_p_value,
    verdict,
)
from nas.analyze.claims import ops_of, paper_top1
from nas.analyze.cli import main
from nas.analyze.edf import STATS_COLUMNS
from proxies.calibration.calibrate import default_paper_csv, read_paper_table
from proxies.calibration.fidelity_runs import RUN_COLUMNS
from search_space import ArchConfig, analytic_cost, get_preset, get_space
from search_space.cli import run_cli


def test_seed_interval_is_students_t():
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd 1
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    equal = seed_interval([2.0, 2.0, 2.0])  # no spread: no interval, so no verdict either way
    assert equal[0] == 2.0 and math.isnan(equal[1]) and verdict(1.0, *equal) == "inconclusive"
    assert math.isnan(seed_interval([1.0])[1]) and math.isnan(seed_interval([])[0])


@pytest.mark.parametrize(("paper", "diffs", "expected"), [
    (+1.0, [2.0, 2.1, 1.9], "reproduced"),  # same sign, interval above 0
    (-1.0, [2.0, 2.1, 1.9], "contradicted"),  # opposite sign, interval above 0
    (+1.0, [-1.0, 2.0, 0.5], "inconclusive"),  # interval straddles 0
    (+1.0, [-2.0, -2.1, -1.9], "contradicted"),
    (0.0, [2.0, 2.1, 1.9], "inconclusive"),  # the paper reports no difference
    (+1.0, [2.0], "inconclusive"),  # one seed: no interval
])
def test_verdicts_known_answers(paper, diffs, expected):
    assert verdict(paper, *seed_interval(diffs)) == expected


def test_fdr_keeps_only_the_verdicts_that_survive_benjamini_hochberg():
    verdicts = ["reproduced", "contradicted", "reproduced", "inconclusive", "inconclusive"]
    # BH over the 4 finite p-values: 0.001 -> 0.004; both 0.04 -> 0.04 * 4 / 3 = 0.0533; 0.5 -> 0.5
    out, adjusted = fdr_verdicts(verdicts, [0.001, 0.04, 0.04, 0.5, math.nan])
    assert out == ["reproduced", "inconclusive", "inconclusive", "inconclusive", "inconclusive"]
    assert adjusted[:4] == pytest.approx([0.004, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5]) and math.isnan(adjusted[4])
    assert seed_p_value([1.0, 2.0, 3.0]) == pytest.approx(stats.ttest_1samp([1, 2, 3], 0).pvalue)
    assert math.isnan(seed_p_value([2.0, 2.0])) and math.isnan(seed_p_value([1.0]))
    assert fdr_verdicts([], []) == ([], [])


def test_compare_samples_known_distributions():
    rng = np.random.default_rng(0)
    same = compare_samples(rng.normal(0, 1, 200), rng.normal(0, 1, 200), resamples=500)
    assert same["ks"] < 0.15 and same["ks_p"] > 0.05 and same["median_diff_low"] < 0 < same["median_diff_high"]
    shifted = compare_samples(rng.normal(0, 1, 200), rng.normal(1, 1, 200), resamples=500)
    assert shifted["ks"] > 0.3 and shifted["ks_p"] < 1e-6
    assert shifted["median_diff_high"] < 0 and shifted["median_diff"] == pytest.approx(-1, abs=0.3)
    assert math.isnan(compare_samples([1.0], [1.0, 2.0])["ks"])
    few = compare_samples([1.0, 2.0, 3.0, 4.0], rng.normal(0, 1, 50))  # 4 values: no comparison
    assert few["n"] == 4 and math.isnan(few["median_diff"]) and math.isnan(few["median_diff_low"])
    assert math.isfinite(compare_samples([1.0, 2.0, 3.0, 4.0, 5.0], rng.normal(0, 1, 50))["median_diff_low"])


def test_claims_cover_the_papers_and_their_architectures_exist():
    assert len(CLAIMS) >= 9 and len({c.key for c in CLAIMS}) == len(CLAIMS)
    sources = {c.source for c in CLAIMS}
    for table in ("Sp Table 2", "Sp Table 3", "Sp Table 4", "Sp Table 6", "Sp Table 7", "MoBiNet Table 1",
                  "MoBiNet Table 3"):
        assert table in sources
    paper = paper_top1(read_paper_table(default_paper_csv()))
    for c in CLAIMS:
        a, b = claim_archs(c)
        assert all(r in paper for r in c.a + c.b), c.key
        if c.match_ops:  # b trained at a's OPs (to the hundredth of width)
            for x, y in zip(a, b, strict=True):
                assert abs(ops_of(y) - ops_of(x)) / ops_of(x) < 0.03, (c.key, ops_of(x), ops_of(y))


def test_match_width_finds_the_closest_hundredth():
    base = get_preset("bin_mobilenet_l").arch
    target = ops_of(get_preset("bin_mobilenet_sp").arch)
    got = match_width(base, target)
    neighbours = [ArchConfig(base.stages, round(got.width + d, 2), base.depth) for d in (-0.01, 0.01)]
    assert all(abs(ops_of(got) - target) <= abs(ops_of(n) - target) for n in neighbours)


def test_claims_table_verdicts_on_synthetic_scores():
    paper = paper_top1(read_paper_table(default_paper_csv()))
    archs = {c.key: claim_archs(c) for c in CLAIMS}
    rng = np.random.default_rng(1)
    scores: dict[tuple[str, int], float] = {}
    # every architecture scores 0.40 (+ small seed noise) except: side a of the first claim scores 0.50
    # (reproduced), side a of the second scores 0.30 (contradicted: the paper has it above)
    first, second = CLAIMS[0], CLAIMS[1]
    for a, b in archs.values():
        for x in a + b:
            for s in range(3):
                scores.setdefault((x.encode(), s), 0.40 + rng.normal(0, 0.002))
    for s in range(3):
        for x in archs[first.key][0]:
            scores[(x.encode(), s)] = 0.50 + rng.normal(0, 0.002)
        for x in archs[second.key][0]:
            scores[(x.encode(), s)] = 0.30 + rng.normal(0, 0.002)
    table = claims_table(scores, [0, 1, 2], paper, "fid").set_index("claim")
    assert table.loc[first.key, "verdict"] == "reproduced" and table.loc[first.key, "paper_diff"] > 0
    assert table.loc[first.key, "ours_mean_diff"] == pytest.approx(10.0, abs=0.5)  # points
    assert table.loc[second.key, "verdict"] == "contradicted"
    assert table.loc[[first.key, second.key], "verdict_fdr"].tolist() == ["reproduced", "contradicted"]
    assert (table["p_adjusted"] >= table["p_value"]).all()
    assert (table["seeds"] == 3).all()
    # a claim missing a seed of one of its architectures uses the seeds where all are there
    x = archs[first.key][1][0].encode()
    del scores[(x, 2)]
    assert claims_table(scores, [0, 1, 2], paper, "fid").set_index("claim").loc[first.key, "seeds"] == 2


def test_depth_per_op_claim_statistic():
    paper = paper_top1(read_paper_table(default_paper_csv()))
    claim = next(c for c in CLAIMS if c.kind == "per_op")
    (base, deep), (_, wide) = claim_archs(claim)
    scores = {}
    for s in range(3):  # depth +5 points, width +5 points: depth costs fewer OPs, so it wins per OP
        scores[(base.encode(), s)], scores[(deep.encode(), s)], scores[(wide.encode(), s)] = 0.4, 0.45, 0.45 + s * 1e-3
    row = claims_table(scores, [0, 1, 2], paper, "fid", claims=[claim]).iloc[0]
    expected = 5 / ((ops_of(deep) - ops_of(base)) / 1e6) - 5 / ((ops_of(wide) - ops_of(base)) / 1e6)
    assert row["ours_mean_diff"] == pytest.approx(expected, rel=0.05) and row["unit"] == "points per M OPs"


def test_draw_archs_distinct_within_budget_and_repeatable():
    a = draw_archs("per-stage", 12, 50e6, seed=3)
    assert len({x.encode() for x in a}) == 12 and all(ops_of(x) <= 50e6 for x in a)
    assert [x.encode() for x in draw_archs("per-stage", 12, 50e6, seed=3)] == [x.encode() for x in a]
    u = draw_archs("uniform", 5, 50e6, seed=3)
    assert all(len(set(x.stages)) == 1 for x in u)
    with pytest.raises(ValueError, match="--n: only"):
        draw_archs("uniform", 5, 1e5, seed=0, max_draws=200)


def test_draw_all_lists_a_small_space_within_the_budget_in_a_random_order():
    archs = draw_archs("mobinet", None, 32.1e6, seed=0)
    expect = {a.encode() for a in get_space("mobinet").enumerate() if ops_of(a) <= 32.1e6}
    assert len(archs) == len(expect) == 32 and {a.encode() for a in archs} == expect
    assert [a.encode() for a in draw_archs("mobinet", None, 32.1e6, seed=0)] == [a.encode() for a in archs]
    assert [a.encode() for a in draw_archs("mobinet", None, 32.1e6, seed=1)] != [a.encode() for a in archs]
    with pytest.raises(ValueError, match="--n: all cannot list the per-stage space"):
        draw_archs("per-stage", None, 50e6, seed=0)


def test_choice_values_majority_or_mixed():
    sp = get_preset("bin_mobilenet_sp").arch
    v = choice_values(sp)
    assert v["topology"] == "parallel" and v["width"] == "1" and v["depth"] == "1"
    assert choice_values(get_preset("bin_mobilenet_l").arch)["expansion"] == "none"
    mixed = ArchConfig((*sp.stages[:2], *get_preset("bin_mobilenet_l").arch.stages[2:4], sp.stages[4]), 1.0, 1)
    assert choice_values(mixed)["topology"] == "parallel"  # 3 of 5
    l_stages, ls = get_preset("bin_mobilenet_l").arch.stages, get_preset("bin_mobilenet_ls").arch.stages
    assert ls[4].topology == "both"
    assert choice_values(ArchConfig((*sp.stages[:2], *l_stages[2:4], ls[4]), 1.0, 1))["topology"] == "mixed"  # 2/2/1


def test_edf_curves_and_stats_on_synthetic_errors():
    rng = np.random.default_rng(0)
    n = 80
    act = np.where(np.arange(n) % 2 == 0, "prelu", "relu")
    err = np.where(act == "prelu", 0.5, 0.6) + rng.normal(0, 0.02, n)  # PReLU: 10 points lower error
    archs = pd.DataFrame({"space": "uniform", "activation": act, "error": err})
    curves = edf_curves(archs)
    for _, g in curves.groupby("value"):
        assert g["cdf"].iloc[-1] == 1.0 and g["error"].is_monotonic_increasing and len(g) == n // 2
    st = edf_stats(archs, resamples=500).set_index("value")
    assert st.loc["prelu", "median_diff_high"] < 0 < st.loc["relu", "median_diff_low"]
    assert st.loc["prelu", "ks"] > 0.9
    assert (st["ks_p_fdr"] >= st["ks_p"]).all()
    assert math.isnan(st.loc["prelu", "adj_diff"])  # no OPs column: no adjustment
    plot = edf_plot_data(curves, "uniform")
    assert [label for label, _, _ in plot.panels["activation"]] == ["prelu (n=40)", "relu (n=40)"]
    assert list(edf_stats(archs.iloc[:0]).columns) == STATS_COLUMNS  # no runs yet: still a header


def test_edf_shares_read_a_per_stage_choice_by_its_share_of_stages():
    """Error falls with the share of PReLU stages and rises with OPs: rho < 0 for prelu, > 0 for relu,
    and stronger at equal OPs (the OPs term is noise to the plain rho); choices that do not move error
    stay near 0; rare values get no rho. The per-stage table comes after the EDF table; the uniform
    space has none."""
    from nas.report.choices import partial_spearman

    rng = np.random.default_rng(2)
    archs = draw_archs("per-stage", 60, 50e6, seed=3)
    share = np.array([sum(st.activation == "prelu" for st in a.stages) / 5 for a in archs])
    ops = np.array([analytic_cost(a).ops() for a in archs])
    error = 0.8 - 0.2 * share + 0.2 * stats.rankdata(ops) / len(ops) + rng.normal(0, 0.01, len(archs))
    rows = pd.DataFrame({"space": "per-stage", "arch": [a.encode() for a in archs], "ops": ops, "error": error,
                         **{c: [choice_values(a)[c] for a in archs] for c in CHOICES}})
    sh = edf_shares(rows).set_index(["choice", "value"])
    prelu = sh.loc[("activation", "prelu")]
    assert prelu["mean_share"] == pytest.approx(share.mean()) and prelu["n_with"] == int((share > 0).sum())
    assert prelu["rho_ops"] == pytest.approx(partial_spearman(share, error, ops)[0])
    assert prelu["rho_ops"] < -0.8 and prelu["rho"] > prelu["rho_ops"] + 0.1 and prelu["p_ops_fdr"] < 1e-6
    assert sh.loc[("activation", "relu"), "rho_ops"] > 0.8
    assert ("expansion", "none") not in sh.index  # a cascade stage has no expansion: not a value
    others = sh.drop(index="activation", level="choice")["rho_ops"].dropna()
    assert len(others) > 10 and (others.abs() < 0.5).all()
    rare = sh[(sh["n_with"] < 5)]
    assert rare["rho"].isna().all()
    md = edf_markdown(rows, edf_stats(rows, resamples=50), edf_shares(rows))
    assert "Share of the stages with a value, against error (per-stage space" in md
    assert md.index("| choice | value | n | median error") < md.index("| choice | value | with it | mean share |")
    uniform = rows.assign(space="uniform")
    assert "Share of the stages" not in edf_markdown(uniform, edf_stats(uniform, resamples=50), edf_shares(uniform))


def test_edf_stats_take_the_ops_out():
    """A choice that only costs OPs (error depends on OPs alone) differs plainly but not at equal OPs;
    a choice with an effect of its own differs at equal OPs too. FDR over the space's values."""
    rng = np.random.default_rng(1)
    n = 120
    scope = np.where(np.arange(n) % 2 == 0, "pw", "all")
    ops = np.where(scope == "pw", rng.uniform(30e6, 50e6, n), rng.uniform(10e6, 30e6, n))
    act = np.where(np.arange(n) % 3 == 0, "prelu", "relu")
    err = 0.9 - 0.1 * np.log(ops / 10e6) - np.where(act == "prelu", 0.05, 0) + rng.normal(0, 0.01, n)
    archs = pd.DataFrame({"space": "uniform", "ops": ops, "error": err, "activation": act, "binary_scope": scope})
    st = edf_stats(archs, resamples=500).set_index(["choice", "value"])
    pw = st.loc[("binary_scope", "pw")]
    assert pw["median_diff_high"] < -0.03  # plainly: pw is better (it has more OPs) ...
    assert pw["adj_low"] < 0 < pw["adj_high"]  # ... but not at equal OPs
    prelu = st.loc[("activation", "prelu")]
    assert prelu["adj_high"] < 0 and prelu["adj_diff"] == pytest.approx(-0.05, abs=0.015)
    assert (st["ks_p_fdr"] >= st["ks_p"]).all() and st["ks_p_fdr"].notna().all()
    two = edf_stats(pd.concat([archs, archs.iloc[:60].assign(space="per-stage")], ignore_index=True), resamples=50)
    for _, g in two.groupby("space"):  # Benjamini-Hochberg within each space, not over both
        assert np.allclose(g["ks_p_fdr"], stats.false_discovery_control(g["ks_p"], method="bh"))
    residuals = ops_residuals(archs)
    assert abs(np.corrcoef(np.log(ops), residuals)[0, 1]) < 1e-6  # a least-squares line leaves no slope
    assert ops_residuals(archs.iloc[:2]).isna().all()
    md = edf_markdown(archs, edf_stats(archs, resamples=200))
    assert md.startswith("## uniform space: 120 architectures\n\nError against OPs over the space: Spearman rho -0.")
    row = next(line for line in md.splitlines() if line.startswith("| activation | prelu |"))
    assert row.count("**") == 4  # both intervals exclude 0: bold
    row = next(line for line in md.splitlines() if line.startswith("| binary_scope | pw |"))
    assert row.count("**") == 2  # plain only


@pytest.mark.e2e
def test_edf_and_claims_real_runs_resume(tmp_path, image_folder, capsys):
    """Real trainings on a small, learnable image folder (10 classes, chance 0.1)."""
    out = tmp_path / "an"
    tiny = ["--data-dir", str(image_folder), "--fidelity", "smoke", "--epochs", "3", "--train-subset", "160",
            "--val-size", "40", "--quiet", "--out", str(out)]
    assert run_cli(main, ["edf", "--budget", "50M", "--n", "3", "--spaces", "uniform", "--bootstrap", "100",
                          *tiny]) == 0
    table = pd.read_csv(out / "edf-archs.csv")
    assert len(table) == 3 and table["top1"].notna().all() and (table["ops"] <= 50e6).all()
    written = {p.name for p in out.iterdir()}
    assert {"edf.csv", "edf-stats.csv", "edf-shares.csv", "edf.md", "edf-uniform.png", "edf-uniform.svg"} <= written
    assert (out / "edf.md").read_text().startswith("# Design-space EDFs within 50M OPs")
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 3
    capsys.readouterr()
    assert run_cli(main, ["edf", "--budget", "50M", "--n", "3", "--spaces", "uniform", "--bootstrap", "100",
                          *tiny]) == 0
    assert "0 run(s) to do, 3 cached" in capsys.readouterr().err  # resumed: nothing trained again
    assert run_cli(main, ["claims", "--seeds", "2", "--limit", "2", *tiny]) == 0
    claims = pd.read_csv(out / "claims.csv")
    assert len(claims) == len(CLAIMS) and set(claims["verdict"]) == {"inconclusive"}  # 2 runs: no claim complete
    assert len(pd.read_csv(out / "runs.csv")) == 5
    top1 = pd.read_csv(out / "runs.csv")["val_top1"]
    # learning: 12 of 40 validation images right by chance (0.1) has p < 0.001; some binary nets learn slowly
    assert top1.max() >= 0.3 and top1.mean() > 0.15, list(top1)
    assert "| claim | source | paper |" in (out / "claims.md").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["edf", "--budget", "50M", "--spaces", "global"], "--spaces: unknown value 'global'"),
    (["edf", "--budget", "fifty"], "--budget: invalid value 'fifty'"),
    (["edf", "--budget", "50M", "--n", "1"], "--n: invalid value 1"),
    (["edf", "--budget", "50M", "--n", "every"], "--n: invalid value 'every' (expected an integer >= 2 or all)"),
    (["edf", "--budget", "50M", "--n", "all", "--spaces", "per-stage"], "--n: all cannot list the per-stage space"),
    (["edf", "--budget", "10M", "--n", "all", "--spaces", "mobinet"], "--budget: no architecture of the mobinet"),
    (["claims", "--seeds", "1"], "--seeds: invalid value 1"),
    (["edf", "--budget", "1M", "--spaces", "uniform"], "--budget: no architecture of the uniform space fit 1M OPs"),
    (["edf", "--budget", "50M", "--spaces", " , "], "--spaces: no space given in ' , '"),
    (["claims", "--report-only", "--runs", "nowhere/runs.csv"], "--runs: no run cache at 'nowhere/runs.csv'"),
    (["bogus"], "invalid choice: 'bogus'"),
])
def test_bad_input_is_one_line_exit_2(argv, message, tmp_path, capsys):
    assert run_cli(main, [*argv, "--out", str(tmp_path / "o")] if argv[0] != "bogus" else argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(message in line for line in err), err
    assert not (tmp_path / "o").exists()


def test_claims_refuse_paper_tables_without_their_rows_before_training(tmp_path, capsys):
    from proxies.calibration.calibrate import default_paper_csv
    table = pd.read_csv(default_paper_csv())
    partial = tmp_path / "tables.csv"
    table[table["source"] != "mobinet"].to_csv(partial, index=False)
    out = tmp_path / "o"
    assert run_cli(main, ["claims", "--paper-csv", str(partial), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("--paper-csv: no row 'mobinet:" in line for line in err), err
    assert not out.exists()  # refused before any training or output


def test_outputs_not_ours_and_caches_without_the_runs_are_refused_untouched(tmp_path, capsys):
    """--report-only on a cache with no run at the fidelity would write every claim as inconclusive over
    0 seeds: refused. A claims.csv, claims.md or plot that this command did not write is not overwritten."""
    out = tmp_path / "o"
    out.mkdir()
    runs = out / "runs.csv"
    pd.DataFrame([{"kind": "train", "fidelity": "e9-n1-r32-ws1-b32-v1", "seed": 0, "arch": "x", "val_top1": 0.5}],
                 columns=RUN_COLUMNS).to_csv(runs, index=False)
    mine = out / "claims.csv"
    mine.write_text("my,own,table\n1,2,3\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run_cli(main, ["claims", "--report-only", "--out", str(out)]) == 2
    assert "--out: " in capsys.readouterr().err  # claims.csv is not ours
    mine.unlink()
    assert run_cli(main, ["claims", "--report-only", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no run at fidelity 'e2-n3000" in err[0], err
    (out / "claims.md").write_text("# notes of mine\n")
    assert run_cli(main, ["claims", "--report-only", "--out", str(out)]) == 2
    assert "claims.md' exists and is not an output of this command" in capsys.readouterr().err
    edf = ["edf", "--budget", "50M", "--spaces", "uniform", "--report-only", "--out", str(out)]
    (out / "edf.md").write_text("# my design notes\n")
    assert run_cli(main, edf) == 2
    assert "edf.md' exists and is not an output of this command" in capsys.readouterr().err
    (out / "edf.md").unlink()
    (out / "edf-uniform.png").write_bytes(b"\x89PNG not ours")
    assert run_cli(main, edf) == 2
    assert "edf-uniform.png' exists and is not an output of this command" in capsys.readouterr().err
    assert before["runs.csv"] == runs.read_bytes() and not (out / "edf-archs.csv").exists()
    # beside our own edf-archs.csv, a plot without the marker is one of ours from before the marker
    (out / "edf-archs.csv").write_text("space,arch,ops,top1,error\n")
    assert run_cli(main, edf) == 2
    assert "holds no run at fidelity" in capsys.readouterr().err  # past the output checks


def test_a_diverged_run_scores_worst_instead_of_leaving_the_analysis():
    from nas.analyze.cli import _scores
    rows = [("f", "a", 0.4, False), ("f", "b", math.nan, True), ("g", "c", 0.3, False)]
    runs = pd.DataFrame([{"kind": "train", "fidelity": f, "seed": 0, "arch": a, "val_top1": v, "diverged": d}
                         for f, a, v, d in rows], columns=RUN_COLUMNS)
    assert _scores(runs, "f") == {("a", 0): 0.4, ("b", 0): 0.0}


def test_the_generic_statistics_come_from_proxies_stats():
    from proxies import stats as generic

    for name in ("compare_samples", "seed_interval", "seed_p_value"):  # nas.analyze's public names still work
        assert getattr(nas.analyze, name) is getattr(generic, name)
