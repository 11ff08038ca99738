"""proxies.priors.surrogate: the features, the leave-one-out choice of penalty (against brute force), and
fits on synthetic top-1 with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from proxies import RidgeSurrogate, arch_features
from proxies.priors.surrogate import FEATURE_NAMES, MIN_FIT
from search_space import ArchConfig, SearchSpace, analytic_cost


def _draws(n: int, seed: int = 0) -> list[ArchConfig]:
    rng, space = np.random.default_rng(seed), SearchSpace()
    return [space.sample(rng) for _ in range(n)]


def test_features_are_shares_of_stages_per_choice_value():
    uniform = ArchConfig.decode("w0.75-d2:S-mid-k3-crelu-prelu-pw")
    x = dict(zip(FEATURE_NAMES, arch_features(uniform), strict=True))
    assert (x["width"], x["depth"]) == (0.75, 2.0)
    assert x["log_ops"] == pytest.approx(np.log(analytic_cost(uniform).ops()))
    for name in ("topology=parallel", "placement=mid", "k=3", "expansion=crelu", "activation=prelu", "binary_scope=pw"):
        assert x[name] == 1.0
    assert x["topology=cascade"] == x["k=0"] == x["activation=relu"] == 0.0
    mixed = ("w1.0-d1:L-none-k0-relu-pw:S-pre-k1-copy-prelu-all:S-post-k2-crelu-prelu-pw:L-mid-k0-prelu-all"
             ":LS-none-k4-2xdw-relu-pw")
    m = dict(zip(FEATURE_NAMES, arch_features(mixed), strict=True))
    assert m["topology=cascade"] == 0.4 and m["topology=parallel"] == 0.4 and m["topology=both"] == 0.2
    assert m["activation=prelu"] == 0.6 and m["binary_scope=pw"] == 0.6
    assert m["expansion=copy"] + m["expansion=crelu"] + m["expansion=2xdw"] == pytest.approx(0.6)  # cascade: none


def test_leave_one_out_error_matches_refitting_without_each_architecture():
    archs = _draws(20)
    y = np.random.default_rng(1).normal(0.3, 0.05, len(archs))
    for alpha in (0.1, 3.0, 100.0):
        model = RidgeSurrogate(alphas=[alpha], permutations=0).fit(archs, y)
        z = (np.stack([arch_features(a) for a in archs]) - model._mean) / model._scale
        design = np.hstack([np.ones((len(y), 1)), z])
        penalty = alpha * np.diag([0.0] + [1.0] * z.shape[1])  # the intercept is not penalised
        loo = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            beta = np.linalg.lstsq(design[keep].T @ design[keep] + penalty, design[keep].T @ y[keep], rcond=None)[0]
            loo.append(y[i] - design[i] @ beta)
        assert model.loo_rmse == pytest.approx(float(np.sqrt(np.mean(np.square(loo)))), rel=1e-6)


def test_a_known_rule_is_learnt_and_noise_is_not():
    archs, test = _draws(60, seed=0), _draws(40, seed=1)

    def rule(a: ArchConfig) -> float:
        return 0.2 + 0.1 * np.mean([s.activation == "prelu" for s in a.stages]) + 0.02 * np.log(analytic_cost(a).ops())

    rng = np.random.default_rng(2)
    model = RidgeSurrogate().fit(archs, [rule(a) + rng.normal(0, 0.005) for a in archs])
    assert model.useful and model.loo_r2 > 0.8 and model.p_value == 0.01 and model.alpha in model.alphas
    assert stats.kendalltau(model.predict(test), [rule(a) for a in test])[0] > 0.7
    noise = RidgeSurrogate().fit(archs, rng.normal(0.3, 0.05, len(archs)))
    assert not noise.useful and noise.p_value > 0.05


def test_bad_input_is_refused():
    archs = _draws(MIN_FIT)
    with pytest.raises(ValueError, match="needs at least 5 top-1 values, all finite .got 4, 4 finite"):
        RidgeSurrogate().fit(archs[:4], [0.1] * 4)
    with pytest.raises(ValueError, match="got 5, 4 finite"):
        RidgeSurrogate().fit(archs, [0.1, 0.2, float("nan"), 0.3, 0.4])
    with pytest.raises(ValueError, match="5 architectures but 4 top-1 values"):
        RidgeSurrogate().fit(archs, [0.1] * 4)
    with pytest.raises(ValueError, match="predict before fit"):
        RidgeSurrogate().predict(archs)
    constant = RidgeSurrogate().fit(archs, [0.3] * 5)  # nothing to explain: no use, predicts the constant
    assert not constant.useful and constant.predict(archs) == pytest.approx([0.3] * 5)


def test_the_permutation_test_holds_its_false_positive_rate_on_noise():
    """Fits to pure noise: about 5% pass (a bare 'beats the mean' passes about a third at n = 8)."""
    rng, space = np.random.default_rng(3), SearchSpace()
    useful = [RidgeSurrogate().fit([space.sample(rng) for _ in range(8)], rng.normal(0.3, 0.05, 8)).useful
              for _ in range(60)]
    assert np.mean(useful) <= 0.15
