"""The budget and durations on the command line: OPs (:mod:`search_space.budget`) and ``--timeout`` values."""

from __future__ import annotations

import re

from search_space.budget import format_ops, parse_budget

__all__ = ["format_ops", "parse_budget", "parse_duration"]

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_duration(text: str | float | int, option: str = "--timeout") -> float:
    """Seconds from ``90``, ``90s``, ``30m`` or ``1.5h`` (> 0)."""
    raw = str(text)
    m = _DURATION.match(raw)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{option}: invalid value {raw!r} (expected e.g. 1800, 30m or 1.5h)")
    unit = m.group(2).lower() if m.group(2) else None
    return float(m.group(1)) * _SECONDS[unit]
