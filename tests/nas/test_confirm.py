"""``nas.analyze confirm``: a search's finds against the seed presets at fresh seeds (statistics on
synthetic scores with known answers, the command on small searches with a fake runner, one real run)."""

from __future__ import annotations

import hashlib
import sqlite3

import optuna
import pandas as pd
import pytest
from scipy import stats

import proxies.calibration.fidelity_runs as fidelity_runs
from nas.analyze import CONFIRM_COLUMNS, confirm_table, fresh_seeds
from nas.analyze.cli import _main
from nas.search import main as search_main
from search_space import PRESETS, SEED_PRESETS
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = ["--budget", "50M", "--fidelity", "smoke", "--epochs", "3", "--train-subset", "160", "--val-size", "40",
        "--no-progress", "--sampler", "random", "--trials", "4"]
SP = PRESETS["bin_mobilenet_sp"].arch.encode()


@pytest.mark.parametrize(("seed", "seeds", "n", "expected"), [
    (0, 1, 3, [1, 2, 3]), (1, 1, 3, [0, 2, 3]), (0, 2, 2, [2, 3]), (2, 3, 4, [0, 1, 5, 6])])
def test_fresh_seeds_skip_every_seed_the_search_used(seed, seeds, n, expected):
    assert fresh_seeds(seed, seeds, n) == expected


