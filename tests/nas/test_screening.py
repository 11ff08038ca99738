"""Screening: the domination rule on known points, and the runner that screens fresh proposals."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas import TrialRunner, arch_params, enqueue_seed_presets, open_study
from nas.outcomes import EVALUATED, Attr, Outcome
from nas.samplers import make_sampler
from nas.screening import ScreenPolicy, crowding_distances, domination_counts, keeps
from nas.study import default_storage
from proxies import RidgeSurrogate
from search_space import PRESETS, ArchConfig

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_domination_counts_known_points():
    # (score, ops): higher score and lower OPs are better
    pts = [(3.0, 10.0), (1.0, 20.0), (2.0, 10.0), (3.0, 5.0), (float("nan"), 1.0)]
    # (3,5) dominates everything with ops >= 5 and score <= 3 except itself; NaN is below every finite score
    assert domination_counts(pts) == [1, 3, 2, 0, 0]


def test_first_proposal_is_kept_and_dominated_ones_are_screened():
    assert keeps((1.0, 10.0), [], 4) == (True, 0)
    assert keeps((1.0, 20.0), [(2.0, 10.0)], 2) == (False, 1)  # dominated by the only other
    assert keeps((3.0, 20.0), [(2.0, 10.0)], 2) == (True, 0)  # a trade-off: both on the front
    assert keeps((0.0, 99.0), [(2.0, 10.0)] * 8, 1) == (True, 0)  # --screen 1 keeps every proposal


def test_ties_on_the_front_are_kept():
    # every point on one front (score rises with OPs): nothing dominates anything, all kept
    front = [(float(i), float(i)) for i in range(10)]
    assert keeps((10.5, 10.5), front, 4)[0]
    # with a clear front of 2 and many dominated points, a dominated newcomer is screened
    previous = [(10.0, 1.0), (12.0, 2.0)] + [(float(i), 50.0) for i in range(6)]
    assert keeps((0.5, 60.0), previous, 4) == (False, 7)  # below all but (0, 50), which ties
    assert keeps((5.5, 40.0), previous, 4) == (False, 2)  # place 2, not below round(9 / 4) = 2
    assert keeps((5.5, 40.0), previous, 3) == (True, 2)  # place 2 < round(9 / 3) = 3: kept


def test_a_front_is_ordered_by_crowding_distance():
    """When most of the window is on one front (the score rising with OPs), domination ties them
    all: the crowding distance decides, so about 1 in K still trains, the ends and gaps first."""
    front = [(float(i), float(i)) for i in range(32)]
    assert keeps((40.0, 40.0), front, 8) == (True, 0)  # a new end of the front
    assert keeps((40.0, 40.0), front, 32) == (True, 0)
    assert keeps((10.5, 10.5), front, 4)[0] is False  # in the crowded middle: 30 places behind the ends
    gappy = [(float(i), float(i)) for i in range(16)] + [(float(i), float(i)) for i in range(40, 56)]
    assert keeps((28.0, 28.0), gappy, 4)[0]  # in the gap: the most isolated after the ends
    assert crowding_distances([(0.0, 0.0), (1.0, 1.0), (3.0, 3.0)]) == [math.inf, 2.0, math.inf]
    # a failed score counts as one below the lowest: (0, 5), (1, 1), (2, 2), (3, 3)
    nan_first = crowding_distances([(float("nan"), 5.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)])
    assert nan_first[2] == pytest.approx(2 / 3 + 1 / 2) and nan_first[0] == nan_first[1] == math.inf


def test_keep_rate_follows_k_on_independent_points():
    rng = np.random.default_rng(0)
    pts = [tuple(p) for p in rng.random((400, 2))]
    for k, lo, hi in ((2, 0.45, 0.6), (4, 0.2, 0.3), (8, 0.1, 0.17), (16, 0.04, 0.09)):
        kept = [keeps(p, pts[max(0, i - 32):i], k)[0] for i, p in enumerate(pts)]
        assert lo <= np.mean(kept) <= hi, (k, np.mean(kept))


def test_policy_refuses_bad_values():
    with pytest.raises(ValueError, match="--screen: invalid value 0"):
        ScreenPolicy(keep_one_in=0)
    with pytest.raises(ValueError, match="--screen-score: unknown value 'ops'"):
        ScreenPolicy(score="ops")
    with pytest.raises(ValueError, match="--screen: invalid value 33 .expected at most 32"):
        ScreenPolicy(keep_one_in=33)
    assert not ScreenPolicy(keep_one_in=1).active


def _runner(tmp_path, settings, data, k):
    settings = replace(settings, screen=ScreenPolicy(keep_one_in=k, score="synflow"))  # the zero-cost path
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    study.sampler = make_sampler("random", settings.space, settings.fits, 0)  # draws within the budget
    return study, TrialRunner(study, settings, data)


@pytest.mark.slow  # scores or trains for tens of seconds
def test_runner_screens_fresh_proposals_and_never_queued_ones(tmp_path, settings, synthetic_data, fake_evaluate):
    study, runner = _runner(tmp_path, settings, synthetic_data, k=4)
    queued = enqueue_seed_presets(study, runner.settings)
    outcomes = [runner.run(study.ask()) for _ in range(len(queued) + 40)]
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    presets = [t for t in by_number.values() if "seed_preset" in t.user_attrs]
    assert presets and all(t.user_attrs[Attr.OUTCOME] == Outcome.TRAINED for t in presets)
    assert all(Attr.SCREEN_SCORE not in t.user_attrs for t in presets)  # queued: never scored
    screened = [t for t in by_number.values() if t.user_attrs.get(Attr.OUTCOME) == Outcome.SCREENED]
    trained = [t for t in by_number.values() if t.user_attrs.get(Attr.OUTCOME) in EVALUATED  # or stopped at a rung
               and "seed_preset" not in t.user_attrs]
    assert screened and trained, outcomes
    for t in screened:
        assert t.state == TrialState.PRUNED and t.values is None
        assert math.isfinite(t.user_attrs[Attr.SCREEN_SCORE]) and t.user_attrs[Attr.SCREEN_BY] == "synflow"
        assert t.user_attrs[Attr.SCREEN_SECONDS] >= 0
    assert all(Attr.SCREEN_SCORE in t.user_attrs for t in trained)
    assert set(fake_evaluate.calls) == {t.user_attrs[Attr.ARCH] for t in presets + trained}
    # about one fresh proposal in 4 trains (ties on the front keep a few more)
    fresh = len(screened) + len(trained)
    assert 0.15 <= len(trained) / fresh <= 0.6, (len(trained), fresh)


def test_screening_off_trains_every_proposal(tmp_path, settings, synthetic_data, fake_evaluate):
    study, runner = _runner(tmp_path, settings, synthetic_data, k=1)
    outcomes = [runner.run(study.ask()) for _ in range(12)]
    assert Outcome.SCREENED not in outcomes
    assert all(Attr.SCREEN_SCORE not in t.user_attrs for t in study.trials)


def test_a_duplicate_is_not_screened(tmp_path, settings, synthetic_data, fake_evaluate):
    study, runner = _runner(tmp_path, settings, synthetic_data, k=4)
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, runner.settings.space)
    study.enqueue_trial(params)
    assert runner.run(study.ask()) == Outcome.TRAINED
    # the same architecture drawn fresh (not queued): a free duplicate, never scored
    study.sampler = _Fixed(params)
    assert runner.run(study.ask()) == Outcome.DUPLICATE
    assert Attr.SCREEN_SCORE not in study.trials[-1].user_attrs
    assert len(fake_evaluate.calls) == 1


class _Fixed(optuna.samplers.BaseSampler):
    """Draws the given parameters as a fresh proposal (not an enqueued trial)."""

    def __init__(self, params):
        self.params = params

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, name, distribution):
        return self.params[name]


def test_a_failing_score_screens_nothing_out(tmp_path, settings, fake_evaluate):
    study, runner = _runner(tmp_path, settings, None, k=4)  # no data: the score cannot be computed
    outcomes = [runner.run(study.ask()) for _ in range(6)]
    assert set(outcomes) <= set(EVALUATED), outcomes
    assert all(Attr.SCREEN_ERROR in t.user_attrs for t in study.trials)


class _Learnable:
    """A fake proxy whose top-1 follows the design choices (PReLU and binary 1x1 only help, OPs help a
    little), as the surrogate's features describe them; trains nothing."""

    def __init__(self):
        self.calls: list[str] = []

    @staticmethod
    def top1(arch) -> float:
        from search_space import analytic_cost

        prelu = np.mean([s.activation == "prelu" for s in arch.stages])
        pw = np.mean([s.binary_scope == "pw" for s in arch.stages])
        return float(0.15 + 0.1 * prelu + 0.1 * pw + 0.02 * np.log(analytic_cost(arch).ops() / 1e7))

    def __call__(self, arch, fidelity, data, seed=0, *, on_epoch=None, device=None, progress=None, **kw):
        from proxies import ProxyResult

        self.calls.append(arch.encode())
        top1 = self.top1(arch)
        for e in range(1, fidelity.epochs + 1):
            if on_epoch is not None and on_epoch(e, top1 * e / fidelity.epochs, 1.0) and e < fidelity.epochs:
                return ProxyResult(arch.encode(), fidelity.key(), seed, top1 * e / fidelity.epochs, 1.0, e, 0.01,
                                   1000.0, pruned=True)
        return ProxyResult(arch.encode(), fidelity.key(), seed, top1, 1.0, fidelity.epochs, 0.01, 1000.0)


