"""The guided proposer's model and acquisition: which architecture to train next.

A model of the space, fitted on what has been trained (the study's own results and, where it
applies, the shipped prior), scores candidate architectures, and the candidate that maximises an
acquisition is trained next (BANANAS' loop: an ensemble for the uncertainty, an acquisition
maximised over random draws and mutations of the best found). Nothing here knows Optuna: the
sampler (:mod:`nas.guided`) and the strategy replay (:mod:`nas.analyze.strategies`) share it.

* **Model** (:class:`EnsembleModel`): ridge regression of top-1 on the design-choice features of
  :func:`proxies.arch_features`, plus the share of stages with each (topology, binary scope) pair
  (the interaction that makes MobileNet-Sp's block: parallel with only the 1x1 convs binary), in
  ``members`` bootstrap resamples. The penalty is chosen once per fit by leave-one-out on all the
  data; the members' spread is the uncertainty.
* **Objective**: the hypervolume of (top-1 up, OPs down) from the reference point (chance top-1,
  the budget), as a share of the box between it and (100%, 0 OPs) (:func:`hypervolume`).
* **Acquisitions** (:data:`ACQUISITIONS`), all on the hypervolume improvement (HVI) a candidate
  would add to the front of what is known, OPs being exact:
  ``ehvi``: its mean over the members (expected HVI);
  ``ucb``: the HVI of the members' mean plus one SD;
  ``ts``: the HVI under one member drawn at random (Thompson sampling).
  Candidates with no improvement under any of them are ordered by predicted top-1 + SD, so a
  proposal is never arbitrary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from proxies import arch_features
from search_space import SCOPES, TOPOLOGIES, ArchConfig

__all__ = ["ACQUISITIONS", "EnsembleModel", "acquire", "features", "hvi", "hypervolume"]

ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 21))


def features(arch: ArchConfig | str) -> np.ndarray:
    """:func:`proxies.arch_features` and the share of stages with each (topology, binary scope) pair."""
    a = ArchConfig.decode(arch) if isinstance(arch, str) else arch
    pairs = [
        sum(s.topology == t and s.binary_scope == b for s in a.stages) / len(a.stages)
        for t in TOPOLOGIES
        for b in SCOPES
    ]
    return np.concatenate([arch_features(a), np.asarray(pairs, dtype=float)])


def _loo_alpha(z: np.ndarray, y: np.ndarray) -> float:
    """The ridge penalty with the least leave-one-out error on (z, y) (closed form, intercept unpenalised)."""
    n = len(z)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    uy = u.T @ y
    best, alpha = np.inf, ALPHAS[0]
    for a in ALPHAS:
        shrink = s**2 / (s**2 + a)
        h = 1.0 / n + np.einsum("ij,j,ij->i", u, shrink, u)
        err = np.mean(((y - u @ (shrink * uy)) / np.maximum(1.0 - h, 1e-12)) ** 2)
        if err < best:
            best, alpha = err, a
    return alpha


class EnsembleModel:
    """Bootstrap ensemble of ridge regressions of top-1 on :func:`features`."""

    def __init__(self, members: int = 16, seed: int = 0) -> None:
        self.members = members
        self.seed = seed
        self._coef: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: Sequence[float]) -> EnsembleModel:
        """Fit on feature rows ``x`` (from :func:`features`) and their top-1 ``y``."""
        y = np.asarray(y, dtype=float)
        if len(y) < 2:
            raise ValueError(f"proposer: needs at least 2 results to fit, got {len(y)}")
        self._mean, self._scale = x.mean(axis=0), x.std(axis=0)
        self._scale[self._scale == 0] = 1.0
        z = (x - self._mean) / self._scale
        y0 = float(y.mean())
        self.alpha = _loo_alpha(z, y - y0)
        rng = np.random.default_rng(self.seed)
        coefs, icepts = [], []
        eye = self.alpha * np.eye(z.shape[1])
        for m in range(self.members):
            idx = np.arange(len(y)) if m == 0 else rng.integers(0, len(y), len(y))  # member 0: the plain fit
            zm, ym = z[idx], y[idx]
            zc, yc = zm - zm.mean(axis=0), ym - ym.mean()
            coef = np.linalg.solve(zc.T @ zc + eye, zc.T @ yc)
            coefs.append(coef)
            icepts.append(ym.mean() - zm.mean(axis=0) @ coef)
        self._coef, self._icept = np.stack(coefs), np.asarray(icepts)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted top-1, one row per member, one column per feature row of ``x``."""
        if self._coef is None:
            raise ValueError("proposer: predict before fit")
        z = (x - self._mean) / self._scale
        return self._icept[:, None] + self._coef @ z.T