def test_confirm_table_verdicts_on_synthetic_scores():
    """The search saw the found network ahead of P by 5 and of Q by 2 points, behind R by 1. At fresh
    seeds it stays ahead of P (confirmed), falls behind Q (reversed), and R is a coin toss; Q lacks
    seed 3, which leaves that pair."""
    found = [{"arch": "F", "ops": 40e6, "top1": 0.40}]
    presets = [{"preset": "P", "arch": "P", "ops": 45e6, "top1": 0.35},
               {"preset": "Q", "arch": "Q", "ops": 30e6, "top1": 0.38},
               {"preset": "R", "arch": "R", "ops": 20e6, "top1": 0.41}]
    f, p, q, r = [0.40, 0.42, 0.39], [0.34, 0.35, 0.31], [0.45, 0.471], [0.37, 0.46, 0.38]
    scores = {(a, s): v for a, vals in (("F", f), ("P", p), ("Q", q), ("R", r))
              for s, v in zip((1, 2, 3), vals, strict=False)}
    t = confirm_table(scores, found, presets, [1, 2, 3])
    assert list(t.columns) == CONFIRM_COLUMNS
    t = t.set_index("preset")
    assert t["search_diff"].to_dict() == pytest.approx({"P": 5.0, "Q": 2.0, "R": -1.0})
    assert t["verdict"].to_dict() == {"P": "confirmed", "Q": "reversed", "R": "inconclusive"}
    assert t.loc["Q", "seeds"] == "1 2" and t.loc["P", "seeds"] == "1 2 3"
    assert t.loc["P", "found_top1"] == "40.00 / 42.00 / 39.00" and t.loc["P", "preset_top1"] == "34.00 / 35.00 / 31.00"
    d = [100 * (a - b) for a, b in zip(f, p, strict=True)]
    ci = stats.ttest_1samp(d, 0).confidence_interval()
    assert t.loc["P", "mean_diff"] == pytest.approx(sum(d) / 3)
    assert (t.loc["P", "ci_low"], t.loc["P", "ci_high"]) == pytest.approx((ci.low, ci.high))
    assert t.loc["P", "p_value"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    # Benjamini-Hochberg over the three pairs: each verdict kept only where its adjusted p < 0.05
    adjusted = stats.false_discovery_control(t["p_value"].to_numpy(), method="bh")
    assert t["p_adjusted"].to_numpy() == pytest.approx(adjusted)
    assert t["verdict_fdr"].to_dict() == {k: (v if a < 0.05 else "inconclusive")
                                          for (k, v), a in zip(t["verdict"].items(), adjusted, strict=True)}
    empty = confirm_table({}, found, presets[:1], [1, 2])  # nothing run yet: no interval, no verdict
    assert empty["seeds"].iloc[0] == "" and empty["verdict"].iloc[0] == "inconclusive"


class FakeRunner:
    """Stands in for ``fidelity_runs.run_one``: a top-1 per (arch, seed), the Sp preset 10 points behind;
    records the seed of each run and the data it got."""

    def __init__(self):
        self.calls: list[tuple[int, str, int]] = []

    def __call__(self, spec, arch, data, device=None):
        self.calls.append((spec.seed, arch, hash(data.train_x.numpy().tobytes())))
        h = int(hashlib.sha256(f"{arch}|{spec.seed}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        top1 = 0.3 + 0.05 * h - 0.1 * (arch == SP)
        return {"kind": spec.kind, "fidelity": spec.fidelity.key(), "seed": spec.seed, "arch": arch, "val_top1": top1,
                "sotl_e": 1.0, "score": top1, "cpu_seconds": 0.01, "seconds": 0.01, "diverged": False, "device": "cpu",
                "error": ""}


@pytest.fixture
def search(tmp_path, image_folder, fake_evaluate):
    """A small finished search without the presets (seed 0, fake proxy), which compared them after it."""
    out = tmp_path / "search"
    assert run_cli(search_main, ["--data-dir", str(image_folder), "--out", str(out), *TINY, "--no-seed-presets"]) == 0
    return out


def test_the_command_retrains_at_fresh_seeds_and_resumes(search, tmp_path, image_folder, monkeypatch, capsys):
    fake = FakeRunner()
    monkeypatch.setattr(fidelity_runs, "run_one", fake)
    out = tmp_path / "confirm"
    argv = ["confirm", str(search), "--data-dir", str(image_folder), "--out", str(out), "--quiet",
            "--presets", "bin_mobilenet_sp,mobinet_mid_k4_prelu"]
    assert run_cli(_main, [*argv, "--limit", "2"]) == 0  # stopped early: two of seed 1's three runs
    assert [c[0] for c in fake.calls] == [1, 1]
    assert run_cli(_main, [*argv, "--limit", "2"]) == 0  # the last of seed 1, then the first of seed 2
    assert [c[0] for c in fake.calls] == [1, 1, 1, 2]
    assert run_cli(_main, argv) == 0  # resumed: the rest, nothing twice
    assert [c[0] for c in fake.calls] == [1, 1, 1, 2, 2, 2, 3, 3, 3]  # the search used seed 0 only
    assert len({(c[0], c[1]) for c in fake.calls}) == 9
    data = {s: {c[2] for c in fake.calls if c[0] == s} for s in (1, 2, 3)}
    assert all(len(v) == 1 for v in data.values()) and len(set.union(*data.values())) == 3  # a seed selects data
    table = pd.read_csv(out / "confirm.csv")
    assert list(table.columns) == CONFIRM_COLUMNS and table["preset"].tolist() == ["bin_mobilenet_sp",
                                                                                  "mobinet_mid_k4_prelu"]
    assert (table["seeds"] == "1 2 3").all() and table["found"].nunique() == 1
    assert table["found"].iloc[0] not in {PRESETS[n].arch.encode() for n in SEED_PRESETS}
    runs = pd.concat(pd.read_csv(out / f"runs-s{s}.csv") for s in (1, 2, 3)).set_index(["arch", "seed"])["val_top1"]
    found = table["found"].iloc[0]
    diffs = [100 * (runs[(found, s)] - runs[(SP, s)]) for s in (1, 2, 3)]
    assert table["mean_diff"].iloc[0] == pytest.approx(sum(diffs) / 3)
    assert min(diffs) > 5  # the fake's Sp is 10 points behind at every seed
    assert table["verdict"].iloc[0] == ("confirmed" if table["search_diff"].iloc[0] > 0 else "reversed")
    md = (out / "confirm.md").read_text()
    assert md.startswith("# Confirmation at fresh seeds") and md.split("\n\n", 2)[2] in capsys.readouterr().out
    before = (out / "confirm.csv").read_bytes()
    assert run_cli(_main, [*argv, "--report-only"]) == 0 and len(fake.calls) == 9
    assert (out / "confirm.csv").read_bytes() == before
    front = len(pd.read_csv(search / "pareto.csv"))
    assert run_cli(_main, [*argv, "--top", "2"]) == 0  # one more found network, where the front has one
    assert len(fake.calls) == 9 + 3 * (front > 1) and len(pd.read_csv(out / "confirm.csv")) == 2 * min(front, 2)


def test_a_preset_the_search_never_scored_is_trained_at_its_seed_too(tmp_path, image_folder, fake_evaluate,
                                                                      monkeypatch):
    """A search run with --no-compare-presets has no top-1 of the presets: confirm trains each named preset at
    the search's own seed as well (its data), so the search's lead is measured, not left out."""
    fake = FakeRunner()
    monkeypatch.setattr(fidelity_runs, "run_one", fake)
    bare = tmp_path / "bare"
    assert run_cli(search_main, ["--data-dir", str(image_folder), "--out", str(bare), *TINY,
                                 "--no-compare-presets", "--no-seed-presets"]) == 0
    out = tmp_path / "confirm"
    assert run_cli(_main, ["confirm", str(bare), "--data-dir", str(image_folder), "--out", str(out), "--quiet",
                           "--presets", "bin_mobilenet_sp"]) == 0
    assert sorted((c[0], c[1]) for c in fake.calls if c[1] == SP) == [(0, SP), (1, SP), (2, SP), (3, SP)]
    assert len(fake.calls) == 1 + 2 * 3  # Sp at the search's seed, then the find and Sp at seeds 1-3
    row = pd.read_csv(out / "confirm.csv").iloc[0]
    found = pd.read_csv(bare / "pareto.csv").sort_values("top1", ascending=False)["top1"].iloc[0]
    sp0 = pd.read_csv(out / "runs-s0.csv").set_index("arch").loc[SP, "val_top1"]
    assert row["search_diff"] == pytest.approx(round(100 * (found - sp0), 2)) and row["seeds"] == "1 2 3"
    assert row["verdict"] in ("confirmed", "reversed", "inconclusive")


def test_bad_input_is_one_line_and_writes_nothing(search, tmp_path, image_folder, fake_evaluate, monkeypatch, capsys):
    monkeypatch.setattr(fidelity_runs, "run_one", FakeRunner())
    out = tmp_path / "o"
    base = ["confirm", str(search), "--data-dir", str(image_folder), "--out", str(out)]
    bare = tmp_path / "bare"
    assert run_cli(search_main, ["--data-dir", str(image_folder), "--out", str(bare), *TINY,
                                 "--no-compare-presets", "--no-seed-presets"]) == 0
    cases = [([*base, "--presets", "bin_mobilenet_x"], "--presets: unknown seed preset 'bin_mobilenet_x'"),
             ([*base, "--seeds", "1"], "--seeds: invalid value 1"),
             ([*base, "--search-seed", "4"], "--search-seed: 4 is not the seed the study records (0)"),
             ([*base, "--report-only"], "--out: no confirmation runs in"),
             (["confirm", str(tmp_path), "--out", str(out)], "holds no study.db"),
             (["confirm", str(bare), "--out", str(out)], "trained no seed preset to compare with"),
             (["confirm", str(bare), "--out", str(out), "--presets", "mobinet_x"], "unknown seed preset 'mobinet_x'")]
    for argv, message in cases:
        capsys.readouterr()
        assert run_cli(_main, argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], (argv, err)
        assert not out.exists()
    # a study from before binas recorded --seed: the seed is asked for, then used
    con = sqlite3.connect(search / "study.db")
    con.execute("DELETE FROM study_user_attributes WHERE key = 'binas:seed'")
    con.commit()
    con.close()
    assert run_cli(_main, [*base, "--presets", "bin_mobilenet_sp", "--limit", "0"]) == 2
    assert "--search-seed: the study in" in capsys.readouterr().err and not out.exists()
    assert run_cli(_main, [*base, "--presets", "bin_mobilenet_sp", "--search-seed", "1", "--limit", "0"]) == 0
    assert pd.read_csv(out / "confirm.csv")["seeds"].isna().all()  # nothing run yet
    assert "fresh seeds [0, 2, 3]" in (out / "confirm.md").read_text()  # around the seed it was given
    # someone else's confirm.md is not overwritten
    (out / "confirm.md").write_text("my notes\n")
    assert run_cli(_main, [*base, "--presets", "bin_mobilenet_sp", "--limit", "0"]) == 2
    assert (out / "confirm.md").read_text() == "my notes\n"


@pytest.mark.e2e
def test_real_confirmation_learns(tmp_path, image_folder, fake_evaluate, capsys):
    """Real trainings on a small, learnable image folder (10 classes, chance 0.1) after a fake-proxy search."""
    search = tmp_path / "search"
    assert run_cli(search_main, ["--data-dir", str(image_folder), "--out", str(search), *TINY,
                                 "--no-seed-presets"]) == 0
    out = tmp_path / "confirm"
    assert run_cli(_main, ["confirm", str(search), "--data-dir", str(image_folder), "--out", str(out), "--quiet",
                           "--seeds", "2", "--presets", "bin_mobilenet_sp", "--threads", "1"]) == 0
    table = pd.read_csv(out / "confirm.csv")
    assert len(table) == 1 and table["seeds"].iloc[0] == "1 2"
    top1 = pd.concat(pd.read_csv(out / f"runs-s{s}.csv") for s in (1, 2))["val_top1"]
    assert len(top1) == 4
    # learning: 12 of 40 validation images right by chance (0.1) has p < 0.001; some binary nets learn slowly
    assert top1.max() >= 0.3 and top1.mean() > 0.15, list(top1)
