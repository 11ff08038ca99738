"""Rank correlations against hand-computed values."""

from __future__ import annotations

import math

import pytest

from proxies.rank import kendall, ranks, spearman


def test_ranks_average_ties():
    assert ranks([10, 30, 20, 20]) == [1.0, 4.0, 2.5, 2.5]


def test_perfect_and_reversed():
    a = [1, 2, 3, 4, 5]
    assert spearman(a, [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    assert kendall(a, [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    assert spearman(a, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall(a, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)


def test_known_values():
    a, b = [1, 2, 3, 4], [1, 3, 2, 4]
    # d = (0, 1, 1, 0): rho = 1 - 6 * 2 / (4 * 15) = 0.8; tau = (5 - 1) / 6.
    assert spearman(a, b) == pytest.approx(0.8)
    assert kendall(a, b) == pytest.approx(4 / 6)


def test_kendall_tau_b_with_ties():
    a, b = [1, 2, 2, 3], [1, 2, 3, 4]
    # pairs: 5 concordant, 1 tied in a only: tau_b = 5 / sqrt(5 * 6).
    assert kendall(a, b) == pytest.approx(5 / math.sqrt(30))


def test_undefined_cases_are_nan():
    assert math.isnan(spearman([1], [2]))
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    assert math.isnan(kendall([1, 1], [1, 2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])
