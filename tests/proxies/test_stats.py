"""The statistics module on synthetic data with known answers: rank fidelity, corrections, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proxies.stats import kendall, pairwise_accuracy, rank_ci, spearman


def test_perfect_reversed_and_random_rankings():
    truth = np.arange(30, dtype=float)
    assert kendall(truth, truth * 2 + 5) == pytest.approx(1.0)
    assert spearman(truth, truth ** 3) == pytest.approx(1.0)
    assert pairwise_accuracy(truth, truth + 1) == pytest.approx(1.0)
    assert kendall(truth, -truth) == pytest.approx(-1.0)
    assert spearman(truth, -truth) == pytest.approx(-1.0)
    assert pairwise_accuracy(truth, -truth) == pytest.approx(0.0)
    # A random ranking: near 0 / 0.5 on average over many draws.
    rng = np.random.default_rng(0)
    taus = [kendall(truth, rng.permutation(30)) for _ in range(200)]
    accs = [pairwise_accuracy(truth, rng.permutation(30)) for _ in range(200)]
    assert abs(np.mean(taus)) < 0.03 and abs(np.mean(accs) - 0.5) < 0.015


def test_known_values_and_ties():
    a, b = [1, 2, 3, 4], [1, 3, 2, 4]
    assert spearman(a, b) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert kendall(a, b) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert pairwise_accuracy(a, b) == pytest.approx(5 / 6)
    # tau-b: 5 concordant pairs, 1 tied in a only: 5 / sqrt(5 * 6)
    assert kendall([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    # a pair the score ties counts half; a pair the truth ties is not counted
    assert pairwise_accuracy([1, 2, 3], [1, 1, 3]) == pytest.approx((0.5 + 1 + 1) / 3)
    assert pairwise_accuracy([1, 1, 3], [3, 2, 4]) == pytest.approx(1.0)


def test_infinite_and_missing_scores():
    # -inf is the worst score, NaN pairs are dropped
    assert kendall([1, 2, 3, 4], [-np.inf, 0.5, 0.7, np.inf]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, np.nan], [1, 2, 3, -5]) == pytest.approx(1.0)


def test_undefined_cases_are_nan():
    assert math.isnan(spearman([1], [2]))
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    assert math.isnan(kendall([1, 1], [1, 2]))
    assert math.isnan(pairwise_accuracy([2, 2, 2], [1, 2, 3]))
    assert all(math.isnan(v) for v in rank_ci([1, 2], [1, 2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_bootstrap_interval_brackets_the_statistic_and_narrows_with_agreement():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=40)
    noisy = truth + rng.normal(scale=0.5, size=40)
    lo, hi = rank_ci(truth, noisy, "kendall", n_resamples=500)
    assert lo < kendall(truth, noisy) < hi and hi - lo < 0.5
    assert rank_ci(truth, noisy, "kendall", n_resamples=500) == (lo, hi)  # seeded: repeatable
    lo2, hi2 = rank_ci(truth, truth + rng.normal(scale=0.05, size=40), "spearman", n_resamples=500)
    assert hi2 - lo2 < hi - lo and lo2 > 0.9
    plo, phi = rank_ci(truth, -truth, "pairwise", n_resamples=200)
    assert plo == phi == 0.0


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")  # scipy's own runs, which the test reads
def test_a_few_undefined_resamples_do_not_blank_the_interval():
    """With a tie-heavy score a handful of resamples draw one value only (Kendall undefined): the
    interval is the percentiles of the rest, equal to scipy's where every resample is defined, and
    NaN only where more than MAX_UNDEFINED of them are undefined."""
    from scipy import stats as sps

    from proxies.stats import MAX_UNDEFINED

    truth = np.arange(8, dtype=float)
    score = np.array([0, 0, 0, 0, 0, 0, 0, 1], dtype=float)  # 1 - (7/8)^8 of resamples hold the 1: ~34% do not
    assert all(math.isnan(v) for v in rank_ci(truth, score, n_resamples=400))  # too many undefined
    score = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)  # ~1% of resamples draw one side only
    dist = sps.bootstrap((truth, score), lambda u, v: kendall(u, v), paired=True, vectorized=False,
                         n_resamples=2000, method="percentile", rng=np.random.default_rng(0)).bootstrap_distribution
    undefined = np.isnan(dist).mean()
    assert 0 < undefined < MAX_UNDEFINED  # the case this test is about
    lo, hi = rank_ci(truth, score, n_resamples=2000)
    assert lo == pytest.approx(np.percentile(dist[~np.isnan(dist)], 2.5))
    assert hi == pytest.approx(np.percentile(dist[~np.isnan(dist)], 97.5))
    assert 0 < lo < kendall(truth, score) <= hi <= 1
    rng = np.random.default_rng(3)
    truth = rng.normal(size=25)
    noisy = truth + rng.normal(size=25)
    ours = rank_ci(truth, noisy, "spearman", n_resamples=300)
    theirs = sps.bootstrap((truth, noisy), lambda u, v: spearman(u, v), paired=True, vectorized=False,
                           n_resamples=300, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high))


def test_gain_interval_is_paired_and_says_when_one_ranking_is_better():
    from proxies.stats import gain_test

    def gain_ci(*a, **k):
        return gain_test(*a, **k)[:2]

    rng = np.random.default_rng(0)
    truth = rng.normal(size=40)
    good = truth + rng.normal(scale=0.2, size=40)
    poor = truth + rng.normal(scale=2.0, size=40)
    lo, hi = gain_ci(truth, poor, good, n_resamples=500)
    assert 0 < lo < kendall(truth, good) - kendall(truth, poor) < hi  # clearly better: above 0
    lo, hi = gain_ci(truth, good, poor, n_resamples=500)
    assert lo < hi < 0  # clearly worse: below 0
    twin = good + rng.normal(scale=0.01, size=40)  # nearly the same ranking: an interval around 0
    lo, hi = gain_ci(truth, good, twin, n_resamples=500)
    assert lo <= 0 <= hi and hi - lo < 0.1
    assert all(math.isnan(v) for v in gain_ci([1, 2], [1, 2], [2, 1]))
    with pytest.raises(ValueError):
        gain_ci([1, 2, 3], [1, 2], [1, 2, 3])


def test_gain_p_value_and_holm():
    from proxies.stats import gain_test, holm

    rng = np.random.default_rng(0)
    truth = rng.normal(size=40)
    good = truth + rng.normal(scale=0.2, size=40)
    poor = truth + rng.normal(scale=2.0, size=40)
    assert gain_test(truth, poor, good, n_resamples=500)[2] == pytest.approx(1 / 501)  # no resample shows no gain
    assert gain_test(truth, good, poor, n_resamples=500)[2] == pytest.approx(1.0)
    assert holm({"a": 0.01, "b": 0.02, "c": 0.04}) == {"a", "b", "c"}  # 0.01 <= .05/3, .02 <= .05/2, .04 <= .05
    assert holm({"a": 0.01, "b": 0.03, "c": 0.04}) == {"a"}  # 0.03 > 0.05/2: stop
    assert holm({"a": 0.02, "b": math.nan}) == {"a"} and holm({}) == set()


def test_benjamini_hochberg_leaves_nan_out_of_the_family():
    from scipy import stats as sps

    from proxies.stats import benjamini_hochberg

    p = [0.001, math.nan, 0.04, 0.04, 0.5]
    adjusted = benjamini_hochberg(p)
    finite = sps.false_discovery_control([0.001, 0.04, 0.04, 0.5], method="bh")
    assert np.array_equal(adjusted[[0, 2, 3, 4]], finite) and math.isnan(adjusted[1])  # exactly scipy's numbers
    assert adjusted[:1] == pytest.approx([0.004]) and adjusted[2] == adjusted[3] == pytest.approx(0.04 * 4 / 3)
    assert len(benjamini_hochberg([])) == 0 and math.isnan(benjamini_hochberg([math.nan])[0])

