"""Define-by-run adapter and the budget-aware samplers (a contract every sampler passes)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas import SAMPLERS, FeasibleRandomSampler, arch_from_params, arch_params, make_sampler, suggest_arch
from search_space import PRESETS, SEED_PRESETS, SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("name", [*SEED_PRESETS, "mobinet_none_k0_relu", "bin_mobilenet_sp_w0.7_d2"])
def test_presets_round_trip_through_params_and_a_trial(name):
    space = SearchSpace()
    arch = PRESETS[name].arch
    params = arch_params(arch, space)
    assert arch_from_params(params, space) == arch
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(params)
    assert suggest_arch(study.ask(), space) == arch


def test_cascade_stages_do_not_suggest_an_expansion():
    space = SearchSpace()
    params = arch_params(PRESETS["bin_mobilenet_l"].arch, space)
    assert not any(k.endswith(".expansion") for k in params)
    assert "s0.expansion" in arch_params(PRESETS["bin_mobilenet_sp"].arch, space)


def test_tied_space_uses_one_set_of_stage_choices():
    space = SearchSpace(per_stage=False)
    arch = PRESETS["mobinet_mid_k4_prelu"].arch
    params = arch_params(arch, space)
    assert {k.split(".")[0] for k in params if "." in k} == {"all"}
    assert arch_from_params(params, space) == arch


def test_arch_outside_the_space_is_refused():
    space = SearchSpace(widths=(0.5,))
    with pytest.raises(ValueError, match="not in the search space"):
        arch_params(PRESETS["bin_mobilenet_sp"].arch, space)


def _fits(settings):
    return settings.fits


def test_feasible_random_draws_fit_and_are_reproducible(settings):
    s = FeasibleRandomSampler(settings.space, settings.fits, seed=3)
    draws = [s.draw(i) for i in range(20)]
    assert all(settings.ops(a) <= settings.budget for a in draws)
    assert [s.draw(i) for i in range(20)] == draws
    assert len(set(draws)) > 15
    # Uniform draws mostly do not fit this budget: the sampler is what makes them fit.
    rng = np.random.default_rng(0)
    assert np.mean([settings.fits(settings.space.sample(rng)) for _ in range(300)]) < 0.2


def test_an_impossible_budget_is_a_clear_error(settings, monkeypatch):
    monkeypatch.setattr("nas.samplers.MAX_DRAWS", 50)
    s = FeasibleRandomSampler(settings.space, lambda a: False)
    with pytest.raises(ValueError, match="no architecture of the search space fits"):
        s.draw(0)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name, settings):
    """Every sampler: valid architectures of the space, reproducible under a seed, and the
    first generation / start-up trials all within budget."""

    def run(seed):
        sampler = make_sampler(name, settings.space, settings.fits, seed=seed, population=4, settings=settings)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        archs = []
        for _ in range(8):
            t = study.ask()
            arch = suggest_arch(t, settings.space)
            ops = settings.ops(arch)
            archs.append(arch)
            if ops > settings.budget:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(t, [len(arch.encode()) / 100, ops])
        return archs

    archs = run(0)
    assert all(settings.space.contains(a) for a in archs)
    assert all(settings.fits(a) for a in archs[:4])  # first generation / start-up
    assert run(0) == archs
    assert run(1) != archs


def test_unknown_sampler(settings):
    with pytest.raises(ValueError, match="--sampler: unknown value 'cmaes'"):
        make_sampler("cmaes", settings.space, settings.fits)
