"""The named search spaces: each paper's own design space holds the paper's models, and is listed whole."""

from __future__ import annotations

import json

import numpy as np
import pytest

from search_space import PRESETS, SPACES, SearchSpace, analytic_cost, describe, get_space, space_name
from search_space.named import space_summary
from search_space.presets.__main__ import main as presets_main


@pytest.mark.parametrize("paper", ["sp", "mobinet"])
def test_every_model_of_a_paper_is_a_point_of_its_space(paper):
    space = get_space(paper)
    ours = [p for p in PRESETS.values() if p.source == paper]
    binary = [p for p in ours if "none" not in {s.binary_scope for s in p.arch.stages}]
    assert len(binary) >= 10
    for preset in binary:  # Sp's full-precision models are the paper's baselines, not its binary space
        assert space.contains(preset.arch), preset.name


def test_the_papers_spaces_hold_what_each_paper_varies_and_nothing_else():
    sp, mobinet = get_space("sp"), get_space("mobinet")
    assert not sp.contains(PRESETS["mobinet_mid_k3_prelu"].arch)  # no MoBiNet block, K or PReLU in Sp's space
    assert not mobinet.contains(PRESETS["bin_mobilenet_sp"].arch)  # no parallel block, no binary-1x1-only scope
    assert not mobinet.contains(PRESETS["bin_mobilenet_l"].arch)
    assert (sp.size(), mobinet.size()) == (140, 40)  # (1 cascade + 2 topologies x 3 expansions) x 2 scopes x 5 x 2
    for name in ("sp", "mobinet"):
        archs = list(get_space(name).enumerate())
        assert len(archs) == len(set(archs)) == get_space(name).size()
        assert all(get_space(name).contains(a) and len(set(a.stages[1:])) == 1 for a in archs)


def test_enumerate_refuses_a_space_too_large_to_list():
    with pytest.raises(ValueError, match="too many to list"):
        next(SearchSpace().enumerate())


def test_a_space_is_rebuilt_from_its_stored_choices_and_named():
    for name, space in SPACES.items():
        rebuilt = SearchSpace.from_choices(json.loads(json.dumps(space.choices())))
        assert rebuilt == space and space_name(rebuilt) == name
    assert space_name(SearchSpace(widths=(1.0,))) is None
    with pytest.raises(ValueError, match="lack 'all.placement'"):
        SearchSpace.from_choices({"all.topology": ["cascade"]})


def test_get_space_names_the_bad_value_and_the_flag():
    with pytest.raises(ValueError, match=r"--space: unknown value 'mobile' \(choose from per-stage, uniform, sp"):
        get_space("mobile")


def test_samples_and_mutations_stay_in_a_paper_space():
    rng = np.random.default_rng(0)
    for name in ("sp", "mobinet"):
        space = get_space(name)
        for _ in range(50):
            arch = space.sample(rng)
            assert space.contains(arch)
            assert space.contains(space.mutate(arch, rng))


def test_size_within_a_budget_is_counted_whole_for_a_small_space():
    budget = analytic_cost(PRESETS["mobinet_mid_k4_prelu"].arch).ops()
    s = space_summary("mobinet", budget)
    expect = sum(analytic_cost(a).ops() <= budget for a in get_space("mobinet").enumerate())
    assert s["in_budget"] == expect == 32
    big = space_summary("per-stage", 50e6)
    assert big["in_budget"] is None and 0 < big["in_budget_share"] < 1


def test_describe_and_presets_list_a_space_and_its_size_within_a_budget(capsys):
    assert describe.main(["--space", "sp", "--budget", "45M"]) == 0
    out = capsys.readouterr().out
    assert "architectures: 140" in out and "within 45.00M OPs: 93" in out and "all.binary_scope: pw, all" in out
    assert describe.main(["--space", "mobinet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 40
    assert presets_main(["--space", "mobinet", "--budget", "32.1M"]) == 0
    out = capsys.readouterr().out
    assert "space mobinet: 40 architectures, 32 within 32.10M OPs" in out and "bin_mobilenet_sp " not in out
    assert presets_main(["--json", "--space", "sp"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"bin_mobilenet_sp", "bin_mobilenet_l", "bin_mobilenet_ls"}
    assert all("sp" in r["spaces"] for r in rows)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--space", "mobile"], "--space: unknown value 'mobile'"),
        (["--space", "sp", "--budget", "lots"], "--budget: invalid value 'lots'"),
        (["bin_mobilenet_sp", "--budget", "45M"], "--budget: only meaningful with --space"),
        (["bin_mobilenet_sp", "--space", "sp"], "not both"),
        ([], "give an architecture"),
    ],
)
def test_describe_space_bad_input_is_one_line_exit_2(args, needle, capsys):
    assert describe.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
