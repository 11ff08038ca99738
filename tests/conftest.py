"""Shared test fixtures: where ../shared is (env BINAS_SHARED overrides)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("BINAS_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared folder not found at {path} (set BINAS_SHARED)")
    return path


@pytest.fixture(scope="session")
def paper_tables(shared):
    import pandas as pd

    return pd.read_csv(shared / "benchmarks" / "paper_tables.csv")
