"""``nas.analyze rediscovery``: finished --no-seed-presets searches side by side (tables from known
report data, and the command on real small searches with a fake proxy)."""

from __future__ import annotations

import json
import math
import sqlite3

import optuna
import pandas as pd
import pytest

from nas import report_data
from nas.analyze import CHOICES
from nas.analyze import main as analyze_main
from nas.analyze.edf import ARCH_COLUMNS
from nas.analyze.rediscovery import (
    CHOICE_COLUMNS,
    PRESET_COLUMNS,
    RUN_COLUMNS,
    rediscovery_markdown,
    rediscovery_tables,
)
from nas.report.choices import KEY_CHOICES
from nas.search import main as search_main
from nas.study import load_study
from proxies import Fidelity
from search_space import SEED_PRESETS
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = ["--budget", "50M", "--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress",
        "--sampler", "random", "--trials", "3"]


def _report(front_top1: float | None, presets: list[tuple[str, float | None, bool | None]], verdict: str) -> dict:
    """A minimal report_data(): one front architecture (none when ``front_top1`` is None), the given
    presets, one key choice."""
    arch = "w1.0-d1:S-none-k0-2xdw-relu-pw"
    front = pd.DataFrame([{"arch": arch, "ops": 44e6, "top1": front_top1}] if front_top1 else [],
                         columns=["arch", "ops", "top1"])
    near = {"nearest": arch, "nearest_distance": 3} if front_top1 else {}
    seeds = [{"preset": p, "ops": 30e6, "status": "after" if t is not None else "over budget", "top1": t,
              "top1_se": 0.01 if t is not None else None, "dominated": dom, "lead": None, "within_noise": None,
              **near} for p, t, dom in presets]
    choice = {"choice": "PReLU", "paper": "MoBiNet", "preset": "mobinet_mid_k4_prelu", "preset_ops": 32e6,
              "trained": 4, "random_share": 0.5, "trained_share": 0.25, "front_share": None, "best_share": None,
              "near": None, "near_arch": None, "near_ops": None, "near_share": None, "verdict": "no front",
              "rho": 0.5, "p": 0.2, "rho_ops": None, "p_ops": None}
    if front_top1:
        choice.update(front_share=1.0, best_share=1.0, near=1, near_arch=arch, near_ops=44e6,
                      near_share=1.0 if verdict else 0.0, verdict=verdict or "not found", rho_ops=0.4, p_ops=0.3)
    return {"meta": {"per_stage": False, "fidelity": "f", "budget": 50e6}, "study": "s",
            "best": front.iloc[0].to_dict() if front_top1 else None, "front": front,
            "counts": {"trained": 4, "pruned": 2}, "train_seconds": 600.0, "seeds": seeds, "key_choices": [choice]}


def test_tables_and_markdown_known_answers():
    reports = {"a": _report(0.4, [("p1", 0.3, True), ("p2", None, None)], "rediscovered"),
               "b": _report(0.2, [("p1", 0.3, False), ("p2", None, None)], ""),
               "c": _report(None, [("p1", 0.3, False), ("p2", None, None)], "")}  # nothing trained fully
    t = rediscovery_tables(reports)
    assert list(t["runs"].columns) == RUN_COLUMNS and list(t["presets"].columns) == PRESET_COLUMNS
    assert list(t["choices"].columns) == CHOICE_COLUMNS
    assert t["runs"][["run", "trials", "trained", "front"]].values.tolist() == [["a", 6, 4, 1], ["b", 6, 4, 1],
                                                                                  ["c", 6, 4, 0]]
    assert t["runs"]["train_minutes"].tolist() == [10.0] * 3
    assert len(t["presets"]) == 6 and len(t["choices"]) == 3
    assert str(t["presets"]["nearest_distance"].dtype) == "Int64" and str(t["choices"]["near"].dtype) == "Int64"
    md = rediscovery_markdown(t)
    lines = md.splitlines()
    assert lines[0] == "# Rediscovery: searches without the seed presets" and "nan" not in md
    c = next(line for line in lines if line.startswith("| c |"))
    assert c == "| c | uniform | 6 (4) | 0 | - | - | - | - | 10 min |"
    p1 = next(line for line in lines if line.startswith("| p1 |"))
    assert p1 == ("| p1 | 30.00M | 30.0% ± 1.0, dominated; nearest at distance 3 | 30.0% ± 1.0, not dominated;"
                  " nearest at distance 3 | 30.0% ± 1.0; no front to compare | 1 of 3 |")
    p2 = next(line for line in lines if line.startswith("| p2 |"))
    assert p2.endswith("| over budget | over budget | over budget | - |")
    prelu = next(line for line in lines if line.startswith("| PReLU |"))
    assert "| rediscovered (nearest 100% at 44.00M; chance 50%); rho +0.40 (p 0.3) |" in prelu
    assert "| not found (nearest 0% at 44.00M; chance 50%); rho +0.40 (p 0.3) |" in prelu
    assert prelu.endswith("| no front | 1 of 3 |")


