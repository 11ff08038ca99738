"""An OPs budget: parse ``50M`` / ``0.05G`` / ``50e6`` / ``50000000``, and print OPs back."""

from __future__ import annotations

import math
import re

__all__ = ["format_ops", "parse_budget"]

_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+]?[0-9]+)?)\s*([kmg]?)\s*$", re.IGNORECASE)


def parse_budget(text: str | float | int) -> int:
    """OPs from ``50M``, ``0.05G``, ``50e6``, ``50000000`` or ``500k`` (whole OPs, > 0).

    Suffixes are decimal (k = 1e3, M = 1e6, G = 1e9), as OPs are counted in the papers.
    """
    raw = str(text)
    m = _NUMBER.match(raw)
    if not m:
        raise ValueError(f"--budget: invalid value {raw!r} (expected OPs such as 50M, 0.05G, 50e6 or 50000000)")
    value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"--budget: invalid value {raw!r} (must be at least 1 OP)")
    if value > 1e15:
        raise ValueError(f"--budget: invalid value {raw!r} (more than 1e15 OPs)")
    return int(round(value))


def format_ops(ops: float) -> str:
    """``44.68M`` style: OPs in millions with two decimals (G above 10 G)."""
    if ops >= 1e10:
        return f"{ops / 1e9:.2f}G"
    return f"{ops / 1e6:.2f}M"
