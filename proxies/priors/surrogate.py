"""A surrogate: proxy top-1 predicted from an architecture's design choices, fitted on trained ones.

Training one architecture costs minutes; predicting one from architectures already trained costs
microseconds. The features (:func:`arch_features`) are the width, the depth, the log of the OPs
(at 224x224, 1000 classes) and, for every value of every stage choice (topology, placement, K,
expansion, activation, binary scope), the share of the five stages that have it: a uniform and a
per-stage architecture are described alike, and a choice's effect is learnt once for all stages.
The model is ridge regression on standardised features, its penalty chosen by leave-one-out error
over the fitted architectures only (the closed form ``e_i / (1 - H_ii)`` of a linear smoother, on
a fixed grid): nothing is tuned on anything but the data it is fitted on. A fit is :attr:`useful`
when its leave-one-out error beats that of the same fit to shuffled top-1 values (a permutation
test at p < 0.05): only then does it tell a better architecture from a worse one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search_space import ACTIVATIONS, EXPANSIONS, KS, PLACEMENTS, SCOPES, TOPOLOGIES, ArchConfig, analytic_cost

__all__ = ["ALPHAS", "FEATURE_NAMES", "MIN_FIT", "PERMUTATIONS", "RidgeSurrogate", "arch_features"]

_VALUES = {"topology": TOPOLOGIES, "placement": PLACEMENTS, "k": KS, "expansion": EXPANSIONS,
           "activation": ACTIVATIONS, "binary_scope": SCOPES}
FEATURE_NAMES = ("width", "depth", "log_ops", *(f"{c}={v}" for c, values in _VALUES.items() for v in values))
ALPHAS = tuple(float(a) for a in np.logspace(-2, 3, 21))  # the penalties leave-one-out chooses from
MIN_FIT = 5  # fewer architectures than this: no fit
PERMUTATIONS = 99  # shuffles of the top-1 values in the test that a fit beats chance


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

    def __init__(self, alphas: Sequence[float] = ALPHAS, permutations: int = PERMUTATIONS) -> None:
        self.alphas = tuple(alphas)
        self.permutations = permutations
        self.alpha: float | None = None
        self.loo_rmse: float | None = None
        self.loo_r2: float | None = None  # 1 - (loo_rmse / the leave-one-out error of predicting the others' mean)^2
        self.p_value: float | None = None  # of the permutation test of loo_rmse

    def fit(self, archs: Sequence[ArchConfig | str], top1: Sequence[float]) -> RidgeSurrogate:
        y = np.asarray(top1, dtype=float)
        if len(archs) != len(y):
            raise ValueError(f"surrogate: {len(archs)} architectures but {len(y)} top-1 values")
        if len(y) < MIN_FIT or not np.all(np.isfinite(y)):
            raise ValueError(f"surrogate: needs at least {MIN_FIT} top-1 values, all finite (got {len(y)},"
                             f" {int(np.isfinite(y).sum())} finite)")
        x = np.stack([arch_features(a) for a in archs])
        self._mean, self._scale = x.mean(axis=0), x.std(axis=0)
        self._scale[self._scale == 0] = 1.0  # a feature constant over the data: it carries nothing
        z = (x - self._mean) / self._scale
        self._y0 = float(y.mean())
        rng = np.random.default_rng(0)  # the test's permutations: fixed, so a fit is repeatable
        ys = np.column_stack([y] + [rng.permutation(y) for _ in range(self.permutations)])
        rmse = _loo_rmse(z, ys - self._y0, self.alphas)  # (alphas, 1 + permutations)
        best = rmse.min(axis=0)  # each column at its own best penalty, as a fit of it would choose
        self.alpha, self.loo_rmse = self.alphas[int(rmse[:, 0].argmin())], float(best[0])
        mean_loo = float(np.std(y) * len(y) / (len(y) - 1))
        self.loo_r2 = 1.0 - (self.loo_rmse / mean_loo) ** 2 if mean_loo > 0 else 0.0
        self.p_value = float((1 + np.sum(best[1:] <= best[0])) / (1 + self.permutations))
        self._coef = np.linalg.solve(z.T @ z + self.alpha * np.eye(z.shape[1]), z.T @ (y - self._y0))
        return self

    @property
    def useful(self) -> bool:
        """Whether the fit predicts out of sample better than chance: its leave-one-out error is
        below that of predicting the mean, and below that of the same fit to shuffled top-1 values
        (permutation test, p < 0.05). With few architectures and many features, a fit to noise
        often beats the mean by luck: the shuffles measure how often."""
        return self.loo_r2 is not None and self.loo_r2 > 0 and self.p_value < 0.05

    def predict(self, archs: Sequence[ArchConfig | str]) -> np.ndarray:
        if self.alpha is None:
            raise ValueError("surrogate: predict before fit")
        if not len(archs):
            return np.zeros(0)
        x = np.stack([arch_features(a) for a in archs])
        return self._y0 + ((x - self._mean) / self._scale) @ self._coef


def _loo_rmse(z: np.ndarray, centred: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """Leave-one-out RMSE of ridge with an unpenalised intercept, per penalty (rows) and per column of
    ``centred`` (top-1 minus its mean): residuals ``e_i / (1 - H_ii)`` of the smoother
    ``H = 11'/n + Z (Z'Z + aI)^-1 Z'``."""
    n = len(z)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    out = np.empty((len(alphas), centred.shape[1]))
    for i, alpha in enumerate(alphas):
        shrink = s**2 / (s**2 + alpha)
        h = 1.0 / n + np.einsum("ij,j,ij->i", u, shrink, u)
        residual = centred - u @ (shrink[:, None] * (u.T @ centred))
        out[i] = np.sqrt(np.mean((residual / np.maximum(1.0 - h, 1e-12)[:, None]) ** 2, axis=0))
    return out
