"""Chaos: SIGKILL a search at random moments, resume it each time, count what was lost.

    python benchmarks/chaos.py [--kills 10] [--trials 40] [--workers 1] [--sampler random]
                               [--data-dir ../shared/data/cifar10] [--json out.json]

Runs ``python -m nas.search`` (tiny smoke fidelity, random sampler unless ``--sampler``:
with ``nsga2`` several workers often draw the same architecture at once) with a fixed command,
kills it with SIGKILL after a random 3-15 s (start-up included, so kills land in imports,
data loading, sampling, training and storage writes), starts the same command again, and
after ``--kills`` kills lets it finish. With ``--workers N`` the SIGKILL goes to the whole
process group (parent and workers, as when a machine is lost). Then reads the study and
prints: finished trials (trained, pruned, failed: they count towards --trials), lost trials
(requested minus finished), extra trials (finished beyond the request), retried trials (left
RUNNING by a killed process, failed as stale and queued again), and duplicate trainings (an
architecture trained more than once).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10"  # ../shared beside the repository
STUDY = "search-50M-smoke"  # the study the command below makes


def search_command(out: Path, args: argparse.Namespace) -> list[str]:
    """The search every run repeats: tiny smoke fidelity into ``out``."""
    return [sys.executable, "-m", "nas.search", "--budget", "50M", "--data-dir", args.data_dir, "--out", str(out),
            "--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--trials", str(args.trials),
            "--sampler", args.sampler, "--no-seed-presets",
            "--no-compare-presets", "--no-progress", "--workers", str(args.workers)]


def kill_and_resume(cmd: list[str], kills: int, rng: random.Random) -> tuple[int, int, int | None]:
    """Start ``cmd``, SIGKILL its process group after a random 3-15 s, start it again, ``kills`` times
    (sooner if a run ends before its kill); then let it finish. (kills done, runs, final exit code)."""
    done, runs = 0, 0
    logs = Path(tempfile.mkdtemp(prefix="binas-chaos-logs-"))  # beside, not in, the output folder
    early_exit = None
    while done < kills:
        log = logs / f"run-{runs + 1}.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
        runs += 1
        delay = rng.uniform(3, 15)
        try:
            early_exit = proc.wait(timeout=delay)
            print(f"run {runs}: ended (exit {early_exit}) before its kill at {delay:.1f} s; log {log}",
                  file=sys.stderr)
            break
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            done += 1
            print(f"run {runs}: SIGKILL after {delay:.1f} s", file=sys.stderr)
    if done < kills:  # finished early
        return done, runs, early_exit
    return done, runs + 1, subprocess.run(cmd, capture_output=True, text=True).returncode


def tally(trials, requested: int) -> dict:
    """What the study's ``trials`` say: outcomes, finished (they count towards ``requested``), lost,
    extra, retried (failed as stale) and duplicate trainings (an architecture trained twice or more)."""
    outcomes = Counter(t.user_attrs.get("outcome", t.state.name) for t in trials)
    counted = sum(outcomes[k] for k in ("trained", "pruned", "diverged", "error"))
    trainings = Counter(t.user_attrs["arch"] for t in trials if t.user_attrs.get("outcome") in ("trained", "pruned"))
    return {"finished": counted, "lost": max(0, requested - counted), "extra": max(0, counted - requested),
            "retried": outcomes.get("stale", 0), "duplicate_trainings": sum(n - 1 for n in trainings.values()),
            "outcomes": dict(outcomes)}


def main(argv: list[str] | None = None) -> int:
    """Exit code 0 when nothing was lost, extra or trained twice and the last run exited 0; else 1."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--sampler", default="random")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    out = Path(tempfile.mkdtemp(prefix="binas-chaos-"))
    start = time.time()
    kills, runs, final_code = kill_and_resume(search_command(out, args), args.kills, rng)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'study.db'}")
    counts = tally(study.trials, args.trials)
    row = {"kills": kills, "runs": runs, "workers": args.workers, "sampler": args.sampler, "requested": args.trials,
           **{k: counts[k] for k in ("finished", "lost", "extra", "retried", "duplicate_trainings")},
           "final_exit_code": final_code, "outcomes": counts["outcomes"], "seconds": round(time.time() - start, 1),
           "study": str(out / "study.db")}
    print("| kills | runs | workers | requested | finished | lost | extra | retried | duplicate trainings |"
          " final exit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {kills} | {runs} | {args.workers} | {args.trials} | {row['finished']} | {row['lost']} | {row['extra']} |"
          f" {row['retried']} | {row['duplicate_trainings']} | {final_code} |")
    print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")
    ok = row["lost"] == 0 and row["extra"] == 0 and row["duplicate_trainings"] == 0 and final_code == 0
    return 0 if ok else 1