@pytest.fixture
def searches(tmp_path, cifar_dir, fake_evaluate):
    outs = []
    for space, seed in (("uniform", 0), ("per-stage", 1)):
        out = tmp_path / f"rd-{space}"
        args = ["--data-dir", str(cifar_dir), "--out", str(out), *TINY, "--no-seed-presets", "--space", space,
                "--seed", str(seed)]
        assert run_cli(search_main, args) == 0
        outs.append(out)
    return outs


def test_the_command_on_two_searches(searches, tmp_path, capsys):
    out = tmp_path / "summary"
    assert analyze_main(["rediscovery", *map(str, searches), "--out", str(out)]) == 0
    runs = pd.read_csv(out / "rediscovery-runs.csv")
    assert runs["run"].tolist() == ["rd-uniform", "rd-per-stage"] and runs["space"].tolist() == ["uniform", "per-stage"]
    presets = pd.read_csv(out / "rediscovery-presets.csv")
    choices = pd.read_csv(out / "rediscovery-choices.csv")
    assert len(presets) == 2 * len(SEED_PRESETS) and len(choices) == 2 * len(KEY_CHOICES)
    # the same figures as each search's own report
    d = report_data(load_study(f"sqlite:///{searches[1] / 'study.db'}"))
    assert runs["best_top1"].iloc[1] == pytest.approx(d["best"]["top1"])
    mine = presets[presets["run"] == "rd-per-stage"].set_index("preset")
    for e in d["seeds"]:
        assert mine.loc[e["preset"], "status"] == e["status"]
        if e["evaluated"]:
            assert mine.loc[e["preset"], "top1"] == pytest.approx(e["top1"])
    assert (out / "rediscovery.md").read_text() in capsys.readouterr().out
    assert analyze_main(["rediscovery", *map(str, searches), "--out", str(out)]) == 0  # its own files: rewritten
    text = pd.read_csv(out / "rediscovery-choices.csv", dtype=str)  # integers written as such, not 1.0
    assert text["near"].dropna().str.fullmatch(r"\d+").all() and text["trained"].str.fullmatch(r"\d+").all()
    assert runs["random_n"].isna().all() and "## Against random search" not in (out / "rediscovery.md").read_text()
    # against a random sample of the uniform space at the searches' fidelity (the per-stage one has none);
    # the uniform search ran with --seed 0, and its study records it
    fidelity = runs["fidelity"].iloc[0]
    sample = pd.DataFrame({"space": "uniform", "arch": [f"a{i}" for i in range(8)], "ops": 20e6,
                           "top1": [0.0] * 7 + [1.0], "error": None, "fidelity": fidelity, "budget": 50e6,
                           "data_seed": 0, "convention": "bireal", "resolution": 224, "num_classes": 1000,
                           "test_fraction": 0.2, "skip_bad_images": False})
    for c in CHOICES:
        sample[c] = "x"
    sample.to_csv(tmp_path / "edf-archs.csv", index=False)
    random = ["--random", str(tmp_path / "edf-archs.csv")]
    assert analyze_main(["rediscovery", *map(str, searches), "--out", str(out), *random]) == 0
    runs = pd.read_csv(out / "rediscovery-runs.csv")
    uniform, per_stage = runs.iloc[0], runs.iloc[1]
    assert uniform["random_n"] == 8 and uniform["random_rank"] == 1 and math.isnan(per_stage["random_n"])
    trials = report_data(load_study(f"sqlite:///{searches[0] / 'study.db'}"))["trials"]
    own = trials[trials["outcome"].isin(["trained", "pruned", "diverged", "error"])]
    k = round(own["epochs_done"].fillna(Fidelity.from_key(fidelity).epochs).sum() / Fidelity.from_key(fidelity).epochs)
    assert uniform["random_k"] == k and 1 <= k <= 8
    assert uniform["beats_random"] == pytest.approx(1 - k / 8)  # loses to whoever drew the 1.0
    md = (out / "rediscovery.md").read_text()
    assert "## Against random search" in md and "rd-per-stage: no sample of the same space" in md
    manifest = json.loads((out / "manifest.json").read_text())  # written by the tool, once per invocation
    assert manifest["tool"] == "python -m nas.analyze" and manifest["runs"] == 3
    assert manifest["command"] == " ".join(["python -m nas.analyze", "rediscovery", *map(str, searches),
                                            "--out", str(out), *random])
    assert manifest["data"]["searches"] == [str(s) for s in searches]
    assert manifest["data"]["random"][0]["path"] == str(tmp_path / "edf-archs.csv")


