"""Design-space analysis in the manner of pycls (Radosavovic et al., 2019-2020): the empirical
distribution function (EDF) of the error of architectures drawn at random within a budget, split by
the value of each design choice.

A uniform-space architecture has one value per stage choice. A per-stage architecture's value of a
stage choice is the one at least 3 of its 5 stages take, else ``mixed``. Each value's errors are
compared with the errors of every other architecture of the same space (:func:`compare_samples`:
KS statistic, difference in medians with a bootstrap interval): a negative median difference
means that value gives lower error.

Two more columns guard the reading of that table:

* ``ks_p_fdr``: the KS p-values adjusted by Benjamini-Hochberg over every value of the space
  (:func:`proxies.stats.benjamini_hochberg`): some 30 values are tested per space, so at 5% one or
  two "differ" by chance.
* ``adj_diff`` [``adj_low``, ``adj_high``]: the same difference in medians after the OPs are taken
  out: the residuals of a least-squares line of error on log OPs over the space's architectures.
  Within a budget, choices trade OPs against each other (full-precision depthwise convs under
  binary scope ``pw`` leave less room for width), and a proxy's error falls with OPs, so the plain
  difference is partly a cost effect. pycls normalises its EDFs for complexity by reweighting
  complexity bins; 60 architectures per space are too few for bins, hence the line. The bootstrap
  resamples the residuals of one fit (the line is not refitted per resample, so the interval leaves
  out the line's own uncertainty), and a value that goes with more or fewer OPs lends part of its
  own effect to the line: the adjusted difference leans towards 0 for such a value.

In the per-stage space most architectures are ``mixed`` in a stage choice, which the EDFs cannot
split. :func:`edf_shares` reads such a choice by its *share*: the fraction of an architecture's
stages that take a value (an expansion's: of its non-cascade stages), and Spearman's rho between
that share and error, plain and at equal OPs (the partial rank correlation given OPs, as the search
report's *Key choices* table does), with Benjamini-Hochberg over the space's values.

The intervals are each at 95%, not corrected for the some 30 values of a space (a two-valued choice
is also one comparison seen from both sides): read a single bold interval with that in mind, and
the FDR-adjusted p-value beside it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats

from proxies.stats import MIN_SAMPLE, benjamini_hochberg, compare_samples
from search_space import NUM_STAGES, ArchConfig, analytic_cost, get_space

__all__ = [
    "ARCH_COLUMNS",
    "CHOICES",
    "EDF_TITLE",
    "SHARE_COLUMNS",
    "STATS_COLUMNS",
    "choice_values",
    "draw_archs",
    "edf_curves",
    "edf_markdown",
    "edf_shares",
    "edf_stats",
    "ops_residuals",
]

_DRAW_STREAM = ("uniform", "per-stage", "sp", "mobinet")  # a space's random stream (fixed: draws stay as they were)
STAGE_CHOICES = ("topology", "placement", "k", "expansion", "activation", "binary_scope")
CHOICES = (*STAGE_CHOICES, "width", "depth")
ARCH_COLUMNS = [
    "space",
    "arch",
    "ops",
    "top1",
    "error",
    *CHOICES,
    "fidelity",
    "budget",
    "data_seed",
    "convention",
    "resolution",
    "num_classes",
    "test_fraction",
    "skip_bad_images",
]  # edf-archs.csv: what and how
MAJORITY = NUM_STAGES // 2 + 1


EMPTY_DRAWS = 20_000  # draws without a single fit before a budget is called too small


def draw_archs(
    space_name: str, n: int | None, budget: float, seed: int, max_draws: int = 1_000_000
) -> list[ArchConfig]:
    """``n`` distinct architectures of the space drawn uniformly at random among those within ``budget``
    (rejection sampling on the analytic OPs, as the search's feasible sampler does); ``n=None``: every
    architecture of a space small enough to list (:meth:`SearchSpace.enumerate`) within ``budget``, in
    a random order."""
    space = get_space(space_name, "--spaces")
    rng = np.random.default_rng([seed, _DRAW_STREAM.index(space_name)])
    if n is None:
        try:
            fits = [a for a in space.enumerate() if analytic_cost(a).ops() <= budget]
        except ValueError as exc:
            raise ValueError(f"--n: all cannot list the {space_name} space ({exc}); give a number") from None
        if not fits:
            raise ValueError(f"--budget: no architecture of the {space_name} space fits {budget / 1e6:g}M OPs")
        return [fits[i] for i in rng.permutation(len(fits))]
    seen: dict[str, ArchConfig] = {}
    for draw in range(1, max_draws + 1):
        arch = space.sample(rng)
        if analytic_cost(arch).ops() <= budget:
            seen.setdefault(arch.encode(), arch)
            if len(seen) == n:
                return list(seen.values())
        elif not seen and draw == EMPTY_DRAWS:  # seconds, not minutes, to say a budget is too small
            raise ValueError(
                f"--budget: no architecture of the {space_name} space fit {budget / 1e6:g}M OPs in"
                f" {EMPTY_DRAWS} draws (use a larger --budget)"
            )
    raise ValueError(
        f"--n: only {len(seen)} distinct architectures of the {space_name} space fit the budget in"
        f" {max_draws} draws (use a smaller --n, --n all, or a larger --budget)"
    )


def choice_values(arch: ArchConfig) -> dict[str, str]:
    """The value of every choice of ``arch`` (strings; a stage choice: its majority value, or ``mixed``)."""
    out = {"width": f"{arch.width:g}", "depth": str(arch.depth)}
    for c in STAGE_CHOICES:
        value, count = Counter(_text(getattr(s, c)) for s in arch.stages).most_common(1)[0]
        out[c] = value if count >= MAJORITY else "mixed"
    return out


def _text(value) -> str:
    # a cascade stage has no expansion: "none" (not "n/a", which pandas reads back as a missing value)
    return "none" if value is None else str(value)


def edf_curves(archs: pd.DataFrame) -> pd.DataFrame:
    """The EDF of ``error`` per (space, choice, value): rows ``space, choice, value, n, error, cdf``
    (one per architecture, errors sorted; cdf = share of that value's architectures with error <= it)."""
    rows = []
    for space, choice in _pairs(archs):
        sub = archs[archs["space"] == space]
        for value, g in sub.groupby(choice, sort=True):
            errors = np.sort(g["error"].dropna().to_numpy(dtype=float))
            n = len(errors)
            rows += [
                {"space": space, "choice": choice, "value": value, "n": n, "error": e, "cdf": (i + 1) / n}
                for i, e in enumerate(errors)
            ]
    return pd.DataFrame(rows, columns=["space", "choice", "value", "n", "error", "cdf"])


STATS_COLUMNS = [
    "space",
    "choice",
    "value",
    "n",
    "n_rest",
    "ks",
    "ks_p",
    "ks_p_fdr",
    "median_diff",
    "median_diff_low",
    "median_diff_high",
    "adj_diff",
    "adj_low",
    "adj_high",
]


def ops_residuals(sub: pd.DataFrame) -> pd.Series:
    """``error`` less a least-squares line in log ``ops``, over the rows of ``sub`` (one space); NaN
    where there are no OPs, fewer than 3 rows or a single OPs value."""
    nan = pd.Series(np.nan, index=sub.index)
    if "ops" not in sub.columns or len(sub) < 3:
        return nan
    x, y = np.log(pd.to_numeric(sub["ops"]).to_numpy(dtype=float)), sub["error"].to_numpy(dtype=float)
    if not np.isfinite(x).all() or np.ptp(x) == 0:
        return nan
    slope, intercept = np.polyfit(x, y, 1)
    return pd.Series(y - (slope * x + intercept), index=sub.index)


def edf_stats(archs: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Per (space, choice, value): that value's errors against every other architecture's of the space
    (see the module's docstring for the columns)."""
    tables = []
    for space in dict.fromkeys(archs["space"]):
        sub = archs[(archs["space"] == space) & archs["error"].notna()]
        resid = ops_residuals(sub)
        rows = []
        for choice in (c for c in CHOICES if c in archs.columns):
            for value, g in sub.groupby(choice, sort=True):
                rest = sub.index.difference(g.index)
                plain = compare_samples(g["error"], sub.loc[rest, "error"], resamples=resamples)
                adj = compare_samples(resid[g.index], resid[rest], resamples=resamples)
                rows.append(
                    {
                        "space": space,
                        "choice": choice,
                        "value": value,
                        **plain,
                        "adj_diff": adj["median_diff"],
                        "adj_low": adj["median_diff_low"],
                        "adj_high": adj["median_diff_high"],
                    }
                )
        tables.append(_with_fdr(pd.DataFrame(rows, columns=STATS_COLUMNS), "ks_p", "ks_p_fdr"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=STATS_COLUMNS)


def _with_fdr(table: pd.DataFrame, p: str, out: str) -> pd.DataFrame:
    """``table`` with ``out``: the Benjamini-Hochberg adjustment of its p-values ``p`` (NaN stays NaN)."""
    tested = table[p].notna()
    if tested.any():
        table.loc[tested, out] = benjamini_hochberg(table.loc[tested, p])
    return table


SHARE_COLUMNS = ["space", "choice", "value", "n", "n_with", "mean_share", "rho", "p", "rho_ops", "p_ops", "p_ops_fdr"]


def _shares(stages: list, choice: str, value: str) -> np.ndarray:
    """Each architecture's share of stages with ``value``; an expansion's among its non-cascade stages
    (a cascade stage has none), NaN for an architecture without one."""
    out = []
    for arch in stages:
        own = [st for st in arch if choice != "expansion" or st.expansion is not None]
        out.append(sum(_text(getattr(st, choice)) == value for st in own) / len(own) if own else np.nan)
    return np.array(out, dtype=float)


def edf_shares(archs: pd.DataFrame) -> pd.DataFrame:
    """Per (space, stage choice, value): the mean share of stages with the value over the space's
    architectures (``n_with``: how many have it in some stage), and Spearman's rho (with p) of share
    against error, plain and given OPs (``rho_ops``; ``p_ops_fdr``: Benjamini-Hochberg over the
    space). NaN unless at least :data:`MIN_SAMPLE` architectures have the value and as many lack it
    somewhere (the share varies over enough of them)."""
    from ..report.choices import partial_spearman  # imports Optuna (nas.report): a second or so, once

    tables = []
    for space in dict.fromkeys(archs["space"]):
        sub = archs[(archs["space"] == space) & archs["error"].notna()]
        stages = [ArchConfig.decode(a).stages for a in sub["arch"]]
        error, ops = sub["error"].to_numpy(dtype=float), pd.to_numeric(sub["ops"]).to_numpy(dtype=float)
        rows = []
        for choice in STAGE_CHOICES:
            values = sorted(
                {
                    _text(getattr(st, choice))
                    for arch in stages
                    for st in arch
                    if choice != "expansion" or st.expansion is not None
                }
            )
            for value in values:
                share = _shares(stages, choice, value)
                ok = np.isfinite(share)
                row = dict.fromkeys(SHARE_COLUMNS, np.nan) | {
                    "space": space,
                    "choice": choice,
                    "value": value,
                    "n": int(ok.sum()),
                    "n_with": int((share[ok] > 0).sum()),
                    "mean_share": float(share[ok].mean()),
                }
                if min(row["n_with"], int((share[ok] < 1).sum())) >= MIN_SAMPLE and np.ptp(error[ok]) > 0:
                    res = stats.spearmanr(share[ok], error[ok])
                    row.update(rho=float(res.statistic), p=float(res.pvalue))
                    partial = partial_spearman(share[ok], error[ok], ops[ok])
                    if partial is not None:
                        row.update(rho_ops=partial[0], p_ops=partial[1])
                rows.append(row)
        tables.append(_with_fdr(pd.DataFrame(rows, columns=SHARE_COLUMNS), "p_ops", "p_ops_fdr"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SHARE_COLUMNS)


EDF_TITLE = "# Design-space EDFs"  # edf.md starts with it: a file without it is not ours


def _interval(mid: float, low: float, high: float) -> str:
    if not np.isfinite(mid):
        return "n/a"
    cell = f"{100 * mid:+.1f}"
    if np.isfinite(low) and np.isfinite(high):
        cell += f" [{100 * low:+.1f}, {100 * high:+.1f}]"
        if low > 0 or high < 0:
            cell = f"**{cell}**"
    return cell


def edf_markdown(archs: pd.DataFrame, st: pd.DataFrame, shares: pd.DataFrame | None = None) -> str:
    """One table per space: each value's median error, its difference from the rest of the space,
    plain and at equal OPs (bold: the 95% interval excludes 0), and the KS statistic with its p-values;
    with ``shares`` (:func:`edf_shares`), the per-stage space's share table after it."""

    def number(v: float, fmt: str) -> str:
        return format(v, fmt) if np.isfinite(v) else "n/a"

    out = []
    for space in dict.fromkeys(st["space"]):
        done = archs[(archs["space"] == space) & archs["error"].notna()]
        out += [f"## {space} space: {len(done)} architectures", ""]
        if len(done) >= 3 and done["error"].nunique() > 1 and "ops" in done and done["ops"].nunique() > 1:
            rho = stats.spearmanr(pd.to_numeric(done["ops"]), done["error"])
            out += [f"Error against OPs over the space: Spearman rho {rho.statistic:+.2f} (p {rho.pvalue:.2g}).", ""]
        out += [
            "| choice | value | n | median error | vs the rest | at equal OPs | KS | p | p (FDR) |",
            "|---|---|---:|---:|---|---|---:|---:|---:|",
        ]
        for r in st[st["space"] == space].itertuples(index=False):
            median = 100 * done.loc[done[r.choice] == r.value, "error"].median()
            cells = [
                r.choice,
                r.value,
                r.n,
                f"{median:.1f}%",
                _interval(r.median_diff, r.median_diff_low, r.median_diff_high),
                _interval(r.adj_diff, r.adj_low, r.adj_high),
                number(r.ks, ".2f"),
                number(r.ks_p, ".3f"),
                number(r.ks_p_fdr, ".3f"),
            ]
            out.append("| " + " | ".join(str(c) for c in cells) + " |")
        out.append("")
        sh = shares[(shares["space"] == space) & shares["rho"].notna()] if shares is not None else shares
        if sh is not None and space == "per-stage" and len(sh):
            out += [
                f"Share of the stages with a value, against error ({space} space; negative: more of it goes with"
                " lower error; an expansion's share is among the non-cascade stages; values that fewer than"
                f" {MIN_SAMPLE} architectures have, or lack, are left out):",
                "",
                "| choice | value | with it | mean share | rho | p | rho at equal OPs | p | p (FDR) |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for r in sh.itertuples(index=False):
                cells = [
                    r.choice,
                    r.value,
                    f"{r.n_with} of {r.n}",
                    f"{r.mean_share:.2f}",
                    number(r.rho, "+.2f"),
                    number(r.p, ".3f"),
                    number(r.rho_ops, "+.2f"),
                    number(r.p_ops, ".3f"),
                    number(r.p_ops_fdr, ".3f"),
                ]
                out.append("| " + " | ".join(str(c) for c in cells) + " |")
            out.append("")
    return "\n".join(out)


def _pairs(archs: pd.DataFrame) -> list[tuple[str, str]]:
    """(space, choice) in the order the spaces appear, choices in CHOICES order."""
    return [(space, c) for space in dict.fromkeys(archs["space"]) for c in CHOICES if c in archs.columns]
