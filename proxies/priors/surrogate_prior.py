"""The surrogate's shipped prior: proxy results held apart from the reference set, for a search to
start screening from its first proposal instead of once its own trainings suffice.

A surrogate fitted on a search's own trained architectures screens only once its fit beats chance
(:attr:`proxies.priors.surrogate.RidgeSurrogate.useful`), and a short search may not train enough of them
to full fidelity for that (``python -m proxies.calibration.surrogate_fit`` measures the learning curve).
The prior is the data that command fits and measures and, with ``--prior``, writes: the mean validation top-1 of
every architecture outside the reference set that the committed searches and the rank-fidelity run
cache trained at one fidelity on one data set. A search pools it with its own trained architectures
(its own result replaces the prior's for an architecture both hold) only where it applies: the same
fidelity key, the same class names in the same order, and the same per-channel mean and SD of the
training split (within :data:`STATS_TOLERANCE`: another data set with CIFAR-10's class names, such
as CINIC-10, differs there) (:meth:`SurrogatePrior.applies`). On other data or another fidelity it
is not used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from search_space.files import atomic_write_text

__all__ = ["PRIOR_FILE", "STATS_TOLERANCE", "SurrogatePrior", "load_prior", "without"]

PRIOR_FILE = Path(__file__).resolve().parent / "surrogate_prior.json"
STATS_TOLERANCE = 1e-3  # per-channel mean and SD (0..1 pixel values) that count as the same data


@dataclass(frozen=True)
class SurrogatePrior:
    fidelity: str  # the Fidelity.key() its results were trained at
    classes: tuple[str, ...]  # the class names of the data they were trained on
    mean: tuple[float, ...]  # per-channel mean of that data's training split (ProxyData.mean)
    std: tuple[float, ...]  # and its SD
    archs: tuple[str, ...]
    top1: tuple[float, ...]  # mean validation top-1 of each architecture
    source: str = ""  # how it was made (a command)

    def __post_init__(self) -> None:
        if len(self.archs) != len(self.top1):
            raise ValueError(f"surrogate prior: {len(self.archs)} architectures but {len(self.top1)} top-1 values")

    def mismatch(self, fidelity: str, classes: Sequence[str], mean: Sequence[float], std: Sequence[float]) -> str:
        """Why a search at ``fidelity`` on data with these class names and channel statistics may not
        fit on it ("" when it may)."""
        if fidelity != self.fidelity:
            return f"it was trained at fidelity {self.fidelity}, the search trains at {fidelity}"
        if tuple(classes) != self.classes:
            return f"its data has the classes {', '.join(self.classes)}; the search's has {', '.join(classes)}"
        if len(mean) != len(self.mean) or any(abs(a - b) > STATS_TOLERANCE for a, b in
                                              zip((*mean, *std), (*self.mean, *self.std), strict=True)):
            return (f"its data's channel mean/SD {self.mean}/{self.std} are not the search's"
                    f" {tuple(mean)}/{tuple(std)} (another data set with the same class names)")
        return ""

    def applies(self, fidelity: str, classes: Sequence[str], mean: Sequence[float], std: Sequence[float]) -> bool:
        """Whether a search at ``fidelity`` on data with these class names and statistics may fit on it."""
        return not self.mismatch(fidelity, classes, mean, std)

    def digest(self) -> str:
        """A fingerprint of its points (as stored: top-1 to 6 decimals), to tie a measurement to it."""
        lines = "".join(f"{a},{t:.6f}\n" for a, t in zip(self.archs, self.top1, strict=True))
        return hashlib.sha256(lines.encode()).hexdigest()[:16]

    def write(self, path: Path) -> None:
        body = {"fidelity": self.fidelity, "classes": list(self.classes), "mean": list(self.mean),
                "std": list(self.std), "source": self.source,
                "points": [{"arch": a, "top1": round(t, 6)} for a, t in zip(self.archs, self.top1, strict=True)]}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(body, indent=1) + "\n")


def load_prior(path: Path = PRIOR_FILE) -> SurrogatePrior | None:
    """The prior stored at ``path``; None when there is none."""
    if not path.is_file():
        return None
    body = json.loads(path.read_text())
    points = body["points"]
    return SurrogatePrior(body["fidelity"], tuple(body["classes"]), tuple(body["mean"]), tuple(body["std"]),
                          tuple(p["arch"] for p in points), tuple(float(p["top1"]) for p in points),
                          body.get("source", ""))


def without(prior: SurrogatePrior, archs: set[str], source: str) -> SurrogatePrior:
    """``prior`` less the results of ``archs`` (canonical strings)."""
    keep = [(a, t) for a, t in zip(prior.archs, prior.top1, strict=True) if a not in archs]
    return SurrogatePrior(prior.fidelity, prior.classes, prior.mean, prior.std, tuple(a for a, _ in keep),
                          tuple(t for _, t in keep), source)

