"""``python -m nas.search --budget 50M``: the search for the accuracy-vs-OPs Pareto front.

A multi-objective Optuna study (maximise proxy top-1, minimise OPs) over the
:class:`~search_space.SearchSpace`. Over-budget candidates are rejected by their analytic
OPs before anything is built; the seed papers' models within budget are trained first; an
architecture already trained at the same fidelity is never trained again; poor candidates
stop at Pareto-aware successive-halving rungs (:mod:`nas.rungs`). Ctrl-C stops cleanly and
the same command resumes. Outputs (see :mod:`nas.report`) go to ``--out``.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace

from proxies import prepare_data, resolve_data_dir, set_threads
from proxies.manifest import Manifest
from proxies.scoring.run import fit_fidelity_to_data
from search_space.cli import make_out_folder, run_cli

from .backends.loop import (
    LoopConfig,
    check_stop,
    count_trained,
    graceful_stop,
    run_worker,
    run_workers,
    set_target,
    stored_target,
)
from .budget import format_ops
from .cli_args import parse_args
from .comparison import comparison_pending, run_comparison, unfinished
from .report.outputs import OUTPUT_FILES, write_outputs
from .report.progress import SearchProgress, candidates, study_summary, summary_line
from .study import default_storage, enqueue_seed_presets, open_study

__all__ = ["main"]


def _sigterm(signum, frame):  # SIGTERM ends the run like Ctrl-C
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """The search; Ctrl-C or SIGTERM at any moment ends it with exit code 130 (the backends
    record their trials in flight as interrupted; the same command resumes)."""
    # Set whatever the command inherited: a script's background job (``cmd &``) starts with
    # SIGINT ignored, and ``kill -INT`` would then be lost.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return _search(argv)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _trials(study, settings, args) -> int:
    """``--trials``, or fewer where the space within the budget holds fewer architectures not yet trained
    (a small space, such as a paper's own, is trained whole, and the search then ends)."""
    fits = settings.in_budget()
    if fits is None:
        return args.trials
    left = max(fits - count_trained(study)[0], 0)
    if left < args.trials:
        print(
            f"the {args.space} space holds {fits} architectures within {format_ops(settings.budget)} OPs:"
            f" this run trains at most the {left} not yet trained (--trials {args.trials})",
            file=sys.stderr,
        )
    return min(args.trials, left)


def _compare(study, settings, data, args, target: int, deadline: float | None) -> None:
    """Train the seed presets after a search that did not see them, once it holds its target."""
    started = time.time()
    done, _ = count_trained(study)
    if done < target:
        print(
            f"seed presets not compared yet: the search has {done} of {target} trials (the same command goes on)",
            file=sys.stderr,
        )
        return
    set_threads()
    with graceful_stop("stopping the comparison after the current training step"):
        run = run_comparison(
            study,
            settings,
            data,
            device=args.device,
            progress=not args.no_progress,
            deadline=deadline,
            trial_timeout=args.trial_timeout_s,
            check_stop=check_stop,
        )
    if run.trained:
        print(
            f"comparison: {len(run.trained)} seed preset(s) trained in {(time.time() - started) / 60:.1f} min",
            file=sys.stderr,
        )
    if run.elsewhere:
        print(f"comparison: {', '.join(run.elsewhere)} left to the process(es) training them", file=sys.stderr)
    if run.timed_out:
        print("comparison stopped at --timeout: the same command finishes it", file=sys.stderr)


def _search(argv: list[str] | None) -> int:
    args, settings = parse_args(argv)
    start = time.time()
    # Validate the data before anything is written (and warm the decode cache for workers); sizes the
    # user did not give fit a small data set.
    settings = replace(settings, fidelity=fit_fidelity_to_data(settings.fidelity, args, settings.data))
    f = settings.fidelity
    data = prepare_data(
        args.data_dir,
        f.train_subset,
        f.val_size,
        settings.seed,
        image_size=f.resolution,
        progress=False,
        options=settings.data,
    )
    data_dir = str(resolve_data_dir(args.data_dir).resolve())  # absolute: Ray workers run elsewhere
    storage = args.storage or default_storage(args.out)
    if args.storage is None:
        make_out_folder(args.out)  # the study goes in it
    study, resumed = open_study(storage, args.study_name, settings)
    make_out_folder(args.out)
    seeds = [] if args.no_seed_presets else enqueue_seed_presets(study, settings)
    compare = args.no_seed_presets and not args.no_compare_presets
    if compare and comparison_pending(study, settings, stored_target(study)):  # finish it before going on
        done = target = count_trained(study)[0]
        plan = (
            f"the search holds its {target} trials; finishing the seed-preset comparison first"
            f" ({len(unfinished(study, settings))} preset(s) left; --trials is not used this run)"
        )
    else:
        done, target, continuing = set_target(study, _trials(study, settings, args))
        plan = f"{'completing' if continuing else 'running'} {target - done} trial(s) (target {target})"
    deadline = start + args.timeout_s if args.timeout_s else None
    manifest = Manifest(
        args.out,
        "python -m nas.search",
        argv=argv,
        device=args.device,
        data={
            "data_dir": data_dir,
            "classes": list(data.classes),
            "fidelity": f.key(),
            "data_seed": settings.seed,
            "storage": storage,
        },
    )
    print(
        f"study {args.study_name!r} ({'resumed' if resumed else 'new'}) in {storage}; budget"
        f" {format_ops(settings.budget)} OPs; fidelity {f.key()}; space {args.space}; sampler {args.sampler}; "
        + plan
        + (f"; seed presets queued: {', '.join(seeds)}" if seeds else ""),
        file=sys.stderr,
    )
    cfg = LoopConfig(
        storage,
        args.study_name,
        settings,
        data_dir,
        args.sampler,
        args.population,
        args.eta,
        args.device,
        deadline,
        trial_timeout=args.trial_timeout_s,
    )
    judged_before, screened_before = candidates(study_summary(study, settings.budget)["counts"])
    progress = SearchProgress(study, settings.budget, done, target, deadline, enabled=not args.no_progress)
    interrupted = False
    errors: list[str] = []
    searched = None
    try:
        if done >= target:
            pass  # nothing to train: only the comparison is left
        elif args.backend == "ray":
            from .backends.ray_tune import run_ray

            run_ray(cfg, target, args.workers, args.ray_address, progress)
        elif args.workers > 1:
            errors = run_workers(cfg, target, args.workers, progress.refresh)
        else:
            set_threads()
            with graceful_stop():
                run_worker(cfg, target, {"on_step": progress.step, "on_start": progress.trial_started}, data)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    if compare and not errors and not interrupted:
        searched = time.time()
        try:
            _compare(study, settings, data, args, target, deadline)
        except KeyboardInterrupt:
            interrupted = True
    d = write_outputs(study, args.out)
    manifest.write()
    s = study_summary(study, settings.budget)
    now_done, _ = count_trained(study)
    elapsed = (searched or time.time()) - start  # the search's own time, without the comparison
    print(f"{summary_line(s, settings.budget)}", file=sys.stderr)
    files = [name for name in OUTPUT_FILES if (args.out / name).is_file()]
    judged, screened = candidates(s["counts"])
    judged, screened = judged - judged_before, screened - screened_before
    print(
        f"this run: {now_done - done} trial(s) finished in {elapsed / 60:.1f} min; study: {now_done} of {target};"
        f" outputs in {args.out}/ ({', '.join(files)})"
    )
    print(
        f"this run: {judged} candidates judged ({screened} screened out, {judged - screened} trained),"
        f" {judged / max(elapsed, 1e-9) * 3600:.0f} per hour",
        file=sys.stderr,
    )
    if d["best"]:
        b = d["best"]
        print(f"best under budget: {b['arch']} ({100 * b['top1']:.2f}%, {format_ops(b['ops'])} OPs)")
    for e in errors:
        print(f"worker error: {e}", file=sys.stderr)
    if interrupted:
        print("interrupted: run the same command to resume", file=sys.stderr)
        return 130
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
