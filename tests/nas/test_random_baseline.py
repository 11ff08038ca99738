"""``nas.analyze.random_baseline``: a search's best against random search, on known samples (the
order statistics checked by enumerating every subset)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from nas.analyze.random_baseline import (
    BASELINE_COLUMNS,
    best_of_k_below,
    best_of_k_median,
    random_baseline,
    search_cost_k,
)


def _enumerate_below(values, k, x) -> float:
    subsets = list(itertools.combinations(values, k))
    return sum(1.0 if max(s) < x else 0.5 if max(s) == x else 0.0 for s in subsets) / len(subsets)


def test_best_of_k_known_answers_and_enumeration():
    assert best_of_k_below([1, 2, 3, 4], 1, 2.5) == pytest.approx(0.5)
    assert best_of_k_below([1, 2, 3, 4], 2, 2.5) == pytest.approx(1 / 6)  # both from {1, 2}: 1 of 6 pairs
    assert best_of_k_below([1, 2, 3, 4], 2, 2) == pytest.approx(1 / 12)  # the pair {1, 2} ties: half
    assert best_of_k_below([1, 2, 3, 4], 4, 5) == 1.0 and best_of_k_below([1, 2, 3, 4], 4, 4) == 0.5
    rng = np.random.default_rng(0)
    values = list(np.round(rng.normal(0.3, 0.05, 9), 2))  # rounded: some ties
    for k in (1, 3, 5, 9):
        for x in (0.2, 0.3, values[0], 0.4):
            assert best_of_k_below(values, k, x) == pytest.approx(_enumerate_below(values, k, x))
    assert best_of_k_median(range(1, 11), 1) == 5  # P(max <= 5) = 0.5
    assert best_of_k_median(range(1, 11), 10) == 10 and best_of_k_median(range(1, 11), 5) == 9
    for bad in (0, 5):
        with pytest.raises(ValueError, match="k must be between 1 and 4"):
            best_of_k_below([1, 2, 3, 4], bad, 1)


def test_search_cost_k_counts_training_epochs():
    trials = pd.DataFrame({"outcome": ["trained", "trained", "pruned", "pruned", "screened", "over_budget", "trained"],
                           "epochs_done": [2, 2, 1, 1, 0, None, 2],
                           "seed_preset": [None, None, None, None, None, None, "bin_mobilenet_sp"]})
    assert search_cost_k(trials) == 3  # 2 + 2 + 1 + 1 epochs = 3 full trainings; the preset is not the search's
    assert search_cost_k(trials.drop(columns="seed_preset")) == 4
    assert search_cost_k(trials[trials["outcome"] == "screened"]) == 0


def _sample(n: int, space: str = "uniform", fidelity: str = "f", budget: float = 50e6) -> pd.DataFrame:
    top1 = np.linspace(0.1, 0.3, n)
    return pd.DataFrame({"space": space, "top1": top1, "ops": np.linspace(10e6, 50e6, n), "fidelity": fidelity,
                         "budget": budget})


def test_random_baseline_filters_what_it_cannot_compare():
    sample = pd.concat([_sample(21), _sample(10, space="per-stage"), _sample(5, fidelity="g")], ignore_index=True)
    r = random_baseline(sample, "uniform", "f", 50e6, 0.295, k=5)
    assert set(r) == set(BASELINE_COLUMNS)
    assert r["random_n"] == 21 and r["random_k"] == 5 and r["random_rank"] == 1  # only 0.30 is at least 0.295
    assert r["beats_random"] == pytest.approx(1 - 5 / 21)  # a random search loses unless it drew the 0.30
    # P(best <= 19th of 21) = C(19, 5) / C(21, 5) = 0.57 and P(best <= 18th) = 0.42: the median is the 19th
    assert r["random_best_median"] == pytest.approx(np.linspace(0.1, 0.3, 21)[-3])
    within = random_baseline(sample, "uniform", "f", 30e6, 0.295, k=50)  # a smaller budget: the rows within it
    assert within["random_n"] == 11 and within["random_k"] == 11 and within["beats_random"] == 1.0
    for args in (("uniform", "f", 60e6), ("uniform", "h", 50e6), ("none", "f", 50e6)):  # larger budget, other
        assert all(math.isnan(v) for v in random_baseline(sample, *args, 0.2, k=5).values())  # fidelity, space
    nobest = random_baseline(sample, "uniform", "f", 50e6, None, k=5)
    assert math.isnan(nobest["beats_random"]) and nobest["random_n"] == 21