def _surrogate_runner(tmp_path, settings, data, k):
    settings = replace(settings, screen=ScreenPolicy(keep_one_in=k, score="surrogate"))
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    study.sampler = make_sampler("random", settings.space, settings.fits, 0)
    runner = TrialRunner(study, settings, data)
    runner.rungs = replace(runner.rungs, min_peers=10_000)  # no rung stops anything: kept proposals train to the end
    return study, runner


def test_the_surrogate_screens_once_it_predicts_and_keeps_the_better_proposals(tmp_path, settings, monkeypatch):
    from search_space import ArchConfig

    fake = _Learnable()
    monkeypatch.setattr("nas.objective.evaluate", fake)
    study, runner = _surrogate_runner(tmp_path, settings, None, k=4)  # no data needed: nothing is a zero-cost score
    outcomes = [runner.run(study.ask()) for _ in range(60)]
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    fresh = [t for t in trials if t.user_attrs.get(Attr.SCREEN_BY) == "surrogate"]
    warm = [t for t in fresh if t.user_attrs.get(Attr.SCREEN_PLACE) == "warm-up"]
    assert len(fresh) == len(outcomes) - outcomes.count(Outcome.OVER_BUDGET) - outcomes.count(Outcome.DUPLICATE)
    # warm-up: at least MIN_FIT trained before any screening, every warm-up proposal trained, unscored
    assert 5 <= len(warm) < len(fresh) and all(t.user_attrs[Attr.OUTCOME] == Outcome.TRAINED for t in warm)
    assert all(Attr.SCREEN_SCORE not in t.user_attrs for t in warm)
    assert fresh.index(warm[-1]) == len(warm) - 1  # it never goes back to warming up here
    after = fresh[len(warm):]
    screened = [t for t in after if t.user_attrs[Attr.OUTCOME] == Outcome.SCREENED]
    kept = [t for t in after if t.user_attrs[Attr.OUTCOME] == Outcome.TRAINED]
    assert screened and kept and len(kept) < len(after) / 2
    assert all(math.isfinite(t.user_attrs[Attr.SCREEN_SCORE]) for t in after)
    truth = {t.number: _Learnable.top1(ArchConfig.decode(t.user_attrs[Attr.ARCH])) for t in after}
    # a real signal: the predictions follow the truth, and what it trains is better than what it screens out
    from scipy import stats
    assert stats.spearmanr([truth[t.number] for t in after], [t.user_attrs[Attr.SCREEN_SCORE] for t in after])[0] > 0.7
    assert np.mean([truth[t.number] for t in kept]) > np.mean([truth[t.number] for t in screened])
    assert set(fake.calls) == {t.user_attrs[Attr.ARCH] for t in warm + kept}


