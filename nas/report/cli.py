"""``python -m nas.report OUT``: regenerate a search's files (trials.csv, pareto.csv, pareto.png/svg,
report.md, best_arch.json) from its stored study alone."""

from __future__ import annotations

from pathlib import Path

from proxies.manifest import MANIFEST, Manifest
from search_space.cli import ArgumentParser, check_out_folder, run_cli

from ..study import default_storage, load_study, study_meta
from .outputs import OUTPUT_FILES, write_outputs

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m nas.report", description="Regenerate a search's report files.")
    p.add_argument("out", type=Path, help="the search's output folder (holds study.db)")
    p.add_argument("--storage", help="Optuna storage URL (default: OUT/study.db)")
    p.add_argument("--study-name", help="the study (default: the only one in the storage)")
    args = p.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"OUT: {str(args.out)!r} is a file, not a search's output folder")
    if args.storage is None and not (args.out / "study.db").is_file():
        raise ValueError(f"OUT: {str(args.out)!r} holds no study.db (give --storage for another storage)")
    check_out_folder(args.out, "OUT")
    storage = args.storage or default_storage(args.out)
    study = load_study(storage, args.study_name)
    # A folder without a manifest (made before nas.search wrote one) gets one from this command: its
    # files are now this command's, from the stored study; a search's own manifest is left as it is.
    manifest = None if (args.out / MANIFEST).exists() else Manifest(args.out, "python -m nas.report", argv=argv)
    d = write_outputs(study, args.out)
    if manifest is not None:
        machines = sorted({str(m) for m in d["trials"].get("machine", []) if isinstance(m, str) and m})
        settings = {k: v for k, v in study_meta(study).items() if ":" not in k}  # not the comparison's claims
        manifest.data = {"storage": storage, "study": study.study_name, "settings": settings, "trained_on": machines}
        manifest.write()
    print(
        f"wrote {', '.join(OUTPUT_FILES if d['best'] else OUTPUT_FILES[:-1])} in {args.out}"
        f" ({len(d['trials'])} trials, {len(d['front'])} on the front)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
