"""Fixtures for the controller: a fake proxy (no training) and small search settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from proxies import Fidelity, ProxyResult


def fake_top1(arch, epoch: int, epochs: int) -> float:
    """A deterministic 'accuracy' per architecture, rising with epochs and (weakly) with OPs."""
    h = int(hashlib.sha256(arch.encode().encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return round(0.1 + 0.4 * h * epoch / epochs, 6)


class FakeEvaluate:
    """Stands in for ``proxies.scoring.train.evaluate``: calls ``on_epoch`` like it, trains nothing."""

    def __init__(self, fail_on: set[str] | None = None, diverge_on: set[str] | None = None):
        self.calls: list[str] = []
        self.fail_on = fail_on or set()
        self.diverge_on = diverge_on or set()

    def __call__(self, arch, fidelity, data, seed=0, *, on_epoch=None, device=None, progress=None, **kw):
        s = arch.encode()
        self.calls.append(s)
        if s in self.fail_on:
            raise RuntimeError("CUDA out of memory (simulated)")
        if s in self.diverge_on:
            return ProxyResult(s, fidelity.key(), seed, 0.0, float("nan"), 1, 0.01, 1.0, diverged=True)
        top1, done, pruned = 0.0, 0, False
        for e in range(1, fidelity.epochs + 1):
            top1, done = fake_top1(arch, e, fidelity.epochs), e
            if on_epoch is not None and on_epoch(e, top1, 1.0):
                pruned = e < fidelity.epochs
                break
        return ProxyResult(s, fidelity.key(), seed, top1, 1.0, done, 0.01, 1000.0, pruned=pruned)


@pytest.fixture
def fake_class():
    return FakeEvaluate


@pytest.fixture
def fake_evaluate(monkeypatch):
    fake = FakeEvaluate()
    monkeypatch.setattr("nas.objective.evaluate", fake)
    monkeypatch.setattr("nas.comparison.evaluate", fake)
    return fake


@pytest.fixture
def settings():
    from nas import SearchSettings

    return SearchSettings(budget=50_000_000, fidelity=Fidelity(epochs=3, train_subset=100, val_size=50),
                          fidelity_name="test")


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (from /proc), nearest first."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # zombies are dead, only not yet reaped
            tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        kids = tree.get(todo.pop(0), [])
        out += kids
        todo += kids
    return out


@pytest.fixture
def descendants():
    return _descendants