def test_a_surrogate_that_cannot_predict_screens_nothing(tmp_path, settings, fake_evaluate):
    """The fake proxy's top-1 is a hash of the architecture: no design choice explains it."""
    study, runner = _surrogate_runner(tmp_path, settings, None, k=4)
    outcomes = [runner.run(study.ask()) for _ in range(20)]
    assert Outcome.SCREENED not in outcomes
    fresh = [t for t in study.trials if t.user_attrs.get(Attr.SCREEN_BY) == "surrogate"]
    assert len(fresh) >= 15 and all(t.user_attrs[Attr.SCREEN_PLACE] == "warm-up" for t in fresh)


def _prior_for(settings, data, n=60):
    """A prior whose top-1 follows the fake proxy's rule, at the settings' fidelity, on ``data``."""
    from proxies import SurrogatePrior
    from search_space import SearchSpace

    rng = np.random.default_rng(7)
    archs = list(dict.fromkeys(a for a in (SearchSpace().sample(rng) for _ in range(20 * n))
                               if settings.ops(a) <= settings.budget))[:n]  # within the budget, as a real prior
    return SurrogatePrior(settings.fidelity.key(), data.classes, data.mean, data.std,
                          tuple(a.encode() for a in archs), tuple(_Learnable.top1(a) for a in archs))


