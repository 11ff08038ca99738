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
    trials = pd.DataFrame({"outcome": ["trained", "trained", "pruned", "pruned", "screened", "over_budget", "diverged",
                                       "trained"],
                           "epochs_done": [2, 2, 1, 1, 0, None, None, 2],
                           "seed_preset": [None, None, None, None, None, None, None, "bin_mobilenet_sp"]})
    f = "e2-n3000-r32-ws1-b32-v2000"
    # 2 + 2 + 1 + 1 epochs, and a diverged trial of unknown epochs counts as a full one: 4 trainings of 2 epochs
    assert search_cost_k(trials, f) == 4
    assert search_cost_k(trials.drop(columns="seed_preset"), f) == 5  # without the column, the preset counts
    assert search_cost_k(trials[trials["outcome"] == "pruned"], f) == 1  # 2 rung-stopped halves: one training
    assert search_cost_k(trials[trials["outcome"] == "pruned"], "e1-n3000-r32-ws1-b32-v2000") == 2
    assert search_cost_k(trials.iloc[[0, 2, 3, 4]].assign(epochs_done=[2, 2, 1, 0]), f) == 3  # 2.5 rounds up
    assert search_cost_k(trials[trials["outcome"].isin(["screened", "over_budget"])], f) == 0


SEARCH = {"space": "uniform", "fidelity": "f", "data_seed": 0, "convention": "bireal", "resolution": 224,
          "num_classes": 1000, "test_fraction": 0.2, "skip_bad_images": False, "budget": 50e6, "seeds": 1}


def _sample(n: int, **over) -> pd.DataFrame:
    return pd.DataFrame({**SEARCH, "top1": np.linspace(0.1, 0.3, n), "ops": np.linspace(10e6, 50e6, n), **over})


def test_random_baseline_known_answers():
    sample = pd.concat([_sample(21), _sample(10, space="per-stage"), _sample(5, fidelity="g"), _sample(5, data_seed=1),
                        _sample(5, convention="with-bn"), _sample(5, resolution=160)], ignore_index=True)
    r = random_baseline(sample, SEARCH, 0.295, k=5)
    assert set(r) == set(BASELINE_COLUMNS) and r["random_note"] == ""
    assert r["random_n"] == 21 and r["random_k"] == 5 and r["random_rank"] == 1  # only 0.30 is at least 0.295
    assert r["beats_random"] == pytest.approx(1 - 5 / 21)  # a random search loses when it drew the 0.30
    # P(best <= 19th of 21) = C(19, 5) / C(21, 5) = 0.57 and P(best <= 18th) = 0.42: the median is the 19th
    assert r["random_best_median"] == pytest.approx(np.linspace(0.1, 0.3, 21)[-3])
    within = random_baseline(sample, {**SEARCH, "budget": 30e6}, 0.295, k=11)  # a smaller budget: rows within it
    assert within["random_n"] == 11 and within["beats_random"] == 1.0
    # a sample column with a missing value reads as floats (0.0): still the same seed
    holey = pd.concat([_sample(21), _sample(1, data_seed=None)], ignore_index=True)
    assert random_baseline(holey, SEARCH, 0.295, k=5)["random_n"] == 21


@pytest.mark.parametrize(("change", "note"), [
    ({"budget": 60e6}, "smaller budget"),
    ({"fidelity": "h"}, "no sample of the same"),
    ({"data_seed": 1}, "no sample of the same"),
    ({"convention": "with-bn"}, "no sample of the same"),
    ({"num_classes": 10}, "no sample of the same"),
    ({"test_fraction": 0.1}, "no sample of the same"),
    ({"skip_bad_images": True}, "no sample of the same"),
    ({"space": "per-stage"}, "no sample of the same"),
    ({"data_seed": None}, "does not record its --seed"),
    ({"seeds": 3}, "means of 3 seeds"),
])
def test_random_baseline_refuses_what_it_cannot_compare(change, note):
    r = random_baseline(_sample(21), {**SEARCH, **change}, 0.2, k=5)
    assert note in r["random_note"] and math.isnan(r["beats_random"]) and math.isnan(r["random_best_median"])


def test_random_baseline_without_a_best_or_with_too_small_a_sample():
    nobest = random_baseline(_sample(21), SEARCH, None, k=5)
    assert math.isnan(nobest["beats_random"]) and nobest["random_n"] == 21
    assert "no fully trained" in nobest["random_note"]
    big = random_baseline(_sample(21), SEARCH, 0.295, k=30)  # a random search of 30 cannot be drawn from 21
    assert big["random_k"] == 30 and big["random_rank"] == 1 and math.isnan(big["beats_random"])
    assert "k = 30" in big["random_note"]
    assert random_baseline(_sample(21), SEARCH, 0.295, k=0)["random_note"] == "the search trained nothing"
