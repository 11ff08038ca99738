"""Argument checks every layer shares."""

from __future__ import annotations

import numbers

__all__ = ["check_int", "is_int"]


def is_int(value: object) -> bool:
    """An integer (Python or numpy), and not a bool (``True`` is an ``int`` to Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, lo: int | None = None, hi: int | None = None, why: str = "") -> int:
    """``value`` as an ``int``, or a ``ValueError`` naming ``name``, the value, the range expected and
    ``why`` (e.g. "; 51 images are left")."""
    if not is_int(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = {(False, False): "", (True, False): f" >= {lo}", (False, True): f" <= {hi}",
                  (True, True): f" {lo}..{hi}"}
        expected = "an integer" + bounds[lo is not None, hi is not None]
        raise ValueError(f"{name}: invalid value {value!r} (expected {expected}{why})")
    return int(value)
