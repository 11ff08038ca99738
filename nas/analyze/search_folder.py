"""A finished ``nas.search`` output folder, opened read-only for analysis (``rediscovery``, ``confirm``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["open_search"]


def _study_names(folder: Path) -> list[str]:
    """The Optuna studies in ``folder/study.db``, read-only (a file that is not an Optuna database is
    refused, never written to)."""
    db = folder / "study.db"
    if not db.is_file():
        raise ValueError(f"SEARCH: {str(folder)!r} holds no study.db (give a nas.search output folder)")
    try:
        con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            return [row[0] for row in con.execute("SELECT study_name FROM studies")]
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ValueError(f"SEARCH: {str(db)!r} is not an Optuna study database ({exc})") from None


def open_search(folder: Path):
    """``(study, meta)`` of the one binas search study in ``folder/study.db``; ValueError (naming
    SEARCH) for anything else."""
    from ..study import default_storage, load_study, study_meta  # imports Optuna: only these commands need it

    names = _study_names(folder)
    if len(names) != 1:
        raise ValueError(
            f"SEARCH: {str(folder)!r} holds {len(names)} studies ({', '.join(names) or 'none'});"
            " give a folder of one search"
        )
    try:
        study = load_study(default_storage(folder), names[0])
    except Exception as exc:  # a database of another Optuna version, a broken file, ...
        raise ValueError(f"SEARCH: cannot read the study in {str(folder)!r} ({exc})") from None
    meta = study_meta(study)
    if "budget" not in meta:
        raise ValueError(f"SEARCH: {str(folder)!r} holds no binas search study")
    return study, meta
