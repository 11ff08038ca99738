"""``python -m nas.search``: end to end on CIFAR-10 subsets, resume, Ctrl-C, bad input."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pandas as pd
import pytest

from nas.report.outputs import OUTPUT_FILES
from nas.search import main
from nas.study import load_study
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = ["--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress"]


def _search(out, cifar_dir, *extra):
    return run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out), *TINY, *extra])


def _trained(out):
    t = pd.read_csv(out / "trials.csv")
    return t[t["outcome"].isin(["trained", "pruned"])]


def test_resume_continues_the_study_and_retrains_nothing(tmp_path, cifar_dir, fake_evaluate, capsys):
    out = tmp_path / "run"
    assert _search(out, cifar_dir, "--trials", "3", "--sampler", "tpe", "--population", "2") == 0
    first = _trained(out)
    assert len(first) == 3 and list(first["seed_preset"][:3]) == ["bin_mobilenet_l", "bin_mobilenet_sp",
                                                                   "mobinet_pre_k3_prelu"]
    stdout = capsys.readouterr().out
    assert f"outputs in {out}/" in stdout and "3 of 3" in stdout
    assert _search(out, cifar_dir, "--trials", "4", "--sampler", "tpe", "--population", "2") == 0
    second = _trained(out)
    assert len(second) == 7
    assert len(fake_evaluate.calls) == 7 and len(set(fake_evaluate.calls)) == 7  # nothing trained twice
    assert (second["ops"] <= 50e6).all()
    front = pd.read_csv(out / "pareto.csv")
    assert (front["ops"] <= 50e6).all() and len(front) >= 1
    for name in OUTPUT_FILES:
        assert (out / name).is_file()


def test_ctrl_c_stops_cleanly_and_the_same_command_completes_the_run(tmp_path, cifar_dir, monkeypatch, fake_class,
                                                                      capsys):
    fake = fake_class()
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return fake(*a, **k)

    monkeypatch.setattr("nas.objective.evaluate", flaky)
    out = tmp_path / "run"
    args = ("--trials", "4", "--no-seed-presets", "--no-compare-presets", "--sampler", "random")
    assert _search(out, cifar_dir, *args) == 130
    assert "interrupted: run the same command to resume" in capsys.readouterr().err
    assert len(_trained(out)) == 2 and (out / "report.md").is_file()
    assert _search(out, cifar_dir, *args) == 0  # completes the interrupted run: 4 in all, not 6
    trained = _trained(out)
    assert len(trained) == 4 and trained["arch"].is_unique
    study = load_study(f"sqlite:///{out / 'study.db'}")
    interrupted = [t for t in study.trials if t.user_attrs.get("outcome") == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].user_attrs["arch"] in set(trained["arch"])


@pytest.mark.slow  # scores or trains for tens of seconds
def test_screening_judges_more_candidates_than_it_trains(tmp_path, cifar_dir, fake_evaluate, capsys):
    out = tmp_path / "run"
    assert _search(out, cifar_dir, "--trials", "6", "--no-seed-presets", "--no-compare-presets", "--sampler",
                   "random", "--screen", "4", "--screen-score", "synflow") == 0
    t = pd.read_csv(out / "trials.csv")
    screened, trained = t[t["outcome"] == "screened"], _trained(out)
    assert len(trained) == 6 and len(screened) >= 3  # --trials counts trained architectures only
    assert screened["top1"].isna().all() and screened["screen_score"].notna().all()
    assert (screened["screen_by"] == "synflow").all() and trained["screen_place"].notna().all()
    assert set(fake_evaluate.calls) == set(trained["arch"])  # nothing screened out was trained
    err = capsys.readouterr().err
    assert f"{len(screened) + 6} candidates judged ({len(screened)} screened out, 6 trained)" in err
    assert f"{len(screened)} screened out" in (out / "report.md").read_text()


def test_uniform_space_ties_the_stages_together(tmp_path, cifar_dir, fake_evaluate, capsys):
    assert _search(tmp_path / "u", cifar_dir, "--trials", "4", "--sampler", "random", "--space", "uniform",
                   "--screen", "1") == 0
    t = pd.read_csv(tmp_path / "u" / "trials.csv")
    drawn = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(drawn) == 4
    for arch in drawn["arch"]:
        assert len(set(arch.split(":")[1:])) == 1, arch  # five identical stages
    assert "space uniform (one block choice" in (tmp_path / "u" / "report.md").read_text()
    assert "space uniform" in capsys.readouterr().err
    # the same command in the per-stage space is another study (its own default name and folder)
    assert _search(tmp_path / "u", cifar_dir, "--trials", "1", "--sampler", "random", "--space", "per-stage",
                   "--study-name", "search-50M-smoke-uniform") == 2
    assert "a different search space" in capsys.readouterr().err


@pytest.mark.parametrize("sampler", ["guided", "nsga2"])
def test_a_paper_space_smaller_than_trials_is_trained_whole_and_the_search_ends(
    sampler, tmp_path, cifar_dir, fake_evaluate, capsys
):
    """MoBiNet's space within 21M OPs: no extra block, K 0 or 1, ReLU or PReLU (4 architectures)."""
    out = tmp_path / "m"
    rc = run_cli(main, ["--budget", "21M", "--data-dir", str(cifar_dir), "--out", str(out), *TINY, "--trials", "6",
                        "--space", "mobinet", "--sampler", sampler, "--no-seed-presets", "--no-compare-presets"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "the mobinet space holds 4 architectures within 21.00M OPs: this run trains at most the 4" in err
    trained = _trained(out)
    assert len(trained) == 4 and trained["arch"].is_unique
    assert set(trained["arch"]) == {f"w1.0-d1:L-none-k{k}-{a}-all" for k in (0, 1) for a in ("relu", "prelu")}
    assert "space mobinet (MoBiNet's own design space)" in (out / "report.md").read_text()
    assert "Mid block" in (out / "report.md").read_text() and "parallel DW/PW" not in (out / "report.md").read_text()
    # the same command again: nothing left to train, the study and its outputs stay
    assert run_cli(main, ["--budget", "21M", "--data-dir", str(cifar_dir), "--out", str(out), *TINY, "--trials", "6",
                          "--space", "mobinet", "--sampler", sampler, "--no-seed-presets", "--no-compare-presets"]) == 0
    assert "trains at most the 0 not yet trained" in capsys.readouterr().err
    assert len(_trained(out)) == 4 and len(fake_evaluate.calls) == 4


@pytest.mark.e2e
def test_real_search_learns(tmp_path, cifar_dir, capsys):
    """Two seed presets trained for real on 2,000 CIFAR-10 images: the binary MobileNet-Sp
    clearly above chance (measured: 27-28% top-1 at width scale 0.5)."""
    out = tmp_path / "real"
    rc = run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out), "--trials", "2",
                        "--epochs", "2", "--train-subset", "2000", "--val-size", "500", "--width-scale", "0.5",
                        "--no-progress"])
    assert rc == 0
    t = pd.read_csv(out / "trials.csv").set_index("seed_preset")
    assert t.loc["bin_mobilenet_sp", "outcome"] == "trained"
    assert t.loc["bin_mobilenet_sp", "top1"] >= 0.2
    assert t.loc["bin_mobilenet_sp", "curve"].count(" ") == 1  # two epochs
    report = (out / "report.md").read_text()
    assert "bin_mobilenet_sp" in report


