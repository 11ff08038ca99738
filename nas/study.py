"""Open (create or resume) the Optuna study of a search, and queue the seed presets."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from pathlib import Path

import optuna

from proxies.manifest import binas_version
from search_space import PRESETS, SEED_PRESETS

from .adapter import arch_params
from .budget import format_ops
from .settings import SearchSettings

__all__ = [
    "VERSION_ATTR",
    "COMPARISON_PREFIX",
    "DIRECTIONS",
    "default_storage",
    "enqueue_seed_presets",
    "load_study",
    "open_storage",
    "open_study",
    "stored_comparison",
    "study_meta",
]

DIRECTIONS = ("maximize", "minimize")  # proxy top-1, OPs
_META_PREFIX = "binas:"
# + preset name: a seed preset trained after the search (nas.comparison writes it, nas.report reads it)
COMPARISON_PREFIX = _META_PREFIX + "comparison:"
# Older studies lack these: None = implied by the rest (this run's value is stored), else the value they had.
_ADDED_LATER = {"per_stage": None, "test_fraction": None, "skip_bad_images": None, "seeds": 1}
# Older studies lack these, and what they had is unknown: left unrecorded and unchecked (nas.analyze confirm
# then asks for it), never taken from the run that resumes them.
_UNKNOWN_BEFORE = {"seed"}
_SQLITE_HEADER = b"SQLite format 3\x00"
# The binas version that made the study: every process that shares it (workers, machines) must run it.
VERSION_ATTR = _META_PREFIX + "binas_version"


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


def _check_sqlite(url: str) -> None:
    """A SQLite file that is not a database is refused (and left as it is).

    The check opens the file read-write, as Optuna will: a process killed in the middle of a
    write leaves a hot journal, which SQLite rolls back on the next read-write open (a
    read-only open cannot, and fails as if the file were unusable)."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url[len("sqlite:///") :])
    if not path.exists():
        return
    if path.is_dir():
        raise ValueError(f"--storage: {str(path)!r} is a folder, not a SQLite file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise ValueError(f"--storage: cannot read {str(path)!r} ({exc.strerror})") from None
    if head and head != _SQLITE_HEADER:  # an empty file is an empty database
        raise ValueError(
            f"--storage: {str(path)!r} is not a usable SQLite database (file is not a database); it was left untouched"
        )
    try:
        con = sqlite3.connect(path, timeout=60)
        try:
            con.execute("PRAGMA schema_version").fetchone()
            con.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:  # locked past the timeout, read-only, ...
        raise ValueError(f"--storage: cannot open {str(path)!r} ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            f"--storage: {str(path)!r} is not a usable SQLite database ({exc}); it was left untouched"
        ) from None


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The storage at ``url`` (SQLite file, journal file or a database server), checked and set up as every
    binas command opens it; ``ValueError`` names a URL that cannot be opened."""
    _check_sqlite(url)
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:") :]))
        storage = _rdb_storage(url)
        if url.startswith("sqlite") and not in_memory(url):  # one process only: nothing to serialise
            _serialize_sqlite(storage)
        return storage
    except ValueError:
        raise
    except Exception as exc:  # SQLAlchemy raises many types: bad URL, unknown driver, refused connection
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"--storage: cannot open {url!r} ({first[:200]})") from None


def _rdb_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage on ``url``. Two processes opening a new database at the same instant (two
    commands, or machines, started together on one storage) both create its tables, and the later
    fails with "table ... already exists": it opens again, and then finds the tables made."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except Exception as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.1, 0.5))
    raise AssertionError("unreachable")


def in_memory(url: str) -> bool:
    """An SQLite URL whose database lives in this process's memory (``sqlite://``, ``:memory:``)."""
    return url.rstrip("/") == "sqlite:" or ":memory:" in url or "mode=memory" in url


def _serialize_sqlite(storage: optuna.storages.RDBStorage) -> None:
    """Make every SQLite transaction ``BEGIN IMMEDIATE``.

    Python's sqlite3 driver starts a transaction only at the first write, so Optuna's
    read-check-write steps are not atomic on SQLite (its ``SELECT ... FOR UPDATE`` is a no-op
    there): two workers asking at the same instant could both take the same queued trial and
    train it twice (tests/nas/test_claim.py reproduces this). With the write lock taken at
    the start of each transaction, they take turns. This is SQLAlchemy's documented recipe
    for transactional pysqlite; transactions here are short, so the serialisation is cheap.
    """
    from sqlalchemy import event

    engine = storage.engine

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners were added


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def open_study(storage: str, study_name: str, settings: SearchSettings) -> tuple[optuna.Study, bool]:
    """Create the study, or load it if it exists with the same settings; returns (study, resumed)."""
    store = open_storage(storage)
    try:
        existing = {s.study_name: s for s in optuna.get_all_study_summaries(store, include_best_trial=False)}
    except Exception as exc:
        raise ValueError(f"--storage: cannot read {storage!r} ({str(exc).splitlines()[0][:200]})") from None
    meta = settings.meta()
    if study_name not in existing:
        try:
            study = optuna.create_study(study_name=study_name, storage=store, directions=list(DIRECTIONS))
        except optuna.exceptions.DuplicatedStudyError:  # another process created it in the same instant
            pass
        else:
            for key, value in meta.items():
                study.set_user_attr(_META_PREFIX + key, value)
            study.set_user_attr(VERSION_ATTR, binas_version())  # last: the settings are complete once it is there
            return study, False
    study = optuna.load_study(study_name=study_name, storage=store)
    _wait_for_settings(study, meta)
    stored = {k[len(_META_PREFIX) :]: v for k, v in study.user_attrs.items() if k.startswith(_META_PREFIX)}
    if not stored:
        raise ValueError(f"--study-name: {study_name!r} exists in the storage but is not a binas search")
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise ValueError(f"--study-name: {study_name!r} exists with other objectives")
    _check_version(study)
    for key, value in meta.items():
        if key not in stored and key in _UNKNOWN_BEFORE:
            continue
        if key not in stored and key in _ADDED_LATER:  # made before binas stored it
            if _ADDED_LATER[key] in (None, value):
                study.set_user_attr(_META_PREFIX + key, value)
                continue
            stored[key] = _ADDED_LATER[key]
        if stored.get(key) != value:
            raise ValueError(
                f"--study-name: {study_name!r} was created with {key} {_shown(key, stored.get(key))}, this run"
                f" asks {_shown(key, value)} (use another --study-name or --out)"
            )
    return study, True


SETTINGS_WAIT_S = 10.0  # how long a study another process is creating may take to hold its settings
EMPTY_WAIT_S = 2.0  # ... and to hold its first one (a study with none may be no binas search at all)


def _wait_for_settings(study: optuna.Study, keys) -> None:
    """A study another process has just created holds its settings a moment later (the version attribute
    last): wait for that event while its settings are incomplete and it has no trial. A study made before
    binas recorded its version has its settings (those it knew): no wait."""
    required = set(keys) - set(_ADDED_LATER) - _UNKNOWN_BEFORE
    start = time.monotonic()
    while VERSION_ATTR not in study.user_attrs:
        stored = study_meta(study)
        if required <= set(stored) or study.get_trials(deepcopy=False):
            return
        if time.monotonic() - start >= (SETTINGS_WAIT_S if stored else EMPTY_WAIT_S):
            return
        time.sleep(0.05)  # polling the storage for the event


def _check_version(study: optuna.Study) -> None:
    """Refuse a study made by another binas version (a study made before binas recorded it takes ours)."""
    ours, made_by = binas_version(), study.user_attrs.get(VERSION_ATTR)
    if made_by is None:
        study.set_user_attr(VERSION_ATTR, ours)
    elif made_by != ours:
        raise ValueError(
            f"--storage: study {study.study_name!r} was made by binas {made_by}, this is binas {ours}"
            " (every process and machine sharing a study must run the same binas version)"
        )


def _shown(key: str, value) -> str:
    if key == "space":
        return "a different search space" if value else "no search space"
    if key == "budget" and isinstance(value, int | float):
        return f"{format_ops(value)} OPs"
    return repr(value)


def load_study(storage: str, study_name: str | None = None) -> optuna.Study:
    """Load a finished or running study (for reports); ``study_name`` may be omitted if it is the only one."""
    store = open_storage(storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(store, include_best_trial=False)]
    if study_name is None:
        if len(names) != 1:
            raise ValueError(f"--study-name: the storage holds {len(names)} studies ({', '.join(names)}); name one")
        study_name = names[0]
    if study_name not in names:
        raise ValueError(f"--study-name: no study {study_name!r} in the storage")
    return optuna.load_study(study_name=study_name, storage=store)


def study_meta(study: optuna.Study) -> dict:
    return {k[len(_META_PREFIX) :]: v for k, v in study.user_attrs.items() if k.startswith(_META_PREFIX)}


def stored_comparison(study: optuna.Study) -> dict[str, dict]:
    """The presets trained after the search so far, by name (``{}`` for a search that trained none)."""
    return {
        k[len(COMPARISON_PREFIX) :]: dict(v)
        for k, v in study.user_attrs.items()
        if k.startswith(COMPARISON_PREFIX) and isinstance(v, dict)
    }


def enqueue_seed_presets(study: optuna.Study, settings: SearchSettings) -> list[str]:
    """Queue the seed presets that fit the budget and the space (once per study); returns their names."""
    if study.user_attrs.get(_META_PREFIX + "seeded"):
        return []
    queued = []
    for name in SEED_PRESETS:
        arch = PRESETS[name].arch
        if not settings.space.contains(arch) or not settings.fits(arch):
            continue
        study.enqueue_trial(arch_params(arch, settings.space), user_attrs={"seed_preset": name}, skip_if_exists=True)
        queued.append(name)
    study.set_user_attr(_META_PREFIX + "seeded", True)
    return queued
