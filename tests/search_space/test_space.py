"""SearchSpace: sampling, mutation, membership, distance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from search_space import PRESETS, ArchConfig, SearchSpace, StageConfig, decode


def test_sampling_is_deterministic_under_a_seed():
    space = SearchSpace()
    a = [space.sample(np.random.default_rng(7)).encode() for _ in range(3)]
    assert len(set(a)) == 1
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    assert [space.sample(rng1) for _ in range(20)] == [space.sample(rng2) for _ in range(20)]


def test_samples_are_in_the_space_and_varied():
    space = SearchSpace()
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(300)]
    assert all(space.contains(a) for a in samples)
    assert len({a.encode() for a in samples}) == 300
    # Every value of every stage choice shows up.
    for name, values in (("topology", space.topologies), ("k", space.ks),
                         ("placement", space.placements), ("binary_scope", space.binary_scopes)):
        seen = {getattr(s, name) for a in samples for s in a.stages}
        assert seen == set(values)


def test_default_space_contains_every_preset():
    space = SearchSpace()
    for name, preset in PRESETS.items():
        assert space.contains(preset.arch), name


def test_restricted_space_excludes_other_values():
    space = SearchSpace(topologies=("parallel",), binary_scopes=("pw",), widths=(1.0,), depths=(1,))
    assert space.contains(PRESETS["bin_mobilenet_sp"].arch)
    assert not space.contains(PRESETS["bin_mobilenet_l"].arch)
    assert not space.contains(PRESETS["bin_mobilenet_sp_w0.5_d1"].arch)
    rng = np.random.default_rng(3)
    assert all(space.contains(space.sample(rng)) for _ in range(50))


def test_uniform_space_holds_only_uniform_archs():
    space = SearchSpace(per_stage=False)
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.contains(arch)
        # Stages agree on everything but K, which narrow stages may use less of.
        assert len({replace(s, k=0) for s in arch.stages}) == 1
    mixed = PRESETS["mobilenet_v1"].arch.with_stage(2, k=3)
    assert not space.contains(mixed)


def test_mutate_changes_exactly_one_choice():
    space = SearchSpace()
    rng = np.random.default_rng(5)
    arch = space.sample(rng)
    for _ in range(300):
        new = space.mutate(arch, rng)
        assert new != arch
        assert space.distance(arch, new) == 1
        assert space.contains(new)
        arch = new


def test_mutate_in_uniform_space_keeps_uniformity():
    space = SearchSpace(per_stage=False)
    rng = np.random.default_rng(9)
    arch = PRESETS["bin_mobilenet_l"].arch
    for _ in range(100):
        new = space.mutate(arch, rng)
        assert space.contains(new) and space.distance(arch, new) == 1
        arch = new


def test_distance_counts_differing_choices():
    space = SearchSpace()
    a = PRESETS["bin_mobilenet_sp"].arch
    assert space.distance(a, a) == 0
    assert space.distance(a, PRESETS["bin_mobilenet_sp_copy"].arch) == 5  # expansion x 5 stages
    assert space.distance(a, PRESETS["bin_mobilenet_sp_w0.7_d2"].arch) == 2
    assert space.distance(a, PRESETS["bin_mobilenet_l"].arch) == 5  # topology x 5
    b = a.with_stage(0, k=2).with_stage(4, activation="prelu")
    assert space.distance(a, b) == space.distance(b, a) == 2


def test_size_counts_distinct_architectures():
    space = SearchSpace(topologies=("cascade", "parallel"), placements=("none",), ks=(0,),
                        activations=("relu",), binary_scopes=("pw",), widths=(1.0,), depths=(1,),
                        per_stage=False)
    assert space.size() == 1 + 3  # cascade, parallel x 3 expansions
    assert SearchSpace().size() == 7 * 3 * ((1 + 2 * 3) * 4 * 5 * 2 * 3) ** 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ks": (0, 7)}, "k"),
        ({"topologies": ("cascade", "ring")}, "topology"),
        ({"widths": ()}, "widths"),
        ({"depths": (0,)}, "depth"),
        ({"expansions": ("4xdw",)}, "expansion"),
    ],
)
def test_bad_space_definition_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace(**kwargs)


def test_mutate_with_no_alternatives_raises():
    space = SearchSpace(topologies=("cascade",), placements=("none",), ks=(0,), activations=("relu",),
                        binary_scopes=("pw",), widths=(1.0,), depths=(1,))
    with pytest.raises(ValueError, match="nothing to mutate"):
        space.mutate(ArchConfig.uniform(StageConfig()), np.random.default_rng(0))


def test_every_two_decimal_width_has_its_own_channels():
    from search_space.skeleton import STAGES, make_divisible

    plans = {tuple(make_divisible(c * i / 100) for c in [32] + [s[0][0] for s in STAGES])
             for i in range(25, 401)}
    assert len(plans) == 376  # so the canonical string (two decimals) never aliases a network


def test_k_that_changes_nothing_is_normalised_away():
    """At width 0.75 the first stage's depthwise conv has 24 channels: K=4 groups like K=3."""
    space = SearchSpace()
    base = PRESETS["mobinet_mid_k4_prelu"].arch
    narrow = ArchConfig(base.stages, 0.75, 1)
    assert narrow.stages[0].k == 3 and narrow.stages[1].k == 4
    assert narrow == ArchConfig(narrow.with_stage(0, k=3).stages, 0.75, 1)
    assert decode(narrow.encode()) == narrow
    assert space.contains(narrow)
    # Depth 2 adds a 48-channel depthwise conv to stage 0: K=4 matters again.
    assert ArchConfig(base.stages, 0.75, 2).stages[0].k == 4
