"""proxies.calibration.fidelity_runs: a run cache that several processes share without losing each other's rows."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import socket
from pathlib import Path

import pandas as pd
import pytest

from proxies.calibration.evaluators import RunSpec
from proxies.calibration.fidelity_runs import RUN_COLUMNS, load_runs, run_all, run_cached
from proxies.data.loader import DataOptions
from proxies.scoring.fidelity import Fidelity

F = Fidelity(epochs=1, train_subset=64, val_size=50)
ARCHS = [f"w0.25-d1:S-none-k{k}-2xdw-relu-pw" for k in range(4)]


def _row(spec: RunSpec, arch: str, value: float = 0.5) -> dict:
    return {"kind": spec.kind, "fidelity": spec.fidelity.key(), "seed": spec.seed, "arch": arch,
            "val_top1": value, "sotl_e": 1.0, "score": value, "cpu_seconds": 1.0, "seconds": 1.0,
            "diverged": False, "device": "cpu", "error": ""}


def _append_on_disk(path: Path, row: dict) -> None:
    """What another process sharing the cache does between two of ours."""
    disk = load_runs(path)
    pd.concat([disk, pd.DataFrame([{**row, "data": "d"}], columns=RUN_COLUMNS)]).to_csv(path, index=False)


def test_rows_another_process_added_are_kept_and_its_runs_skipped(tmp_path):
    path = tmp_path / "runs.csv"
    spec = RunSpec("train", F, 0)
    calls = []

    def runner(s, arch, data, device=None):
        calls.append(arch)
        if arch == ARCHS[0]:  # meanwhile, another process caches ARCHS[2] and a run we never asked for
            _append_on_disk(path, _row(spec, ARCHS[2], 0.9))
            _append_on_disk(path, _row(RunSpec("train", F, 7), ARCHS[0], 0.1))
        return _row(s, arch)

    todo = [(spec, a) for a in ARCHS]
    runs = run_all(todo, load_runs(path), path, lambda s: None, "d", progress=False, runner=runner)
    assert calls == [ARCHS[0], ARCHS[1], ARCHS[3]]  # ARCHS[2] was done by the other process
    disk = load_runs(path)
    assert len(disk) == len(runs) == 5 and not disk.duplicated(["kind", "fidelity", "seed", "arch"]).any()
    assert disk.loc[disk["arch"] == ARCHS[2], "val_top1"].item() == 0.9  # its result, not overwritten
    assert (disk["data"] == "d").all()


def _worker(path: str, archs: list[str], log: str) -> None:
    spec = RunSpec("train", F, 0)

    def runner(s, a, data, device=None):
        with open(log, "a") as f:
            f.write(a + "\n")
        return _row(s, a)

    run_all([(spec, a) for a in archs], load_runs(Path(path)), Path(path), lambda s: None, "d", progress=False,
            runner=runner)


def test_two_processes_on_one_cache_lose_nothing_and_repeat_nothing(tmp_path):
    """Both walk the same list: each run is claimed while it runs, so it runs once, in one of them."""
    path = tmp_path / "runs.csv"
    archs = [f"w0.25-d1:S-none-k{i % 5}-2xdw-relu-pw-{i}" for i in range(80)]
    ctx = mp.get_context("spawn")
    logs = [tmp_path / f"log{i}" for i in range(2)]
    procs = [ctx.Process(target=_worker, args=(str(path), archs, str(log))) for log in logs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0
    assert sorted(load_runs(path)["arch"]) == sorted(archs)
    ran = [line for log in logs if log.exists() for line in log.read_text().split()]
    assert sorted(ran) == sorted(archs)  # every run once, none twice
    assert not (tmp_path / ".runs.csv.running").exists()  # no lock left behind


def test_a_run_another_live_process_holds_is_left_to_it(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    spec = RunSpec("train", F, 0)
    running = tmp_path / ".runs.csv.running"
    running.mkdir()
    lock = running / f"{hashlib.sha1(repr(spec.key(ARCHS[1])).encode()).hexdigest()[:20]}.lock"
    lock.write_text(f"{socket.gethostname()}:{os.getppid()}")  # a live process of this host
    calls = []
    run_all([(spec, a) for a in ARCHS], load_runs(path), path, lambda s: None, "d", progress=False,
            runner=lambda s, a, data, device=None: calls.append(a) or _row(s, a))
    assert calls == [ARCHS[0], ARCHS[2], ARCHS[3]]
    assert "1 run(s) left to the other process(es)" in capsys.readouterr().err
    assert lock.exists()  # not ours to remove


def test_runs_read_with_other_data_options_are_not_mixed_with_the_cache(tmp_path):
    """--skip-bad-images or another --test-fraction can read other images from the same folder: runs
    cached with the defaults are refused, not reused or mixed; the defaults keep the folder's key."""
    assert DataOptions().tag() == ""
    assert DataOptions(test_fraction=0.3, skip_bad=True).tag() == "|test_fraction=0.3|skip_bad"
    assert DataOptions(test_fraction=0.1234567).tag() != DataOptions(test_fraction=0.1234571).tag()
    path = tmp_path / "runs.csv"
    spec = RunSpec("train", F, seed=0)
    row = {**_row(spec, ARCHS[0]), "data": str(tmp_path.resolve())}
    pd.DataFrame([row], columns=RUN_COLUMNS).to_csv(path, index=False)
    before = path.read_bytes()
    assert len(run_cached([spec], ARCHS[:1], path, data_dir=str(tmp_path), progress=False)) == 1  # cached
    for options in (DataOptions(skip_bad=True), DataOptions(test_fraction=0.3)):
        with pytest.raises(ValueError, match="^--skip-bad-images/--test-fraction: .* read with the defaults, not"):
            run_cached([spec], ARCHS[:1], path, data_dir=str(tmp_path), progress=False, options=options)
    assert path.read_bytes() == before


def test_a_training_row_says_where_it_trained_and_an_old_cache_still_loads(synthetic_data, tmp_path):
    from proxies import machine_tag
    from proxies.calibration.fidelity_runs import run_one

    spec = RunSpec("train", Fidelity(epochs=1, train_subset=400, val_size=100, width_scale=0.25), 0)
    row = run_one(spec, "w1.0-d1:S-none-k0-2xdw-relu-pw", synthetic_data)
    assert row["machine"] == machine_tag("cpu") and not row["error"]
    path = tmp_path / "runs.csv"  # a cache written before the column existed
    pd.DataFrame([_row(spec, ARCHS[0])]).to_csv(path, index=False)
    runs = load_runs(path)
    assert list(runs.columns) == RUN_COLUMNS and runs["machine"].isna().all()
