"""A surrogate: proxy top-1 predicted from an architecture's design choices, fitted on trained ones.

Training one architecture costs minutes; predicting one from architectures already trained costs
microseconds. The features (:func:`arch_features`) are the width, the depth, the log of the OPs
(at 224x224, 1000 classes) and, for every value of every stage choice (topology, placement, K,
expansion, activation, binary scope), the share of the five stages that have it: a uniform and a
per-stage architecture are described alike, and a choice's effect is learnt once for all stages.
The model is ridge regression on standardised features, its penalty chosen by leave-one-out error
over the fitted architectures only (the closed form ``e_i / (1 - H_ii)`` of a linear smoother, on
a fixed grid): nothing is tuned on anything but the data it is fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search_space import ACTIVATIONS, EXPANSIONS, KS, PLACEMENTS, SCOPES, TOPOLOGIES, ArchConfig, analytic_cost

__all__ = ["ALPHAS", "FEATURE_NAMES", "MIN_FIT", "RidgeSurrogate", "arch_features"]

_VALUES = {"topology": TOPOLOGIES, "placement": PLACEMENTS, "k": KS, "expansion": EXPANSIONS,
           "activation": ACTIVATIONS, "binary_scope": SCOPES}
FEATURE_NAMES = ("width", "depth", "log_ops", *(f"{c}={v}" for c, values in _VALUES.items() for v in values))
ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 21))  # the penalties leave-one-out chooses from
MIN_FIT = 5  # fewer architectures than this: no fit


def arch_features(arch: ArchConfig | str) -> np.ndarray:
    """The feature vector of ``arch`` (an ArchConfig or its string), in :data:`FEATURE_NAMES` order."""
    a = ArchConfig.decode(arch) if isinstance(arch, str) else arch
    x = [float(a.width), float(a.depth), float(np.log(analytic_cost(a).ops()))]
    for choice, values in _VALUES.items():
        got = [getattr(s, choice) for s in a.stages]
        x += [sum(g == v for g in got) / len(got) for v in values]
    return np.asarray(x, dtype=float)


class RidgeSurrogate:
    """Ridge regression of top-1 on :func:`arch_features`; ``alpha`` chosen by leave-one-out."""

    def __init__(self, alphas: Sequence[float] = ALPHAS) -> None:
        self.alphas = tuple(alphas)
        self.alpha: float | None = None
        self.loo_rmse: float | None = None

    def fit(self, archs: Sequence[ArchConfig | str], top1: Sequence[float]) -> RidgeSurrogate:
        y = np.asarray(top1, dtype=float)
        if len(archs) != len(y):
            raise ValueError(f"surrogate: {len(archs)} architectures but {len(y)} top-1 values")
        if len(y) < MIN_FIT or not np.all(np.isfinite(y)):
            raise ValueError(f"surrogate: needs at least {MIN_FIT} finite top-1 values (got {len(y)})")
        x = np.stack([arch_features(a) for a in archs])
        self._mean, self._scale = x.mean(axis=0), x.std(axis=0)
        self._scale[self._scale == 0] = 1.0  # a feature constant over the data: it carries nothing
        z = (x - self._mean) / self._scale
        self._y0 = float(y.mean())
        u, s, _ = np.linalg.svd(z, full_matrices=False)
        best = None
        for alpha in self.alphas:  # leave-one-out residuals of the smoother H = Z (Z'Z + aI)^-1 Z' (+ the mean)
            shrink = s**2 / (s**2 + alpha)
            h = 1.0 / len(y) + np.einsum("ij,j,ij->i", u, shrink, u)
            fitted = self._y0 + u @ (shrink * (u.T @ (y - self._y0)))
            loo = (y - fitted) / np.maximum(1.0 - h, 1e-12)
            rmse = float(np.sqrt(np.mean(loo**2)))
            if best is None or rmse < best[0]:
                best = (rmse, alpha)
        self.loo_rmse, self.alpha = best
        self._coef = np.linalg.solve(z.T @ z + self.alpha * np.eye(z.shape[1]), z.T @ (y - self._y0))
        return self

    def predict(self, archs: Sequence[ArchConfig | str]) -> np.ndarray:
        if self.alpha is None:
            raise ValueError("surrogate: predict before fit")
        if not len(archs):
            return np.zeros(0)
        x = np.stack([arch_features(a) for a in archs])
        return self._y0 + ((x - self._mean) / self._scale) @ self._coef
