"""proxies.scoring.fidelity: a fidelity's key names it exactly, and reads back."""

from __future__ import annotations

import pytest

from proxies import FIDELITIES, Fidelity


@pytest.mark.parametrize("fidelity", [*FIDELITIES.values(), Fidelity(width_scale=0.5), Fidelity(width_scale=1.25,
                                      epochs=1, train_subset=12000, resolution=64, batch_size=64, val_size=500)])
def test_a_key_reads_back_as_its_fidelity(fidelity):
    assert Fidelity.from_key(fidelity.key()) == fidelity


@pytest.mark.parametrize("key", ["default", "e2-n3000-r32-ws1-b32", "e2-n3000-r32-ws1-b32-v2000-x", "", None])
def test_anything_else_is_refused(key):
    with pytest.raises(ValueError, match="is not a fidelity key"):
        Fidelity.from_key(key)


def test_a_key_out_of_range_is_refused_as_the_fidelity_would_be():
    with pytest.raises(ValueError, match="train_subset"):
        Fidelity.from_key("e2-n5-r32-ws1-b32-v2000")
