"""Malformed architecture strings and JSON files given to the commands that take one
(``nas.export``, ``nas.train``), and studies that exist with other settings: each is one
line on stderr naming the problem, exit code 2, and nothing written or changed."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from nas import SearchSettings, open_study
from nas.deploy.export import main as export_main
from nas.deploy.train import main as train_main
from nas.search import main as search_main
from nas.study import default_storage
from search_space import PRESETS, SearchSpace
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

GOOD = PRESETS["mobinet_mid_k3_prelu"].arch
GOOD_TEXT = GOOD.encode()
GOOD_JSON = json.loads(GOOD.to_json())


def _stage0(**change) -> dict:
    data = json.loads(json.dumps(GOOD_JSON))
    data.pop("arch", None)
    data["stages"][0].update(change)
    return data


# (case, the ARCH argument (a string, or file content as ("file", text)), text the error must contain)
ARCHS = [
    ("string truncated", GOOD_TEXT[: len(GOOD_TEXT) // 2], "stage 'L-mid': expected 5 fields"),
    ("string unknown topology", GOOD_TEXT.replace(":L-", ":Q-", 1), "'Q'"),
    ("string K out of range", GOOD_TEXT.replace("-k3-", "-k9-", 1), "k: invalid value 9"),
    ("string width out of range", "w9.0" + GOOD_TEXT[GOOD_TEXT.index("-"):], "width: invalid value 9.0"),
    ("unknown preset name", "mobilenet_v9", "neither a preset name"),
    ("json truncated", ("file", GOOD.to_json()[:40]), "is not valid JSON"),
    ("json a list", ("file", "[1, 2]"), "expected an object, got list"),
    ("json unknown choice", ("file", json.dumps(_stage0(placement="inside"))), "placement: invalid value 'inside'"),
    ("json K out of range", ("file", json.dumps(_stage0(k=7))), "k: invalid value 7"),
    ("json width out of range", ("file", json.dumps({**_stage0(), "width": 9.0})), "width: invalid value 9.0"),
    ("json empty file", ("file", ""), "is not valid JSON"),
    ("json missing file", ("missing", ""), "does not exist"),
]


def _arch_arg(tmp_path: Path, value) -> str:
    if isinstance(value, str):
        return value
    kind, text = value
    path = tmp_path / "arch.json"
    if kind == "file":
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize("command", ["export", "train"])
@pytest.mark.parametrize(("case", "value", "needle"), ARCHS, ids=[c for c, _, _ in ARCHS])
def test_malformed_architecture(command, case, value, needle, tmp_path, cifar_dir, capsys):
    arch = _arch_arg(tmp_path, value)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out"
    argv = [arch, "--out", str(out)]
    if command == "train":
        argv += ["--data-dir", str(cifar_dir), "--epochs", "1", "--train-subset", "100"]
    rc = run_cli(export_main if command == "export" else train_main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not out.exists()  # nothing written


def test_the_good_architecture_passes_these_checks():
    """The table's base case is valid: each row fails for its own change only."""
    from search_space import ArchConfig
    from search_space.cli import resolve_arch

    assert resolve_arch(GOOD_TEXT)[0] == GOOD
    assert ArchConfig.from_dict(_stage0()) == GOOD


TINY = ["--budget", "50M", "--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress"]


@pytest.mark.parametrize("case", ["other search space", "other budget", "not a binas study"])
def test_existing_study_with_other_settings_is_refused_and_kept(case, tmp_path, cifar_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    storage = default_storage(out)
    name = "search-50M-smoke"
    from nas.cli_args import parse_args

    _, settings = parse_args([*TINY, "--out", str(out)])
    if case == "other search space":
        open_study(storage, name, SearchSettings(**{**settings.__dict__, "space": SearchSpace(depths=(1,))}))
        needle = "a different search space"
    elif case == "other budget":
        open_study(storage, name, SearchSettings(**{**settings.__dict__, "budget": 40e6}))
        needle = "created with budget 40.00M OPs"
    else:
        optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize"])
        needle = "is not a binas search"
    before = (out / "study.db").read_bytes()
    assert run_cli(search_main, [*TINY, "--data-dir", str(cifar_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert (out / "study.db").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["study.db"]


CONFLICTS = [
    (["--backend", "ray", "--ray-address", "127.0.0.1:1", "--workers", "2"], "--workers"),
    (["--backend", "optuna", "--ray-address", "auto"], "--ray-address: only meaningful with --backend ray"),
    (["--workers", "4096"], "--workers: 4096 is more than 4 per CPU core"),
    (["--storage", "sqlite://"], "--storage: 'sqlite://' lives in one process's memory"),
    (["--storage", "sqlite:///:memory:", "--backend", "ray"], "could not be resumed, reported or shared"),
]


@pytest.mark.parametrize(("extra", "needle"), CONFLICTS, ids=[" ".join(e) for e, _ in CONFLICTS])
def test_conflicting_search_options(extra, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(search_main, [*TINY, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()
