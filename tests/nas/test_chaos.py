"""nas.backends.chaos (benchmarks/chaos.py): kill a search at random moments, resume it, count what was lost."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from nas.backends import chaos


def _trial(outcome: str | None, arch: str = "", state: str = "COMPLETE"):
    attrs = {} if outcome is None else {"outcome": outcome, "arch": arch}
    return SimpleNamespace(user_attrs=attrs, state=SimpleNamespace(name=state))


def test_tally_counts_finished_lost_extra_retried_and_duplicates():
    trials = [_trial("trained", "a"), _trial("pruned", "a"), _trial("trained", "b"), _trial("diverged", "c"),
              _trial("error", "d"), _trial("stale", "e"), _trial("screened", "f"), _trial(None, state="RUNNING")]
    counts = chaos.tally(trials, requested=6)
    assert (counts["finished"], counts["lost"], counts["extra"]) == (5, 1, 0)
    assert counts["retried"] == 1 and counts["duplicate_trainings"] == 1  # a trained, then pruned again
    assert counts["outcomes"] == {"trained": 2, "pruned": 1, "diverged": 1, "error": 1, "stale": 1, "screened": 1,
                                  "RUNNING": 1}
    assert chaos.tally(trials, requested=3)["extra"] == 2 and chaos.tally(trials, requested=3)["lost"] == 0


def test_the_search_command_is_a_tiny_smoke_search(tmp_path):
    args = SimpleNamespace(data_dir="/data", trials=7, sampler="nsga2", workers=2)
    cmd = chaos.search_command(tmp_path, args)
    assert cmd[:3] == [sys.executable, "-m", "nas.search"]
    flags = {flag: cmd[cmd.index(flag) + 1] for flag in ("--out", "--fidelity", "--trials", "--sampler", "--workers",
                                                        "--data-dir", "--budget")}
    assert flags == {"--out": str(tmp_path), "--fidelity": "smoke", "--trials": "7", "--sampler": "nsga2",
                     "--workers": "2", "--data-dir": "/data", "--budget": "50M"}
    assert {"--no-seed-presets", "--no-compare-presets", "--no-progress"} <= set(cmd)
    default, repo = chaos.DEFAULT_DATA, Path(__file__).resolve().parents[2]
    assert default == repo.parent / "shared" / "data" / "cifar10"  # ../shared beside the repository


class _Quick(random.Random):
    def uniform(self, a, b):  # kill after 1 s instead of 3-15
        return 1.0


def test_kill_and_resume_kills_the_group_then_lets_it_finish(tmp_path, capsys):
    marker = tmp_path / "started"
    cmd = ["sh", "-c", f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; sleep 30"]  # long once, then quick
    assert chaos.kill_and_resume(cmd, 1, _Quick()) == (1, 2, 0)
    assert "run 1: SIGKILL after 1.0 s" in capsys.readouterr().err


def test_kill_and_resume_stops_at_a_run_that_ends_before_its_kill(capsys):
    assert chaos.kill_and_resume(["sh", "-c", "exit 3"], 2, random.Random(0)) == (0, 1, 3)
    assert "run 1: ended (exit 3) before its kill" in capsys.readouterr().err


@pytest.mark.parametrize("arch_b", ["b", "a"])
def test_main_reads_the_study_prints_and_writes_the_row(arch_b, tmp_path, monkeypatch, capsys):
    import optuna

    def fake_runs(cmd, kills, rng):  # the search's study, as the killed and resumed runs left it
        out = Path(cmd[cmd.index("--out") + 1])
        study = optuna.create_study(study_name=chaos.STUDY, storage=f"sqlite:///{out / 'study.db'}")
        for outcome, arch in (("trained", "a"), ("pruned", arch_b), ("stale", "c")):
            state = optuna.trial.TrialState.PRUNED if outcome == "pruned" else optuna.trial.TrialState.FAIL
            study.add_trial(optuna.trial.create_trial(state=state, user_attrs={"outcome": outcome, "arch": arch}))
        return kills, kills + 1, 0

    monkeypatch.setattr(chaos, "kill_and_resume", fake_runs)
    out = tmp_path / "chaos.json"
    rc = chaos.main(["--kills", "2", "--trials", "2", "--json", str(out)])
    row = json.loads(out.read_text())
    assert (row["kills"], row["runs"], row["requested"], row["finished"], row["retried"]) == (2, 3, 2, 2, 1)
    assert row["duplicate_trainings"] == (arch_b == "a") and rc == (arch_b == "a")  # a trained twice: exit 1
    assert list(row) == ["kills", "runs", "workers", "sampler", "requested", "finished", "lost", "extra", "retried",
                         "duplicate_trainings", "final_exit_code", "outcomes", "seconds", "study"]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("| kills | runs |") and printed[2].startswith("| 2 | 3 | 1 | 2 | 2 | 0 | 0 | 1 |")
    assert json.loads(printed[3]) == row
