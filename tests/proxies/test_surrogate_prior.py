"""proxies.priors.surrogate_prior: the shipped prior's file round trip, where it applies, and the committed one."""

from __future__ import annotations

import pytest

from proxies import FIDELITIES, SurrogatePrior, load_prior
from proxies.priors.surrogate_prior import PRIOR_FILE
from search_space import ArchConfig

CLASSES = ("a", "b", "c")
MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.25, 0.25)


def test_written_and_loaded_back(tmp_path):
    prior = SurrogatePrior("e1-key", CLASSES, MEAN, STD, ("w1.0-d1:L-none-k0-relu-pw", "w0.5-d1:L-none-k0-relu-pw"),
                           (0.25, 0.125), source="made by a test")
    path = tmp_path / "deep" / "prior.json"
    prior.write(path)
    assert load_prior(path) == prior


def test_a_missing_file_is_no_prior(tmp_path):
    assert load_prior(tmp_path / "none.json") is None


def test_applies_only_at_its_fidelity_on_its_classes_and_channel_statistics():
    prior = SurrogatePrior("e1-key", CLASSES, MEAN, STD, (), ())
    assert prior.applies("e1-key", list(CLASSES), MEAN, STD) and prior.mismatch("e1-key", CLASSES, MEAN, STD) == ""
    assert prior.applies("e1-key", CLASSES, (0.5009, 0.4, 0.3), STD)  # within the tolerance: the same data
    assert "fidelity e1-key" in prior.mismatch("e2-key", CLASSES, MEAN, STD)
    assert "classes" in prior.mismatch("e1-key", ("a", "b"), MEAN, STD)
    assert "classes" in prior.mismatch("e1-key", ("c", "b", "a"), MEAN, STD)  # another order is another labelling
    assert "mean/SD" in prior.mismatch("e1-key", CLASSES, (0.51, 0.4, 0.3), STD)  # same names, other data
    assert "mean/SD" in prior.mismatch("e1-key", CLASSES, MEAN, (0.25, 0.25, 0.2))
    assert "mean/SD" in prior.mismatch("e1-key", CLASSES, (0.5,), (0.25,))  # one channel


def test_architectures_and_values_must_pair():
    with pytest.raises(ValueError, match="2 architectures but 1 top-1"):
        SurrogatePrior("k", CLASSES, MEAN, STD, ("x", "y"), (0.5,))


def test_the_committed_prior_is_default_fidelity_cifar10_results():
    prior = load_prior(PRIOR_FILE)
    assert prior is not None and prior.fidelity == FIDELITIES["default"].key()
    assert prior.classes == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    assert len(prior.archs) >= 30 and len(set(prior.archs)) == len(prior.archs)
    assert all(0 <= t <= 1 for t in prior.top1)
    assert len(prior.mean) == len(prior.std) == 3 and all(0 < v < 1 for v in (*prior.mean, *prior.std))
    assert all(ArchConfig.decode(a).encode() == a for a in prior.archs)  # canonical: the search's own strings
