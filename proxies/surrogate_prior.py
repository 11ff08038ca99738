"""The surrogate's shipped prior: proxy results held apart from the reference set, for a search to
start screening from its first proposal instead of after some 30 trainings.

A surrogate fitted on a search's own trained architectures only tells better from worse once it
has some 30 of them (``benchmarks/surrogate.py``'s learning curve), and a default 36-trial search
trains about 13 to full fidelity: it never screens. The prior is the data ``benchmarks/surrogate.py``
fits and measures (``--prior``): the mean validation top-1 of every architecture outside the
reference set that the committed searches and the rank-fidelity run cache trained at one fidelity
on one data set. A search pools it with its own trained architectures (its own result replaces the
prior's for an architecture both hold) only where it applies: the same fidelity key and the same
class names (:meth:`SurrogatePrior.applies`). On other data or another fidelity it is not used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from search_space.files import atomic_write_text

__all__ = ["PRIOR_FILE", "SurrogatePrior", "load_prior"]

PRIOR_FILE = Path(__file__).resolve().parent / "data" / "surrogate_prior.json"


@dataclass(frozen=True)
class SurrogatePrior:
    fidelity: str  # the Fidelity.key() its results were trained at
    classes: tuple[str, ...]  # the class names of the data they were trained on
    archs: tuple[str, ...]
    top1: tuple[float, ...]  # mean validation top-1 of each architecture
    source: str = ""  # how it was made (a command)

    def __post_init__(self) -> None:
        if len(self.archs) != len(self.top1):
            raise ValueError(f"surrogate prior: {len(self.archs)} architectures but {len(self.top1)} top-1 values")

    def applies(self, fidelity: str, classes: Sequence[str]) -> bool:
        """Whether a search at ``fidelity`` on data with ``classes`` may fit on it."""
        return fidelity == self.fidelity and tuple(classes) == self.classes

    def digest(self) -> str:
        """A fingerprint of its points (as stored: top-1 to 6 decimals), to tie a measurement to it."""
        lines = "".join(f"{a},{t:.6f}\n" for a, t in zip(self.archs, self.top1, strict=True))
        return hashlib.sha256(lines.encode()).hexdigest()[:16]

    def write(self, path: Path) -> None:
        body = {"fidelity": self.fidelity, "classes": list(self.classes), "source": self.source,
                "points": [{"arch": a, "top1": round(t, 6)} for a, t in zip(self.archs, self.top1, strict=True)]}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(body, indent=1) + "\n")


def load_prior(path: Path = PRIOR_FILE) -> SurrogatePrior | None:
    """The prior stored at ``path``; None when there is none."""
    if not path.is_file():
        return None
    body = json.loads(path.read_text())
    points = body["points"]
    return SurrogatePrior(body["fidelity"], tuple(body["classes"]), tuple(p["arch"] for p in points),
                          tuple(float(p["top1"]) for p in points), body.get("source", ""))
