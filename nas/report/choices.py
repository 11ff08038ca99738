"""Did a search rediscover the seed papers' key design choices? The report's *Key choices* section.

Each key choice is a condition on one stage's block choices (e.g. MobileNet-Sp: parallel DW/PW
with only the 1x1 convs binary). An architecture's *share* of a choice is the fraction of its
five stages that meet the condition (0 or 1 in the uniform space). For each choice:

* its mean share among the fully trained architectures, on the front, and in the best one;
* the front architecture nearest (in OPs, on a log scale) to the paper's own model, and its share:
  the choice counts as *rediscovered* when that architecture has it in every stage; *elsewhere on
  the front* when another front architecture (at other OPs) does; else *partly* when the nearest
  has it in some stages;
* Spearman's rho between share and proxy top-1 over the trained architectures (``scipy.stats``),
  with its p-value, and the partial rank correlation given OPs (``rho_ops``, ``p_ops``): at equal
  cost, does more of the choice go with a better proxy score? (Choices change OPs, e.g. full-precision
  depthwise convs under "binary 1x1 only", and proxy top-1 moves with OPs, so plain rho is partly a
  cost effect.)

A verdict rests on one architecture (in the uniform space, one draw), so beside it stands the chance
level: the mean share among architectures drawn uniformly at random from the space within the
budget (:func:`random_shares`, what a random search would propose; seeded, so a report is stable).
No verdict is given when no front architecture lies within :data:`NEAR_RATIO` of the paper's model
in OPs.

Computed from the trials table alone (no drawing, no study), so tests feed it synthetic frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from search_space import NUM_STAGES, ArchConfig, SearchSpace

from ..outcomes import Outcome
from .records import choice_row

__all__ = [
    "KEY_CHOICES",
    "NEAR_RATIO",
    "KeyChoice",
    "choice_share",
    "key_choice_lines",
    "key_choice_rows",
    "key_choices_in",
    "partial_spearman",
    "random_shares",
]

NEAR_RATIO = 1.5  # the front model nearest the paper's must be within this factor of its OPs
RANDOM_DRAWS = 300  # feasible random architectures behind a chance level
MAX_DRAWS = 30_000  # draws before giving up on a budget almost nothing fits


@dataclass(frozen=True)
class KeyChoice:
    """A condition on a stage's choices (every field must take one of its values), from ``paper``,
    whose model ``preset`` embodies it."""

    label: str
    paper: str
    preset: str
    condition: tuple[tuple[str, tuple], ...]

    def possible_in(self, space: SearchSpace) -> bool:
        """Whether an architecture of ``space`` can have the choice (MoBiNet's Mid block cannot be
        in MobileNet-Sp's space)."""
        values = space.choices()
        prefix = "s0." if space.per_stage else "all."
        return all(set(values[prefix + name]) & set(allowed) for name, allowed in self.condition)


def key_choices_in(space: SearchSpace) -> tuple[KeyChoice, ...]:
    """The :data:`KEY_CHOICES` an architecture of ``space`` can have."""
    return tuple(c for c in KEY_CHOICES if c.possible_in(space))


KEY_CHOICES = (
    KeyChoice(
        "parallel DW/PW, binary 1x1 only",
        "MobileNet-Sp",
        "bin_mobilenet_sp",
        (("topology", ("parallel",)), ("binary_scope", ("pw",))),
    ),
    KeyChoice("parallel DW/PW", "MobileNet-Sp", "bin_mobilenet_sp", (("topology", ("parallel",)),)),
    KeyChoice("binary 1x1 only", "MobileNet-Sp", "bin_mobilenet_sp", (("binary_scope", ("pw",)),)),
    KeyChoice(
        "Mid block, K >= 3, PReLU",
        "MoBiNet",
        "mobinet_mid_k4_prelu",
        (("placement", ("mid",)), ("k", (3, 4)), ("activation", ("prelu",))),
    ),
    KeyChoice("Mid block", "MoBiNet", "mobinet_mid_k4_prelu", (("placement", ("mid",)),)),
    KeyChoice("K >= 3", "MoBiNet", "mobinet_mid_k4_prelu", (("k", (3, 4)),)),
    KeyChoice("PReLU", "MoBiNet", "mobinet_mid_k4_prelu", (("activation", ("prelu",)),)),
)


def choice_share(frame: pd.DataFrame, choice: KeyChoice) -> pd.Series:
    """Per row of a trials-style frame (``s<i>.<field>`` columns): the share of stages meeting ``choice``."""
    hits = pd.Series(0.0, index=frame.index)
    for i in range(NUM_STAGES):
        ok = pd.Series(True, index=frame.index)
        for field, values in choice.condition:
            ok &= frame[f"s{i}.{field}"].isin(values)
        hits += ok.astype(float)
    return hits / NUM_STAGES


_RANDOM: dict[tuple, dict[str, float] | None] = {}  # (space, budget, cache_key) -> shares


def random_shares(
    space: SearchSpace, budget: float, ops_of: Callable[[ArchConfig], float], cache_key: tuple = ()
) -> dict[str, float] | None:
    """Each key choice's mean share among :data:`RANDOM_DRAWS` architectures drawn uniformly from
    ``space`` with ``ops_of(arch) <= budget`` (rejection sampling with a fixed seed); None
    when fewer than a tenth of them fit in :data:`MAX_DRAWS` draws. ``cache_key`` names ``ops_of``
    (its convention): the draw is done once per process for each space, budget and key."""
    key = (space, float(budget), cache_key)
    if key not in _RANDOM:
        rng = np.random.default_rng(0)
        archs: list[ArchConfig] = []
        for _ in range(MAX_DRAWS):
            arch = space.sample(rng)
            if ops_of(arch) <= budget:
                archs.append(arch)
                if len(archs) == RANDOM_DRAWS:
                    break
        frame = pd.DataFrame([choice_row(a) for a in archs])
        _RANDOM[key] = (
            {c.label: float(choice_share(frame, c).mean()) for c in key_choices_in(space)}
            if len(archs) >= RANDOM_DRAWS // 10
            else None
        )
    return _RANDOM[key]


def _nearest_in_ops(front: pd.DataFrame, ops: float) -> int:
    """The position in ``front`` of the architecture nearest ``ops`` as a ratio."""
    gap = (front["ops"].astype(float).map(math.log) - math.log(ops)).abs()
    return int(gap.to_numpy().argmin())


def _verdict(row: dict) -> str:
    if row["near_share"] is None:
        return "no front"
    near = abs(math.log(row["near_ops"] / row["preset_ops"])) <= math.log(NEAR_RATIO)
    if near and row["near_share"] == 1:
        return "rediscovered"
    if row["front_full"]:
        return "elsewhere on the front"
    if not near:
        return "no front model near"
    return "partly" if row["near_share"] > 0 else "not found"


def partial_spearman(x, y, z) -> tuple[float, float] | None:
    """Spearman's rho of ``x`` and ``y`` given ``z``: the Pearson correlation of the ranks of ``x`` and
    ``y`` after a least-squares line in the ranks of ``z`` is taken out of each, with the usual t test
    on n - 3 degrees of freedom. None when it is undefined (fewer than 4 points, a constant input or residual)."""
    ranks = [stats.rankdata(np.asarray(v, dtype=float)) for v in (x, y, z)]
    n = len(ranks[0])
    if n < 4 or any(np.ptp(r) == 0 for r in ranks):
        return None
    rz = ranks[2]
    resid = [r - np.polyval(np.polyfit(rz, r, 1), rz) for r in ranks[:2]]
    if any(np.allclose(e, 0) for e in resid):
        return None
    r = float(np.corrcoef(*resid)[0, 1])
    if abs(r) >= 1:
        return math.copysign(1.0, r), 0.0
    t = r * math.sqrt((n - 3) / (1 - r * r))
    return r, float(2 * stats.t.sf(abs(t), n - 3))


def key_choice_rows(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    best: dict | None,
    preset_ops: dict[str, float],
    random: dict[str, float] | None = None,
    choices: tuple[KeyChoice, ...] = KEY_CHOICES,
) -> list[dict]:
    """One dict per key choice of ``choices`` (see the module docstring; :func:`key_choices_in` gives those
    of a space); ``preset_ops`` maps each preset to its OPs under the study's convention, ``random`` each
    choice to its chance level (:func:`random_shares`)."""
    trained = trials[(trials["outcome"] == Outcome.TRAINED) & trials["top1"].notna()].drop_duplicates("arch")
    rows = []
    for choice in choices:
        share = choice_share(trained, choice)
        row = {
            "choice": choice.label,
            "paper": choice.paper,
            "preset": choice.preset,
            "preset_ops": float(preset_ops[choice.preset]),
            "trained": len(trained),
            "random_share": None if random is None else random[choice.label],
            "trained_share": float(share.mean()) if len(share) else None,
            "front_share": None,
            "front_full": [],
            "best_share": None,
            "near": None,
            "near_arch": None,
            "near_ops": None,
            "near_share": None,
            "rho": None,
            "p": None,
            "rho_ops": None,
            "p_ops": None,
        }
        if len(front):
            shares = choice_share(front, choice)
            row["front_share"] = float(shares.mean())
            row["front_full"] = [k + 1 for k, v in enumerate(shares) if v == 1]  # front numbers with it everywhere
            i = _nearest_in_ops(front, preset_ops[choice.preset])
            row.update(
                near=i + 1,
                near_arch=front["arch"].iloc[i],
                near_ops=float(front["ops"].iloc[i]),
                near_share=float(choice_share(front.iloc[[i]], choice).iloc[0]),
            )
        if best is not None:
            row["best_share"] = float(choice_share(pd.DataFrame([best]), choice).iloc[0])
        top1 = trained["top1"].astype(float)
        if len(share) >= 3 and share.nunique() > 1 and top1.nunique() > 1:
            res = stats.spearmanr(share, top1)
            row["rho"], row["p"] = float(res.statistic), float(res.pvalue)
        partial = partial_spearman(share, top1, trained["ops"].astype(float))
        if partial is not None:
            row["rho_ops"], row["p_ops"] = partial
        row["verdict"] = _verdict(row)
        rows.append(row)
    return rows


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _verdict_text(r: dict) -> str:
    full = r.get("front_full") or []
    return r["verdict"] + (f" ({', '.join(f'#{k}' for k in full)})" if r["verdict"] == "elsewhere on the front" else "")


def key_choice_lines(rows: list[dict], format_ops) -> list[str]:
    """The report's Markdown section."""
    lines = [
        "## The papers' key choices",
        "",
        "Share of stages with each choice: among architectures drawn at random from the space within the"
        " budget (the chance level), among the fully trained ones, on the front and in the best one;"
        " *near the paper's model* is the"
        " front architecture (its number in the Pareto front table) nearest in OPs to the paper's own model:"
        f" rediscovered when it has the choice in every stage (and is within {NEAR_RATIO}x of its OPs),"
        " *elsewhere on the front* when another front architecture has it in every stage (its numbers follow"
        " the verdict). rho is Spearman's rank correlation between an architecture's share and its proxy top-1"
        " over the trained architectures; *at equal OPs*, the same given OPs (partial rank correlation).",
        "",
        "| choice | paper | random | trained | front | best | near the paper's model | verdict | rho (p) |"
        " rho at equal OPs (p) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        near = "-" if r["near_arch"] is None else f"{_pct(r['near_share'])} (#{r['near']}, {format_ops(r['near_ops'])})"
        rho = "-" if r["rho"] is None else f"{r['rho']:+.2f} ({r['p']:.2g})"
        rho_ops = "-" if r["rho_ops"] is None else f"{r['rho_ops']:+.2f} ({r['p_ops']:.2g})"
        lines.append(
            f"| {r['choice']} | {r['paper']} ({r['preset']}, {format_ops(r['preset_ops'])}) |"
            f" {_pct(r['random_share'])} | {_pct(r['trained_share'])} of {r['trained']} |"
            f" {_pct(r['front_share'])} | {_pct(r['best_share'])} | {near} | {_verdict_text(r)} | {rho} |"
            f" {rho_ops} |"
        )
    return lines + [""]