BAD = [
    (["--budget", "abc"], "--budget: invalid value 'abc'"),
    (["--budget", "-5M"], "--budget: invalid value '-5M'"),
    (["--budget", "0"], "--budget: invalid value '0'"),
    (["--budget", "50Q"], "--budget: invalid value '50Q'"),
    (["--budget", ""], "--budget: invalid value ''"),
    (["--budget", "50M", "--sampler", "cmaes"], "--sampler: unknown value 'cmaes'"),
    (["--budget", "50M", "--backend", "spark"], "--backend: unknown value 'spark'"),
    (["--budget", "50M", "--trials", "0"], "--trials: invalid value 0"),
    (["--budget", "50M", "--workers", "0"], "--workers: invalid value 0"),
    (["--budget", "50M", "--fidelity", "extreme"], "fidelity: unknown name 'extreme'"),
    (["--budget", "50M", "--timeout", "soon"], "--timeout: invalid value 'soon'"),
    (["--budget", "50M", "--trial-timeout", "-1"], "--trial-timeout: invalid value '-1'"),
    (["--budget", "50M", "--population", "1"], "--population: invalid value 1"),
    (["--budget", "50M", "--val-size", "3"], "val_size: invalid value 3"),
    (["--budget", "50M", "--ray-address", "x:1"], "--ray-address: only meaningful with --backend ray"),
    (["--budget", "50M", "--resolution", "7"], "--resolution: invalid value 7"),
    (["--budget", "50M", "--num-classes", "1"], "--num-classes: invalid value 1"),
    (["--budget", "50M", "--ops-convention", "flops"], "--ops-convention: unknown value 'flops'"),
    (["--budget", "50M", "--seed", "-1"], "--seed: invalid value -1"),
    (["--budget", "50M", "--epochs", "0"], "epochs: invalid value 0"),
    (["--budget", "50M", "--study-name", " "], "--study-name: invalid value ' '"),
    (["--budget", "50M", "--screen", "0"], "--screen: invalid value 0"),
    (["--budget", "50M", "--space", "global"], "--space: unknown value 'global'"),
    (["--budget", "50M", "--screen-score", "ops"], "--screen-score: unknown value 'ops'"),
    (["--budget", "50M", "--seeds", "0"], "--seeds: invalid value 0"),
    (["--budget", "50M", "--seeds", "2", "--backend", "ray"], "--seeds: 2 seeds per architecture need --backend"),
    (["--trials", "3"], "the following arguments are required: --budget"),
    (["--budget", "50M", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) or "empty" for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(main, [*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()  # nothing written


def test_bad_data_dir_and_out_write_nothing(tmp_path, cifar_dir, capsys):
    out = tmp_path / "out"
    assert run_cli(main, ["--budget", "50M", "--data-dir", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
    afile = tmp_path / "file"
    afile.write_text("keep")
    assert run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(afile)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err and afile.read_text() == "keep"
    assert run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(afile / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err and afile.read_text() == "keep"


def test_unwritable_out_is_refused_before_anything_is_done(unwritable_dir, cifar_dir, capsys):
    for out in (unwritable_dir, unwritable_dir / "run"):
        assert run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out), *TINY]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--out: {str(out)!r} is not writable" in err[0], err
    assert not (unwritable_dir / "run").exists()


def test_changed_budget_on_an_existing_study_is_refused(tmp_path, cifar_dir, fake_evaluate, capsys):
    out = tmp_path / "run"
    assert _search(out, cifar_dir, "--trials", "1", "--study-name", "s") == 0
    before = (out / "study.db").read_bytes()
    assert run_cli(main, ["--budget", "40M", "--data-dir", str(cifar_dir), "--out", str(out), "--study-name", "s",
                          *TINY]) == 2
    assert "created with budget 50.00M OPs" in capsys.readouterr().err
    assert (out / "study.db").read_bytes() == before


@pytest.mark.slow
def test_module_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nas.search", "--budget", "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --budget: invalid value 'nonsense' (expected OPs such as 50M, 0.05G, 50e6 or 50000000)"]


@pytest.mark.e2e
def test_same_seed_same_architectures_and_accuracies(tmp_path, cifar_dir):
    """On the CPU, the same --seed, sampler and fidelity give the same trials (real training)."""
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets",
                       "--no-compare-presets", "--sampler", "nsga2",
                       "--population", "2", "--seed", "7") == 0
        t = pd.read_csv(out / "trials.csv")
        runs.append(t[["arch", "outcome", "top1"]].reset_index(drop=True))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert runs[0]["top1"].notna().sum() == 3


def _bad_data_dirs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = tmp_path / "wrong" / "images"
    wrong.mkdir(parents=True)
    (wrong / "a.jpg").write_bytes(b"x")
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    broken = tmp_path / "broken" / "train" / "cat"
    broken.mkdir(parents=True)
    (broken / "0.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "broken" / "test").mkdir()
    return {"missing": tmp_path / "missing", "empty": empty, "wrong layout": wrong.parent, "a file": afile,
            "unreadable images": tmp_path / "broken"}


@pytest.mark.parametrize("case", ["missing", "empty", "wrong layout", "a file", "unreadable images"])
def test_bad_data_directories(case, tmp_path, capsys):
    out = tmp_path / "out"
    data = _bad_data_dirs(tmp_path)[case]
    assert run_cli(main, ["--budget", "50M", "--data-dir", str(data), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not out.exists()


@pytest.mark.parametrize(("url", "message"), [("nosuchdb://x", "--storage: cannot open 'nosuchdb://x'"),
                                               ("sqlite:////nonexistent-dir/x/study.db", "--storage: cannot open")])
def test_bad_storage_urls(url, message, tmp_path, cifar_dir, capsys):
    assert run_cli(main, ["--budget", "50M", "--data-dir", str(cifar_dir), "--storage", url,
                          "--out", str(tmp_path / "o"), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_corrupt_study_file_via_the_cli_is_left_untouched(tmp_path, cifar_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "study.db").write_bytes(b"garbage" * 50)
    assert _search(out, cifar_dir, "--trials", "1") == 2
    assert "not a usable SQLite database" in capsys.readouterr().err
    assert (out / "study.db").read_bytes() == b"garbage" * 50