@pytest.mark.parametrize("case", ["applies", "other classes", "other data", "other fidelity", "damaged", "turned off"])
def test_the_shipped_prior_screens_from_the_first_proposal_only_where_it_applies(
        tmp_path, settings, synthetic_data, monkeypatch, capsys, case):
    fake = _Learnable()
    monkeypatch.setattr("nas.objective.evaluate", fake)
    prior = _prior_for(settings, synthetic_data)
    if case == "other data":  # the same class names, other images
        prior = replace(prior, mean=tuple(m + 0.01 for m in prior.mean))
    if case == "other classes":
        prior = replace(prior, classes=tuple(reversed(prior.classes)))
    if case == "other fidelity":
        prior = replace(prior, fidelity=replace(settings.fidelity, epochs=2).key())
    loads = []

    def load():
        loads.append(1)
        if case == "damaged":
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        return prior

    monkeypatch.setattr("nas.objective.load_prior", load)
    settings = replace(settings, screen=ScreenPolicy(keep_one_in=3, score="surrogate", prior=case != "turned off"))
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    study.sampler = make_sampler("random", settings.space, settings.fits, 0)
    runner = TrialRunner(study, settings, synthetic_data)
    runner.rungs = replace(runner.rungs, min_peers=10_000)
    for _ in range(12):
        runner.run(study.ask())
    fresh = [t for t in sorted(study.trials, key=lambda t: t.number) if t.user_attrs.get(Attr.SCREEN_BY) == "surrogate"]
    places = [t.user_attrs[Attr.SCREEN_PLACE] for t in fresh]
    assert len(fresh) >= 10 and len(loads) == (case != "turned off")  # read once per process, and only when asked
    if case == "applies":  # screened from the first proposal on, the prior's size recorded on every one
        assert "warm-up" not in places and {t.user_attrs[Attr.SCREEN_PRIOR] for t in fresh} == {len(prior.archs)}
        outcomes = [t.user_attrs[Attr.OUTCOME] for t in fresh]
        assert outcomes.count(Outcome.SCREENED) > len(fresh) / 3 and Outcome.TRAINED in outcomes
    else:  # warms up on its own trainings, as without a prior, and says why once (unless asked not to use it)
        assert places[:5] == ["warm-up"] * 5 and {t.user_attrs[Attr.SCREEN_PRIOR] for t in fresh} == {0}
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("surrogate prior not used: ")]
    assert len(said) == (case not in ("applies", "turned off"))
    assert case != "damaged" or "could not be read (ValueError" in said[0]
    from nas.report.outputs import _markdown, report_data

    said = f"and on {len(prior.archs)} shipped proxy results at this fidelity"
    assert (said in _markdown(report_data(study))) == (case == "applies")  # the report says what it fitted


def test_the_study_replaces_the_prior_for_an_architecture_both_hold(tmp_path, settings, synthetic_data, monkeypatch):
    monkeypatch.setattr("nas.objective.evaluate", _Learnable())
    prior = _prior_for(settings, synthetic_data, n=20)
    prior = replace(prior, top1=(0.0, *prior.top1[1:]))  # the prior's result for the arch trained below differs
    monkeypatch.setattr("nas.objective.load_prior", lambda: prior)
    fitted, real_fit = [], RidgeSurrogate.fit

    def spy(self, archs, top1):
        fitted.append(dict(zip(archs, top1, strict=True)))
        return real_fit(self, archs, top1)

    monkeypatch.setattr(RidgeSurrogate, "fit", spy)
    settings = replace(settings, screen=ScreenPolicy(keep_one_in=3, score="surrogate"))
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    arch = prior.archs[0]
    study.enqueue_trial(arch_params(ArchConfig.decode(arch), settings.space))  # queued: trained, never screened
    runner = TrialRunner(study, settings, synthetic_data)
    runner.run(study.ask())
    study.sampler = make_sampler("random", settings.space, settings.fits, 0)
    runner.run(study.ask())  # a fresh proposal: the surrogate fits the prior and the trained one
    assert len(fitted) == 1 and len(fitted[0]) == len(prior.archs)  # the queued one was not screened
    assert fitted[0][arch] == pytest.approx(_Learnable.top1(ArchConfig.decode(arch)))  # the study's result


def test_the_prior_is_on_by_default_and_no_surrogate_prior_turns_it_off(tmp_path):
    from nas.cli_args import parse_args

    base = ["--budget", "50M", "--out", str(tmp_path / "o")]
    assert parse_args(base)[1].screen.prior is True
    assert parse_args([*base, "--no-surrogate-prior"])[1].screen.prior is False
