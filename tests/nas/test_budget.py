"""Budget and duration parsing."""

from __future__ import annotations

import pytest

from nas import format_ops, parse_budget, parse_duration


@pytest.mark.parametrize("text", ["50M", "50m", "0.05G", "50e6", "50E6", "50000000", " 50M ", "50000k", "5e7"])
def test_budget_forms_agree(text):
    assert parse_budget(text) == 50_000_000


@pytest.mark.parametrize("text", ["abc", "-5M", "0", "50Q", "", "M", "5 0M", "1e400", "nan", "inf", "0.0000001",
                                  "50MM", "1e16"])
def test_bad_budgets_name_the_value(text):
    with pytest.raises(ValueError, match=r"--budget: invalid value"):
        parse_budget(text)


def test_format_ops():
    assert format_ops(44_677_120) == "44.68M"
    assert format_ops(2.5e10) == "25.00G"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400), ("2min", 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "10d"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="--timeout"):
        parse_duration(text)
