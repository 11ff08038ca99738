"""The README's commands are the ones CI runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_cmd = next(line.strip() for line in readme.splitlines() if "python -m pytest" in line)
    assert test_cmd in ci.splitlines()


def test_the_main_command_writes_where_git_does_not_look(monkeypatch, tmp_path):
    """The README's main command (default --out) writes under runs/, which git ignores: a fresh
    clone's `git status` stays clean after it, and the committed reference runs in results/ are
    never overwritten."""
    import shutil
    import subprocess

    from nas.cli_args import parse_args

    monkeypatch.chdir(REPO)
    args, _ = parse_args(["--budget", "50M"])
    assert args.out.parts[0] == "runs" and not str(args.out).startswith("results")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return
    probe = args.out / "trials.csv"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO)
    assert ignored.returncode == 0, f"{probe} is not ignored by git"


def test_the_seed_noise_table_is_the_measured_one():
    """proxies.SEED_NOISE holds figures copied from results/calibration/seed-noise.csv (written by
    benchmarks/fidelity.py): each entry must match that file."""
    import pandas as pd
    import pytest

    from proxies import SEED_NOISE

    path = REPO / "results" / "calibration" / "seed-noise.csv"
    measured = pd.read_csv(path).set_index("fidelity") if path.is_file() else pd.DataFrame()
    for key, figure in SEED_NOISE.items():
        assert key in measured.index, key
        row = measured.loc[key]
        assert figure.sd == pytest.approx(row["seed_sd"], abs=5e-5), key
        assert (figure.archs, figure.runs) == (row["archs"], row["runs"]), key


def test_the_search_defaults_follow_the_committed_rank_fidelity_rules():
    """The search's default evaluator and its screening default are what the committed
    results/calibration/fidelity.csv (benchmarks/fidelity.py) and, for the surrogate's screening,
    results/calibration/surrogate.json (python -m proxies.calibration.surrogate_fit) decide."""
    import pandas as pd

    from nas.screening import SURROGATE, ScreenPolicy
    from nas.settings import SearchSettings
    from proxies.calibration.evaluators import EVALUATORS
    from proxies.calibration.rank_fidelity import choose_screen, screen_decision
    from proxies.scoring.fidelity import FIDELITIES

    table = pd.read_csv(REPO / "results" / "calibration" / "fidelity.csv")
    chosen = table.loc[table["is_default"].astype(bool), "evaluator"].item()
    ev = EVALUATORS[chosen]
    assert ev.runs and ev.metric == "val_top1", chosen  # a training evaluator ranked as the search ranks
    assert ev.runs[0].fidelity == FIDELITIES["default"], chosen  # the search trains at its fidelity
    assert len(ev.runs) == SearchSettings.__dataclass_fields__["seeds"].default, chosen  # with its seeds
    if ScreenPolicy().score == SURROGATE:  # measured as it screens by proxies.calibration.surrogate_fit
        s = json.loads((REPO / "results" / "calibration" / "surrogate.json").read_text())["surrogate_place"]
        state, why = screen_decision(SURROGATE, s["n"], s["kendall"], s["kendall_lo"])
    else:
        state, why = choose_screen(table)
    assert state in ("on", "off"), why  # the committed results decide (a row or summary with its interval)
    if state == "on":
        assert ScreenPolicy().active, why
    elif state == "off":
        assert not ScreenPolicy().active, why


def test_the_shipped_surrogate_prior_is_what_surrogate_fit_measured():
    """proxies/priors/surrogate_prior.json (what a default search fits besides its own trainings) holds
    exactly the held-apart results whose fit results/calibration/surrogate.json measured, and no
    reference architecture: regenerate both with
    ``python -m proxies.calibration.surrogate_fit --prior proxies/priors/surrogate_prior.json``."""
    from proxies import load_prior
    from proxies.calibration.reference import read_reference

    prior = load_prior()
    measured = json.loads((REPO / "results" / "calibration" / "surrogate.json").read_text())
    assert prior is not None and prior.fidelity == measured["fidelity"]
    assert (prior.digest(), len(prior.archs)) == (measured["fit_digest"], measured["n_fit"])
    assert not set(prior.archs) & set(read_reference(REPO / "results" / "reference")["arch"])


def test_the_committed_rank_fidelity_table_recomputes_from_its_scores():
    """Every kendall_ref in results/calibration/fidelity.csv is what fidelity-scores.csv and
    results/reference/reference.csv give (checked on the committed files)."""
    import math

    import pandas as pd
    import pytest

    from proxies.calibration.rank_fidelity import recompute_kendall

    calib, ref = REPO / "results" / "calibration", REPO / "results" / "reference" / "reference.csv"
    table = pd.read_csv(calib / "fidelity.csv")
    assert table["is_default"].astype(bool).sum() == 1
    checked = 0
    for name, k in table.set_index("evaluator")["kendall_ref"].items():
        again = recompute_kendall(calib / "fidelity-scores.csv", ref, name)
        assert again == pytest.approx(k, abs=1e-9, nan_ok=True), name
        checked += not math.isnan(k)
    assert checked >= 6  # at least six evaluators measured



def _defines_main(module: Path) -> bool:
    """Whether ``module`` defines or imports a top-level ``main``."""
    import ast

    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "main" for a in node.names):
            return True
    return False


def test_every_benchmark_script_is_a_thin_shim_over_a_package_module():
    """A benchmarks/*.py holds a docstring with its command, ``from <package module> import main`` and
    ``if __name__ == "__main__": sys.exit(main())``: no function or class of its own, at most 40 lines;
    the module it imports exists in the package and defines ``main``."""
    import ast

    scripts = sorted((REPO / "benchmarks").glob("*.py"))
    assert len(scripts) >= 11
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 40, script.name
        tree = ast.parse(text)
        assert f"python benchmarks/{script.name}" in (ast.get_docstring(tree) or ""), script.name
        defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                                 ast.Lambda))]
        assert not defined, (script.name, [getattr(n, "name", "lambda") for n in defined])
        sources = [n.module for n in tree.body if isinstance(n, ast.ImportFrom)
                   and [a.name for a in n.names] == ["main"] and not n.level]
        assert len(sources) == 1, script.name
        module = REPO.joinpath(*sources[0].split("."))
        assert sources[0].split(".")[0] in {"search_space", "proxies", "nas"}, (script.name, sources[0])
        path = module.with_suffix(".py") if module.with_suffix(".py").is_file() else module / "__init__.py"
        assert path.is_file() and _defines_main(path), (script.name, sources[0])
        body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
        assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), script.name  # docstring
        assert len(body) == 2 and ast.unparse(body[1]) == "if __name__ == '__main__':\n    sys.exit(main())", (
            script.name)

# The working history of the project lives in git, never in what it ships: these phrases say in which working
# period or for which ticket something was made.
_HISTORY = re.compile(
    r"\b(?:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|this|that|last|next"
    r"|earlier|later|previous|each|several)\s+(?:working\s+)?sessions?\b|sessions?\s+of\s+a\b|issue\s*#?\d+"
    r"|the\s+issue(?:'s)?\b|\btickets?\b)", re.IGNORECASE)
_SHIPPED = (".py", ".md", ".csv", ".json", ".sh", ".toml", ".txt", ".cfg")


def test_nothing_shipped_narrates_the_working_history():
    hits = []
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO)
        if rel.parts[0] in {".git", "runs", ".ruff_cache", ".pytest_cache"} or not path.is_file():
            continue
        if path.suffix not in _SHIPPED and rel.parts[0] != ".ci":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{rel}: {m.group(0)!r}" for m in _HISTORY.finditer(text) if path.name != "test_repo.py"]
    assert not hits, hits[:20]


def test_the_history_check_catches_what_it_must():
    for bad in ("rerun in the tenth session", "for issue 12", "the issue's columns", "ran across several sessions"):
        assert _HISTORY.search(bad), bad
    for fine in ('scope="session"', "ort.InferenceSession(", "a fifth of the images", "start_new_session=True"):
        assert not _HISTORY.search(fine), fine


def test_the_results_index_names_every_folder_and_no_other():
    readme = (REPO / "results" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)/` \|", readme, flags=re.MULTILINE)
    folders = sorted(p.name for p in (REPO / "results").iterdir() if p.is_dir())
    assert sorted(rows) == folders
    for folder in folders:  # a folder whose tool wrote a manifest: the index's command is that tool's
        manifest = REPO / "results" / folder / "manifest.json"
        if manifest.is_file():
            tool = json.loads(manifest.read_text(encoding="utf-8"))["tool"]
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{folder}/` |"))
            assert tool in row, (folder, tool)


def test_the_screen_beside_the_guided_sampler_follows_the_replay():
    import pandas as pd

    from nas.analyze.replay import screen_beside_guided
    from nas.cli_args import GUIDED_SCREEN, parse_args

    runs = pd.read_csv(REPO / "results" / "strategies" / "strategy-runs.csv")
    on, why = screen_beside_guided(runs)
    assert (GUIDED_SCREEN > 1) == on, why
    _, settings = parse_args(["--budget", "50M", "--sampler", "guided"])
    assert settings.screen.keep_one_in == GUIDED_SCREEN
    _, settings = parse_args(["--budget", "50M", "--sampler", "guided", "--screen", "3"])
    assert settings.screen.keep_one_in == 3  # asked for: kept


def test_the_default_sampler_and_trainings_follow_the_decision_rule():
    """docs/search.md's rule: the replay's best guided variant beats nsga2-screen (95% interval above 0) and
    beats random search in real runs at 2 of 3 seeds and the EDF sample's median at seed 0; the trainings,
    the fewest whose median replay best is within one seed SD of the 36-training one."""
    import json

    import pandas as pd

    from nas.analyze.replay import default_trainings, strategy_table
    from nas.cli_args import DEFAULT_SAMPLER, DEFAULT_TRIALS, parse_args
    from nas.guided import ACQUISITION
    from proxies.calibration.noise import SEED_NOISE

    runs = pd.read_csv(REPO / "results" / "strategies" / "strategy-runs.csv")
    candidate = f"guided-{ACQUISITION}"
    row = strategy_table(runs[runs["strategy"].isin([candidate, "nsga2-screen"])], (36,)).set_index("strategy")
    replay_holds = row.loc[candidate, "hv_gain_lo"] > 0
    real = REPO / "results" / "strategies-real"
    best = {}
    for run in ("guided", "random"):
        for seed in range(3):
            trials = real / f"{run}-s{seed}" / "trials.csv"
            if trials.is_file():
                t = pd.read_csv(trials)
                if t["outcome"].isin(["trained", "pruned", "diverged", "error"]).sum() == 36:  # a finished run
                    best[run, seed] = t.loc[t["outcome"] == "trained", "top1"].max()
    paired = [s for s in range(3) if ("random", s) in best and ("guided", s) in best]
    wins = sum(best[("guided", s)] > best[("random", s)] for s in paired)
    side = pd.read_csv(real / "rediscovery" / "rediscovery-runs.csv").set_index("run")
    above_edf_median = side.loc["guided-s0", "best_top1"] > side.loc["guided-s0", "random_best_median"]
    rule = replay_holds and wins >= 2 and above_edf_median
    assert (DEFAULT_SAMPLER == "guided") == rule, (replay_holds, wins, above_edf_median)
    sd = SEED_NOISE["e2-n3000-r32-ws1-b32-v2000"].sd
    assert default_trainings(runs, candidate, sd) == DEFAULT_TRIALS
    args, settings = parse_args(["--budget", "50M"])
    assert (args.sampler, args.trials) == (DEFAULT_SAMPLER, DEFAULT_TRIALS)
    assert json.dumps(settings.screen.keep_one_in) == "1"  # the guided sampler trains every proposal
