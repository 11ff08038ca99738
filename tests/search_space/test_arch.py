"""ArchConfig: validation, normalisation, canonical string and JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_space.arch import (
    ACTIVATIONS,
    EXPANSIONS,
    KS,
    PLACEMENTS,
    SCOPES,
    TOPOLOGIES,
    ArchConfig,
    StageConfig,
    decode,
    encode,
)

stage_st = st.builds(
    StageConfig,
    st.sampled_from(TOPOLOGIES),
    st.sampled_from(PLACEMENTS),
    st.sampled_from(KS),
    st.sampled_from(EXPANSIONS),
    st.sampled_from(ACTIVATIONS),
    st.sampled_from(SCOPES),
)
arch_st = st.builds(
    ArchConfig,
    st.one_of(st.lists(stage_st, min_size=5, max_size=5).map(tuple), stage_st.map(lambda s: (s,) * 5)),
    st.integers(25, 400).map(lambda i: i / 100),
    st.integers(1, 4),
)


@settings(max_examples=300, deadline=None)
@given(arch_st)
def test_string_round_trip(arch):
    text = encode(arch)
    assert decode(text) == arch
    assert decode(text).encode() == text


@settings(max_examples=200, deadline=None)
@given(arch_st)
def test_json_round_trip(arch):
    assert ArchConfig.from_json(arch.to_json()) == arch
    assert ArchConfig.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch


def test_uniform_arch_has_short_canonical_form():
    arch = ArchConfig.uniform(StageConfig("parallel", "none", 0, "2xdw", "relu", "pw"))
    assert arch.encode() == "w1.0-d1:S-none-k0-2xdw-relu-pw"
    five = ":".join(["w1.0-d1"] + ["S-none-k0-2xdw-relu-pw"] * 5)
    assert decode(five) == arch and decode(five).encode() == arch.encode()


def test_mixed_arch_string():
    arch = ArchConfig.uniform(StageConfig()).with_stage(3, topology="both", expansion="copy", k=2)
    assert arch.encode() == (
        "w1.0-d1:L-none-k0-relu-pw:L-none-k0-relu-pw:L-none-k0-relu-pw:LS-none-k2-copy-relu-pw"
        ":L-none-k0-relu-pw"
    )


def test_cascade_expansion_is_normalised_away():
    a = StageConfig("cascade", expansion="2xdw")
    b = StageConfig("cascade", expansion=None)
    assert a == b and a.expansion is None and hash(a) == hash(b)


def test_width_is_normalised_to_two_decimals():
    assert ArchConfig.uniform(StageConfig(), width=1).width == 1.0
    assert ArchConfig.uniform(StageConfig(), width=0.7).encode().startswith("w0.7-")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"topology": "diagonal"}, "topology"),
        ({"placement": "inside"}, "placement"),
        ({"k": 5}, "k"),
        ({"k": -1}, "k"),
        ({"k": True}, "k"),
        ({"activation": "gelu"}, "activation"),
        ({"binary_scope": "dw"}, "binary_scope"),
        ({"topology": "parallel", "expansion": None}, "expansion"),
        ({"topology": "parallel", "expansion": "3xdw"}, "expansion"),
    ],
)
def test_stage_validation_names_field_and_value(kwargs, field):
    with pytest.raises(ValueError, match=field) as exc:
        StageConfig(**kwargs)
    bad = next(iter(v for k, v in kwargs.items() if k == field))
    assert repr(bad) in str(exc.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"width": 0.1}, "width"),
        ({"width": 5.0}, "width"),
        ({"width": 0.333}, "width"),
        ({"width": "1.0"}, "width"),
        ({"depth": 0}, "depth"),
        ({"depth": 1.5}, "depth"),
        ({"depth": 9}, "depth"),
    ],
)
def test_arch_validation_names_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ArchConfig.uniform(StageConfig(), **kwargs)


def test_arch_needs_five_stages():
    with pytest.raises(ValueError, match="stages"):
        ArchConfig((StageConfig(),) * 4)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "w1.0-d1",
        "w1.0:L-none-k0-relu-pw",
        "wx-d1:L-none-k0-relu-pw",
        "w1.0-dx:L-none-k0-relu-pw",
        "w1.0-d1:Q-none-k0-relu-pw",
        "w1.0-d1:L-none-k9-relu-pw",
        "w1.0-d1:L-none-kk-relu-pw",
        "w1.0-d1:L-none-k0-relu",
        "w1.0-d1:S-none-k0-relu-pw",
        "w1.0-d1:L-none-k0-relu-pw:L-none-k0-relu-pw",
        "w9.0-d1:L-none-k0-relu-pw",
        "w1.0-d1:L-none-k0-swish-pw",
    ],
)
def test_malformed_strings_raise_value_error(text):
    with pytest.raises(ValueError):
        decode(text)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "expected an object, got list"),
        ({"width": 1.0}, "missing key"),
        ({"stages": "abc"}, "stages"),
        ({"stages": [1] * 5}, r"stages\[0\]"),
        ({"stages": [{"topology": "cascade", "colour": "red"}] * 5}, "colour"),
        ({"stages": [{"k": 7}] * 5}, "k"),
        ({"arch": "w1.0-d1:L-none-k0-relu-pw", "stages": [{"k": 1}] * 5}, "disagrees"),
    ],
)
def test_bad_json_raises_value_error(data, match):
    with pytest.raises(ValueError, match=match):
        ArchConfig.from_dict(data)


def test_truncated_json_raises_value_error():
    text = ArchConfig.uniform(StageConfig()).to_json()
    with pytest.raises(ValueError, match="not valid JSON"):
        ArchConfig.from_json(text[: len(text) // 2])


def test_json_with_only_arch_string():
    arch = ArchConfig.uniform(StageConfig(placement="mid", k=3, activation="prelu", binary_scope="all"))
    assert ArchConfig.from_dict({"arch": arch.encode()}) == arch


def test_integral_types_are_normalised_and_floats_rejected():
    import numpy as np

    a = ArchConfig.uniform(StageConfig(k=np.int64(2)), depth=np.int64(2))
    assert a.stages[0].k == 2 and type(a.stages[0].k) is int and type(a.depth) is int
    assert ArchConfig.from_json(a.to_json()) == a
    with pytest.raises(ValueError, match="k"):
        StageConfig(k=1.0)
    with pytest.raises(ValueError, match="k"):
        ArchConfig.from_dict({"stages": [{"k": 1.0}] * 5})
    with pytest.raises(ValueError, match="width"):
        ArchConfig.from_dict({"stages": [{}] * 5, "width": 10**400})
    with pytest.raises(ValueError, match="expansion"):
        StageConfig("cascade", expansion="bogus")


def test_lenient_strings_decode_to_the_canonical_form():
    assert decode("w1-d01:L-none-k0-relu-pw").encode() == "w1.0-d1:L-none-k0-relu-pw"