def test_bad_input(searches, tmp_path, cifar_dir, fake_evaluate, capsys):
    from nas.analyze.cli import _main

    empty = tmp_path / "empty"
    empty.mkdir()
    twin = tmp_path / "twin" / "rd-uniform"
    twin.mkdir(parents=True)
    (twin / "study.db").write_bytes((searches[0] / "study.db").read_bytes())
    not_db, foreign, blank = tmp_path / "not-db", tmp_path / "foreign", tmp_path / "blank"
    for folder in (not_db, foreign, blank):
        folder.mkdir()
    (not_db / "study.db").write_text("not a database\n")
    con = sqlite3.connect(foreign / "study.db")
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    (blank / "study.db").touch()
    before = {f: (f / "study.db").read_bytes() for f in (not_db, foreign, blank)}
    cases = [([str(empty)], "holds no study.db"),
             ([str(searches[0]), str(searches[0])], "is given twice"),
             ([str(searches[0]), str(twin)], "has the same name as"),
             ([str(not_db)], "is not an Optuna study database"),
             ([str(foreign)], "is not an Optuna study database"),
             ([str(blank)], "is not an Optuna study database")]
    seeded = tmp_path / "seeded"
    assert run_cli(search_main, ["--data-dir", str(cifar_dir), "--out", str(seeded), *TINY]) == 0
    cases.append(([str(seeded)], "seeded with the presets"))
    for folders, message in cases:
        capsys.readouterr()
        assert run_cli(_main, ["rediscovery", *folders, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert message in err and "SEARCH:" in err and "Traceback" not in err and err.count("\n") == 1
    # refused, never written to (Optuna would create its tables in an empty or foreign database)
    assert all((f / "study.db").read_bytes() == b for f, b in before.items())
    # someone else's rediscovery.md is not overwritten
    foreign = tmp_path / "o2"
    foreign.mkdir()
    (foreign / "rediscovery.md").write_text("my notes\n")
    assert run_cli(_main, ["rediscovery", str(searches[0]), "--out", str(foreign)]) == 2
    assert (foreign / "rediscovery.md").read_text() == "my notes\n"
    assert not (foreign / "rediscovery-runs.csv").exists()
    (tmp_path / "old.csv").write_text("space,arch,ops,top1,error\n")
    words = tmp_path / "words.csv"
    pd.DataFrame([dict.fromkeys(ARCH_COLUMNS, "x")]).to_csv(words, index=False)
    for extra, message in ((["--random", str(tmp_path / "absent.csv")], "--random: cannot read"),
                           (["--random", str(tmp_path / "old.csv")], "is not an edf-archs.csv of this version"),
                           (["--random", str(words)], "has a ops that is not a number ('x')"),
                           (["--search-seeds", "0,1"], "--search-seeds: '0,1' is not 1 comma-separated seeds"),
                           (["--search-seeds", "a"], "--search-seeds: 'a' is not 1"),
                           (["--search-seeds", "5"], "--search-seeds: 5 is not the seed the study of 'rd-uniform'"
                                                     " records (0)")):
        capsys.readouterr()
        assert run_cli(_main, ["rediscovery", str(searches[0]), *extra, "--out", str(tmp_path / "o3")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and not (tmp_path / "o3").exists(), err
