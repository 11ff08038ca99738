"""Pareto-aware successive-halving rungs."""

from __future__ import annotations

import itertools
import random

import pytest

from nas import RungPolicy, front_ranks


def _dominates(a, b):
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def _slow_ranks(points):
    ranks, remaining, rank = [-1] * len(points), set(range(len(points))), 0
    while remaining:
        front = {i for i in remaining if not any(_dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = rank
        remaining -= front
        rank += 1
    return ranks


def test_front_ranks_match_the_definition():
    for seed in range(200):
        rng = random.Random(seed)
        pts = [(rng.randint(0, 4), rng.randint(0, 4)) for _ in range(rng.randint(0, 12))]
        assert front_ranks(pts) == _slow_ranks(pts)


def test_front_ranks_simple():
    # (accuracy, ops): the cheap-but-worse point is on the front too.
    assert front_ranks([(0.5, 10), (0.4, 5), (0.3, 10), (0.6, 20)]) == [0, 0, 1, 0]


@pytest.mark.parametrize(("epochs", "eta", "rungs"), [(1, 3, []), (2, 3, [1]), (6, 3, [1, 3]), (10, 2, [1, 2, 4, 8])])
def test_rung_epochs(epochs, eta, rungs):
    assert RungPolicy(eta=eta).rungs(epochs) == rungs


def test_keep_needs_enough_peers_then_keeps_a_third():
    policy = RungPolicy(eta=3, min_peers=4)
    assert policy.keep(0.0, 100, [(0.5, 1)] * 3)  # too few peers: never stop
    # Five peers on one OPs level: only the best ceil(6/3) = 2 of the six go on.
    peers = [(0.1, 10), (0.2, 10), (0.3, 10), (0.4, 10), (0.5, 10)]
    assert policy.keep(0.6, 10, peers)
    assert policy.keep(0.45, 10, peers)
    assert not policy.keep(0.35, 10, peers)


def test_keep_is_pareto_aware():
    """A cheap candidate less accurate than everyone still goes on if nothing dominates it."""
    policy = RungPolicy(eta=3, min_peers=4)
    peers = [(0.5, 40), (0.45, 35), (0.4, 30), (0.42, 38), (0.41, 39)]
    assert policy.keep(0.2, 5, peers)
    assert not policy.keep(0.2, 50, peers)


@pytest.mark.parametrize(("eta", "peers"), [(1, 4), (3, 0)])
def test_policy_validation(eta, peers):
    with pytest.raises(ValueError):
        RungPolicy(eta=eta, min_peers=peers)


def test_keep_fraction_over_many_candidates():
    policy = RungPolicy(eta=3, min_peers=4)
    pts = [(a / 10, 10) for a in range(9)]
    kept = [policy.keep(p[0], p[1], [q for q in pts if q is not p]) for p in pts]
    assert sum(kept) == 3 and kept[-3:] == [True] * 3
    assert list(itertools.compress(range(9), kept)) == [6, 7, 8]
