"""Presets: the registry and its mapping to every row of paper_tables.csv."""

from __future__ import annotations

import pytest

from search_space import PAPER_ROWS, PRESETS, get_preset, preset_for_paper_row
from search_space.presets import register_preset


def test_every_paper_row_maps_to_a_preset_with_its_configuration(paper_tables):
    for row in paper_tables.itertuples():
        arch = preset_for_paper_row(row.name).arch
        stage = arch.stages[0]
        assert arch.is_uniform, row.name
        assert stage.topology == row.topology, row.name
        assert stage.placement == row.placement, row.name
        assert stage.k == row.k, row.name
        assert arch.width == row.width and arch.depth == row.depth, row.name
        expected_exp = None if row.topology == "cascade" else row.expansion
        assert stage.expansion == expected_exp, row.name
        assert stage.activation == row.activation, row.name
        assert stage.binary_scope == row.binary_scope, row.name
    assert set(PAPER_ROWS) == set(paper_tables["name"])


def test_mobinet_grid_is_complete():
    names = [f"mobinet_{p}_k{k}_{a}" for p in ("none", "pre", "mid", "post")
             for k in range(5) for a in ("relu", "prelu")]
    assert all(n in PRESETS for n in names)
    assert len({PRESETS[n].arch for n in names}) == 40


def test_sp_presets():
    assert get_preset("bin_mobilenet_sp").arch == get_preset("bin_mobilenet_sp_2xdw").arch
    assert get_preset("bin_mobilenet_sp_w0.7_d2").arch.width == 0.7
    assert get_preset("mobilenet_v1").arch.is_binary is False
    for exp in ("copy", "crelu", "2xdw"):
        assert get_preset(f"bin_mobilenet_sp_{exp}").arch.stages[0].expansion == exp


def test_unknown_preset_and_duplicate_registration():
    with pytest.raises(ValueError, match="'nope'"):
        get_preset("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_preset("mobilenet_v1", get_preset("mobilenet_v1").arch, "dup")
    with pytest.raises(ValueError, match="paper row"):
        preset_for_paper_row("nope")