def _front(points: np.ndarray, ref: tuple[float, float]) -> np.ndarray:
    """The non-dominated (top-1, OPs) points better than ``ref`` on both, sorted by OPs (and top-1) up."""
    p = points[(points[:, 0] > ref[0]) & (points[:, 1] < ref[1])] if len(points) else points.reshape(0, 2)
    if not len(p):
        return p.reshape(0, 2)
    p = p[np.lexsort((-p[:, 0], p[:, 1]))]
    keep, best = [], -np.inf
    for i, (y, _) in enumerate(p):
        if y > best:
            keep.append(i)
            best = y
    return p[keep]


def hypervolume(points: Sequence[tuple[float, float]], ref: tuple[float, float]) -> float:
    """The area of (top-1, OPs) space that ``points`` dominate, from ``ref`` = (top-1, OPs), as a share of
    the box from ``ref`` to (1, 0): 0 when no point beats ``ref`` on both, 1 for a 100% model at 0 OPs."""
    f = _front(np.asarray(points, dtype=float).reshape(-1, 2), ref)
    if not len(f):
        return 0.0
    lower = np.concatenate([[ref[0]], f[:-1, 0]])
    area = float(np.sum((f[:, 0] - lower) * (ref[1] - f[:, 1])))
    return area / ((1.0 - ref[0]) * ref[1])


def hvi(
    known: Sequence[tuple[float, float]], top1: np.ndarray, ops: np.ndarray, ref: tuple[float, float]
) -> np.ndarray:
    """The hypervolume each candidate (``top1`` of any shape whose last axis matches ``ops``) would add to
    that of ``known``, in :func:`hypervolume`'s unit."""
    f = _front(np.asarray(known, dtype=float).reshape(-1, 2), ref)
    lows = np.concatenate([[ref[0]], f[:, 0]])  # segment i of top-1: [lows[i], highs[i]), bounded by cost costs[i]
    highs = np.concatenate([f[:, 0], [np.inf]])
    costs = np.concatenate([f[:, 1], [ref[1]]])
    y = np.asarray(top1, dtype=float)[..., None]
    width = np.clip(np.minimum(highs, y) - lows, 0.0, None)
    gain = np.clip(costs - np.asarray(ops, dtype=float)[:, None], 0.0, None)
    return np.sum(width * gain, axis=-1) / ((1.0 - ref[0]) * ref[1])


def _ehvi(pred, ops, known, ref, rng):
    return hvi(known, pred, ops, ref).mean(axis=0)


def _ucb(pred, ops, known, ref, rng):
    return hvi(known, pred.mean(axis=0) + pred.std(axis=0), ops, ref)


def _ts(pred, ops, known, ref, rng):
    return hvi(known, pred[rng.integers(len(pred))], ops, ref)


ACQUISITIONS: dict[str, Callable] = {"ehvi": _ehvi, "ucb": _ucb, "ts": _ts}


def acquire(
    pred: np.ndarray,
    ops: np.ndarray,
    known: Sequence[tuple[float, float]],
    ref: tuple[float, float],
    acquisition: str,
    rng: np.random.Generator,
) -> int:
    """The index of the candidate to train: ``pred`` (members x candidates) predicted top-1, ``ops`` their
    OPs, ``known`` the (top-1, OPs) already measured (and believed, for trials in flight)."""
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"--acquisition: unknown value {acquisition!r} (choose from {', '.join(ACQUISITIONS)})")
    score = ACQUISITIONS[acquisition](pred, ops, known, ref, rng)
    tie = pred.mean(axis=0) + pred.std(axis=0)
    return int(np.lexsort((tie, score))[-1])
