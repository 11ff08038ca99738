"""The command line of ``python -m nas.search`` and its validation (bad input: ValueError)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxies.data.runtime import check_runtime, usable_cpus
from proxies.scoring.run import add_fidelity_args, check_seed, data_options_from_args, fidelity_from_args
from search_space import SPACE_HELP, SPACES, get_space
from search_space.cli import ArgumentParser, check_out_folder, choice, int_at_least

from .budget import parse_budget, parse_duration
from .samplers import SAMPLERS
from .screening import SCREEN_SCORES, ScreenPolicy
from .settings import SearchSettings
from .study import in_memory

__all__ = ["BACKENDS", "DEFAULT_SAMPLER", "DEFAULT_TRIALS", "build_parser", "parse_args"]

BACKENDS = ("optuna", "ray")
# The default sampler and trainings follow the decision rule of docs/search.md, stated before the real runs
# (tests/test_repo.py ties both to results/strategies/ and results/strategies-real/).
DEFAULT_SAMPLER = "guided"
DEFAULT_TRIALS = 31


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m nas.search",
        description="Search binary MobileNet blocks for the accuracy-vs-OPs Pareto front under a budget.",
    )
    p.add_argument("--budget", required=True, help="OPs budget, e.g. 50M, 0.05G, 50e6 (FP MACs + binary MACs / 64)")
    p.add_argument(
        "--trials",
        type=int_at_least(1),
        default=DEFAULT_TRIALS,
        help=f"architectures to train in this run (default {DEFAULT_TRIALS})",
    )
    p.add_argument("--timeout", help="stop starting trials after this long, e.g. 1800, 30m, 2h")
    p.add_argument("--trial-timeout", help="stop a trial that trains longer than this (recorded as an error)")
    p.add_argument(
        "--data-dir",
        help="CIFAR-10 or any image folder (class folders, with or without train/ and test/); default $NAS_DATA_DIR",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="output folder (default runs/<study-name>; runs/ is ignored by git,"
        " so a search never changes a committed file)",
    )
    p.add_argument("--storage", help="Optuna storage URL (default: a SQLite file in --out; e.g. postgresql://...)")
    p.add_argument("--study-name", help="default: search-<budget>-<fidelity>")
    p.add_argument(
        "--space",
        default="per-stage",
        type=choice(tuple(SPACES)),
        help="; ".join(f"{name}: {text}" for name, text in SPACE_HELP.items()) + " (default %(default)s)",
    )
    p.add_argument(
        "--sampler",
        default=DEFAULT_SAMPLER,
        type=choice(SAMPLERS),
        help=f"{', '.join(SAMPLERS)} (default {DEFAULT_SAMPLER}: proposes from a model of the space fitted on the"
        " study's results and, on CIFAR-10, on the shipped prior)",
    )
    p.add_argument(
        "--population",
        type=int_at_least(2),
        default=10,
        help="NSGA-II generation size / TPE start-up trials (default 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampler and training seed (default 0)")
    add_fidelity_args(p)
    p.add_argument(
        "--seeds",
        type=int_at_least(1),
        default=1,
        help="train every architecture with this many seeds and rank it on their mean; its spread is"
        " the architecture's own uncertainty (default 1: the seed spread measured at the fidelity)",
    )
    p.add_argument(
        "--screen",
        type=int_at_least(1),
        metavar="K",
        help="train about one fresh proposal in K, the best on a near-free score against the recent"
        f" proposals at their OPs; the rest are recorded as screened (default {ScreenPolicy.keep_one_in};"
        f" {GUIDED_SCREEN} with --sampler guided, which chooses each proposal itself; 1: train every"
        " proposal)",
    )
    p.add_argument(
        "--screen-score",
        default=ScreenPolicy.score,
        type=choice(SCREEN_SCORES),
        help=f"what screens: a zero-cost proxy, or surrogate (top-1 predicted from the architectures"
        f" trained so far): {', '.join(SCREEN_SCORES)} (default %(default)s)",
    )
    p.add_argument(
        "--surrogate-prior",
        action=argparse.BooleanOptionalAction,
        default=ScreenPolicy.prior,
        help="the surrogate also fits the shipped proxy results (proxies/priors/surrogate_prior.json),"
        " where the search's fidelity, class names and channel statistics are theirs, so that it screens"
        " from the first proposal (default: on; --no-surrogate-prior: the search's own trainings only)",
    )
    p.add_argument(
        "--prior-file",
        type=Path,
        metavar="FILE",
        help="another prior file in the shipped prior's form (python -m proxies.priors --without CSV --out FILE"
        " writes one without given architectures); default: the shipped one",
    )
    p.add_argument(
        "--workers", type=int_at_least(1), default=1, help="parallel trial processes on this machine (default 1)"
    )
    p.add_argument("--backend", default="optuna", type=choice(BACKENDS), help="optuna (default) or ray")
    p.add_argument("--ray-address", help="an existing Ray cluster (default: start a local Ray instance)")
    p.add_argument("--resolution", type=int, default=224, help="input size the OPs are counted at (default 224)")
    p.add_argument("--num-classes", type=int, default=1000, help="classes the OPs are counted with (default 1000)")
    p.add_argument("--ops-convention", default="bireal", help="bireal (default) or with-bn")
    p.add_argument(
        "--no-seed-presets",
        action="store_true",
        help="do not start with the seed papers' models; they are trained once the search reaches its"
        " target, never shown to it, so the report can place them against the front it found",
    )
    p.add_argument(
        "--no-compare-presets",
        action="store_true",
        help="with --no-seed-presets: do not train the seed presets after the search",
    )
    p.add_argument("--eta", type=int, default=3, help="successive-halving rate of the rungs (default 3)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    return p


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, SearchSettings]:
    p = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # "--budget -5M" would read -5M as an option; pass it as a value so the error names it.
    for i, a in enumerate(argv[:-1]):
        value = argv[i + 1]
        takes_value = a in ("--budget", "--timeout", "--trial-timeout")
        if takes_value and value.startswith("-") and value not in p._option_string_actions:
            argv[i : i + 2] = [f"{a}={argv[i + 1]}"]
            break
    args = p.parse_args(argv)
    budget = parse_budget(args.budget)
    if args.workers > usable_cpus() * 4:
        raise ValueError(f"--workers: {args.workers} is more than 4 per CPU core of this machine")
    if args.ray_address and args.backend != "ray":
        raise ValueError("--ray-address: only meaningful with --backend ray")
    if args.backend == "ray" and args.workers != 1 and args.ray_address:
        raise ValueError("--workers: with --ray-address the cluster decides the parallelism; leave --workers out")
    if args.backend == "ray" and args.seeds > 1:
        raise ValueError(
            f"--seeds: {args.seeds} seeds per architecture need --backend optuna (a Ray trial trains one seed)"
        )
    if args.storage and in_memory(args.storage):
        raise ValueError(
            f"--storage: {args.storage!r} lives in one process's memory, so the search could not be"
            " resumed, reported or shared; give a file (sqlite:///PATH) or a database server"
        )
    if args.no_compare_presets and not args.no_seed_presets:
        raise ValueError(
            "--no-compare-presets: only meaningful with --no-seed-presets (otherwise the seed presets"
            " are trials of the search)"
        )
    check_seed(args.seed)
    check_runtime(args.device)
    args.timeout_s = parse_duration(args.timeout) if args.timeout is not None else None
    args.trial_timeout_s = (
        parse_duration(args.trial_timeout, "--trial-timeout") if args.trial_timeout is not None else None
    )
    fidelity = fidelity_from_args(args)
    settings = SearchSettings(
        budget=budget,
        fidelity=fidelity,
        fidelity_name=args.fidelity,
        resolution=args.resolution,
        num_classes=args.num_classes,
        convention=args.ops_convention,
        seed=args.seed,
        data=data_options_from_args(args),
        seeds=args.seeds,
        screen=ScreenPolicy(
            _screen(args), args.screen_score, prior=args.surrogate_prior, prior_file=_prior_file(args.prior_file)
        ),
        space=get_space(args.space),
    )
    if args.study_name is not None and (not args.study_name.strip() or "/" in args.study_name):
        raise ValueError(f"--study-name: invalid value {args.study_name!r}")
    args.study_name = args.study_name or (
        f"search-{budget / 1e6:g}M-{args.fidelity}" + ("" if args.space == "per-stage" else f"-{args.space}")
    )
    args.out = args.out or Path("runs") / args.study_name
    check_out_folder(args.out)
    return args, settings


def _prior_file(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        raise ValueError(f"--prior-file: {str(path)!r} is not a file")
    return str(path.resolve())


# Beside the guided sampler the screen does not earn its place: in the strategy replay its hypervolume gain
# has no 95% interval above 0 (nas.analyze.replay.screen_beside_guided; tests/test_repo.py checks it).
GUIDED_SCREEN = 1


def _screen(args: argparse.Namespace) -> int:
    if args.screen is not None:
        return args.screen
    return GUIDED_SCREEN if args.sampler == "guided" else ScreenPolicy.keep_one_in
