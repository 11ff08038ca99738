"""Rank fidelity of the evaluators: against the reference set and within the papers' tables.

Metrics (all from :mod:`proxies.stats`):

* reference: Kendall's tau-b, Spearman's rho and pairwise accuracy of an evaluator's scores
  against the reference truth (mean ``test_top1`` per architecture over its seeds), over the
  architectures that have both; 95% percentile bootstrap intervals (:func:`proxies.stats.rank_ci`);
* papers: ``paper_spearman`` is the row-weighted mean of the per-table Spearman's rho
  (:func:`proxies.calibration.calibrate.correlations`); ``paper_pairwise`` pools the within-table pairs of rows
  that the published top-1 orders strictly (pairs from different tables are never compared):
  the per-table pairwise accuracies weighted by each table's number of such pairs.

A combination ranks within the set being compared: within each paper table (its distinct
architectures) and within the reference set (the architectures with a reference result). Its
fitted weight (``@fit``) is chosen on the papers' tables only, from the grid 0, 0.1, ..., 1 (weight
of the first member), maximising the row-weighted Spearman; ties go to the weight closest to 0.5,
then the smaller one:

* paper metrics of an ``@fit`` evaluator are held out: each table is scored with the weight fitted
  on the *other* tables (leave one table out), and ``heldout_weights`` lists those weights;
* reference metrics use the weight fitted on *all* the papers' tables (column ``weight``). The
  reference set is never used to fit anything.

``fidelity-scores.csv`` holds every score behind the table: columns ``evaluator, arch, seed, score,
set``. ``set`` is ``all`` for a score that does not depend on the set (training and zero-cost
evaluators), ``reference`` or a paper table (``sp-T7``) for a combination's rank within that set.
``seed`` is the training seed of a one-seed score, and ``mean`` for the mean over several seeds
(an evaluator with several seeds also has a row per seed; a combination has ``mean`` when a member
has several seeds, else the seed). An evaluator's score is its ``mean`` row when it has one, else
its single row: :func:`recompute_kendall` rebuilds ``kendall_ref`` that way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..stats import gain_test, holm, kendall, pairwise_accuracy, rank_ci, spearman
from .calibrate import _paper_jobs, correlations
from .evaluators import Evaluator, combine, final_scores, seed_scores
from .reference import reference_truth

__all__ = ["DEPTH_PAIRS", "GRID", "MIN_REF_ARCHS", "REF_VS_PAPER_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS",
           "FidelityPlotData", "choose_default", "choose_screen", "depth_pairs", "fidelity_plot_data",
           "fidelity_table", "fit_weight", "markdown_table", "paper_frame", "paper_pairwise", "paper_rows",
           "recompute_kendall", "reference_vs_papers", "screen_decision", "table_spearmans"]

GRID = tuple(i / 10 for i in range(11))
SCORE_COLUMNS = ["evaluator", "arch", "seed", "score", "set"]
TABLE_COLUMNS = ["evaluator", "kendall_ref", "spearman_ref", "pairwise_ref", "paper_spearman", "paper_pairwise",
                 "cpu_s_per_arch", "is_default", "kendall_ref_lo", "kendall_ref_hi", "spearman_ref_lo",
                 "spearman_ref_hi", "n_ref", "paper_rows", "mobinet_t3_spearman", "sp_t7_spearman", "depth_pairs",
                 "kendall_gain_lo", "kendall_gain_hi", "kendall_gain_p", "weight", "heldout_weights", "description"]
PER_TABLE = {"mobinet_t3_spearman": "mobinet-T3", "sp_t7_spearman": "sp-T7"}
# Sp Table 7's depth question: (deeper row, shallower row) pairs the paper orders deeper first
DEPTH_PAIRS = (("bin_mobilenet_sp_w1.0_d2", "bin_mobilenet_sp_w1.0_d1"),
               ("bin_mobilenet_sp_w0.7_d2", "bin_mobilenet_sp_w0.75_d1"))
DEFAULT_SLACK = 1.1  # an evaluator may cost up to 1.1x default's CPU seconds to become the default
MIN_REF_ARCHS = 16  # a kendall_ref over fewer reference architectures decides nothing (half the set)
GAIN_ALPHA = 0.05  # family-wise level of the test that an evaluator ranks the reference better than default


def paper_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The papers' rows (``read_paper_table``) as ``table, name, arch, top1`` (table = ``sp-T7``)."""
    return pd.DataFrame(_paper_jobs(table), columns=["source", "table", "name", "preset", "arch", "top1"])[
        ["table", "name", "arch", "top1"]]


def paper_pairwise(df: pd.DataFrame, truth: str = "top1", score: str = "score", group: str = "table",
                   arch: str = "arch") -> float:
    """Pairwise accuracy pooled over the pairs within each group that ``truth`` orders strictly (a tie
    in ``score`` counts half). Two rows of one architecture (Sp Table 5: one network trained 200 and
    450 epochs) are not a pair: no architecture score can order them."""
    agree, pairs = 0.0, 0
    for _, g in df.groupby(group, sort=False):
        g = g[g[truth].notna() & g[score].notna()]
        # ranks, so that -inf (a diverged run) ties with -inf instead of giving NaN differences
        t, s = rankdata(g[truth].to_numpy(dtype=float)), rankdata(g[score].to_numpy(dtype=float))
        a = g[arch].to_numpy() if arch in g.columns else np.arange(len(g))
        upper = np.triu(np.ones((len(g), len(g)), dtype=bool), 1)
        upper &= (t[:, None] != t[None, :]) & (a[:, None] != a[None, :])
        dt, ds = np.sign(t[:, None] - t[None, :])[upper], np.sign(s[:, None] - s[None, :])[upper]
        agree += float(np.where(ds == 0, 0.5, (dt == ds).astype(float)).sum())
        pairs += int(upper.sum())
    return agree / pairs if pairs else math.nan


def _weights(ev: Evaluator, w: float | None) -> tuple[float, ...] | None:
    return ev.weights if w is None else (w, 1.0 - w)


def paper_frame(ev: Evaluator, base: Mapping[str, pd.Series], paper: pd.DataFrame,
                weight: float | Mapping[str, float] | None = None) -> pd.DataFrame:
    """``paper`` with the evaluator's ``score`` per row; a combination ranks within each table, with
    ``weight`` (one for all tables, or per table; None: the evaluator's own)."""
    if not ev.is_combination:
        return paper.assign(score=paper["arch"].map(base[ev.name]))
    parts = []
    for name, g in paper.groupby("table", sort=False):
        w = weight.get(name) if isinstance(weight, Mapping) else weight
        s = combine(ev, [base[m] for m in ev.members], _weights(ev, w), g["arch"])
        parts.append(g.assign(score=g["arch"].map(s)))
    return pd.concat(parts) if parts else paper.assign(score=np.nan)


def table_spearmans(ev: Evaluator, base: Mapping[str, pd.Series], paper: pd.DataFrame) -> dict[float, dict]:
    """For every grid weight, each table's (Spearman, rows) where defined (as ``correlations`` counts)."""
    out = {}
    for w in GRID:
        groups = correlations(paper_frame(ev, base, paper, w), "top1", "score", "table")["groups"]
        out[w] = {g["group"]: (g["spearman"], g["rows"]) for g in groups
                  if not (math.isnan(g["spearman"]) or math.isnan(g["kendall"]))}
    return out


def fit_weight(per_weight: Mapping[float, Mapping[str, tuple[float, int]]], tables: Iterable[str]) -> float:
    """The grid weight with the highest row-weighted Spearman over ``tables`` only (ties: closest
    to 0.5, then smaller; nothing defined: 0.5)."""
    tables = set(tables)

    def value(w: float) -> float:
        used = [(rho, n) for t, (rho, n) in per_weight[w].items() if t in tables]
        return sum(r * n for r, n in used) / sum(n for _, n in used) if used else -math.inf

    return max(GRID, key=lambda w: (round(value(w), 12), -abs(w - 0.5), -w))


def _reference_metrics(truth: pd.Series, score: pd.Series, n_resamples: int) -> dict:
    common = truth.index[truth.index.isin(score.dropna().index)]
    t, s = truth.loc[common].to_numpy(dtype=float), score.loc[common].to_numpy(dtype=float)
    out = {"kendall_ref": kendall(t, s), "spearman_ref": spearman(t, s), "pairwise_ref": pairwise_accuracy(t, s),
           "n_ref": len(common)}
    for stat in ("kendall", "spearman"):
        lo, hi = rank_ci(t, s, stat, n_resamples=n_resamples) if n_resamples else (math.nan, math.nan)
        out[f"{stat}_ref_lo"], out[f"{stat}_ref_hi"] = lo, hi
    return out


def _gain(truth: pd.Series, scores: Mapping[str, pd.Series], name: str, n_resamples: int,
          base: str = "default") -> tuple[float, float, float]:
    """``name``'s kendall_ref minus ``base``'s over the reference architectures both score: its 95%
    paired bootstrap interval and the one-sided p-value of no gain (NaN for ``base`` itself,
    without ``base`` or without resamples)."""
    if name == base or base not in scores or not n_resamples:
        return math.nan, math.nan, math.nan
    a, b = scores[base].dropna(), scores[name].dropna()
    common = truth.index[truth.index.isin(a.index) & truth.index.isin(b.index)]
    return gain_test(truth.loc[common].to_numpy(dtype=float), a.loc[common].to_numpy(dtype=float),
                     b.loc[common].to_numpy(dtype=float), n_resamples=n_resamples)


def _seed_label(evs: Sequence[Evaluator]) -> str:
    seeds = {s for e in evs for s in e.seeds}
    return "mean" if any(len(e.runs) > 1 for e in evs) or len(seeds) != 1 else str(seeds.pop())


def _score_rows(name: str, s: pd.Series, seed: str, where: str) -> list[dict]:
    return [{"evaluator": name, "arch": a, "seed": seed, "score": float(v), "set": where} for a, v in s.items()]


def fidelity_table(names: Sequence[str], registry: Mapping[str, Evaluator], runs: pd.DataFrame, truth: pd.Series,
                   paper: pd.DataFrame, *, cpu: Mapping[str, float], n_resamples: int = 2000
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per evaluator (``TABLE_COLUMNS``) and every score behind it (``SCORE_COLUMNS``).

    ``truth``: reference top-1 per architecture; ``paper``: :func:`paper_rows`; ``cpu``: CPU seconds
    per architecture of each evaluator. The fit of an ``@fit`` weight reads ``paper`` only."""
    truth = truth.dropna()
    bases = {m for n in names for m in (registry[n].members or (n,))}
    base = {b: final_scores(registry[b], runs) for b in bases}
    rows, scores, ref_scores = [], [], {}
    for name in names:
        ev = registry[name]
        row = {"evaluator": name, "description": ev.description, "cpu_s_per_arch": cpu.get(name, math.nan),
               "weight": math.nan, "heldout_weights": ""}
        if not ev.is_combination:
            ref_score, frame = base[name], paper_frame(ev, base, paper)
            if len(ev.runs) > 1:
                per = seed_scores(ev, runs)
                scores += [{"evaluator": name, "arch": r.arch, "seed": str(r.seed), "score": r.score, "set": "all"}
                           for r in per[per["arch"].isin(ref_score.index)].itertuples()]
            scores += _score_rows(name, ref_score, _seed_label([ev]), "all")
        else:
            seed = _seed_label([registry[m] for m in ev.members])
            held: dict[str, float] | None = None
            w_ref = None
            if ev.fit_weights:
                per_weight = table_spearmans(ev, base, paper)
                tables = list(dict.fromkeys(paper["table"]))
                held = {t: fit_weight(per_weight, [u for u in tables if u != t]) for t in tables}
                w_ref = fit_weight(per_weight, tables)
                row["heldout_weights"] = ";".join(f"{t}:{w:g}" for t, w in held.items())
            ws = _weights(ev, w_ref)
            if ev.combine == "rank":
                row["weight"] = ws[0] / sum(ws) if ws else 1.0 / len(ev.members)
            ref_score = combine(ev, [base[m] for m in ev.members], ws, truth.index)
            frame = paper_frame(ev, base, paper, held)
            scores += _score_rows(name, ref_score, seed, "reference")
            for t, g in frame[frame["score"].notna()].groupby("table", sort=False):
                scores += _score_rows(name, g.drop_duplicates("arch").set_index("arch")["score"], seed, str(t))
        row.update(_reference_metrics(truth, ref_score, n_resamples))
        ref_scores[name] = ref_score
        corr = correlations(frame, "top1", "score", "table")
        groups = {g["group"]: g for g in corr["groups"]}
        row.update(paper_spearman=corr["spearman"], paper_pairwise=paper_pairwise(frame), paper_rows=corr["rows_used"],
                   depth_pairs=depth_pairs(frame),
                   **{col: groups[t]["spearman"] if t in groups else math.nan for col, t in PER_TABLE.items()})
        rows.append(row)
    for row in rows:
        row["kendall_gain_lo"], row["kendall_gain_hi"], row["kendall_gain_p"] = _gain(truth, ref_scores,
                                                                                     row["evaluator"], n_resamples)
    table = pd.DataFrame(rows, columns=[c for c in TABLE_COLUMNS if c != "is_default"])
    default, _ = choose_default(table)
    table.insert(TABLE_COLUMNS.index("is_default"), "is_default", table["evaluator"] == default)
    return table, pd.DataFrame(scores, columns=SCORE_COLUMNS)


REF_VS_PAPER_COLUMNS = ["table", "rows", "spearman", "kendall", "pairwise", "depth_pairs"]


def reference_vs_papers(truth: pd.Series, paper: pd.DataFrame) -> pd.DataFrame:
    """Does the yardstick itself agree with the papers? The reference truth scored as an evaluator
    on the papers' rows it has (``REF_VS_PAPER_COLUMNS``): one row per table with at least 2 such
    rows, then ``all`` (row-weighted Spearman and Kendall, pooled within-table pairwise accuracy,
    Sp Table 7's depth pairs)."""
    frame = paper.assign(score=paper["arch"].map(truth.dropna()))
    frame = frame[frame["score"].notna()]
    corr = correlations(frame, "top1", "score", "table")
    rows = [{"table": g["group"], "rows": g["rows"], "spearman": g["spearman"], "kendall": g["kendall"],
             "pairwise": paper_pairwise(frame[frame["table"] == g["group"]]), "depth_pairs": ""}
            for g in corr["groups"] if g["rows"] >= 2]
    rows.append({"table": "all", "rows": corr["rows_used"], "spearman": corr["spearman"], "kendall": corr["kendall"],
                 "pairwise": paper_pairwise(frame), "depth_pairs": depth_pairs(frame)})
    return pd.DataFrame(rows, columns=REF_VS_PAPER_COLUMNS)


def depth_pairs(frame: pd.DataFrame) -> str:
    """``"k/n"``: of Sp Table 7's n depth pairs the evaluator scores, how many it orders deeper first, as
    the paper does (``w1.0/d2`` above ``w1.0/d1``, ``w0.7/d2`` above ``w0.75/d1``); "" when none is scored."""
    t7 = frame[(frame["table"] == "sp-T7") & frame["score"].notna()].set_index("name")["score"]
    pairs = [(t7[a], t7[b]) for a, b in DEPTH_PAIRS if a in t7.index and b in t7.index]
    return f"{sum(a > b for a, b in pairs)}/{len(pairs)}" if pairs else ""


def choose_default(table: pd.DataFrame, default: str = "default") -> tuple[str, str]:
    """The evaluator to mark ``is_default``, and why.

    Rule: ``default`` stays unless evaluators costing at most ``DEFAULT_SLACK`` x its
    ``cpu_s_per_arch`` rank the reference set better beyond chance: their one-sided paired bootstrap
    p-values of no Kendall gain over ``default`` (``kendall_gain_p``) are rejected by Holm's
    procedure at family-wise level ``GAIN_ALPHA`` over all such evaluators (each measured on at least
    ``MIN_REF_ARCHS`` reference architectures and no fewer than ``default``'s own: the benchmark runs
    ``default`` on every one). Among those, the highest ``kendall_ref``; ties go to
    ``paper_spearman`` (NaN lowest), then to the name. A table without p-values (no resamples)
    keeps ``default``: a point estimate alone is no evidence of a gain."""
    if default not in set(table["evaluator"]):
        raise ValueError(f"--evaluators: the table needs the evaluator {default!r} to choose the default")
    base_cpu = float(table.loc[table["evaluator"] == default, "cpu_s_per_arch"].iloc[0])
    base_n = table.loc[table["evaluator"] == default, "n_ref"].fillna(0).iloc[0] if "n_ref" in table.columns else 0
    most = int(table["n_ref"].max()) if "n_ref" in table.columns and table["n_ref"].notna().any() else 0
    if "n_ref" in table.columns:
        table = table.assign(kendall_ref=table["kendall_ref"].where(table["n_ref"] >= max(MIN_REF_ARCHS, base_n)))
    if table["kendall_ref"].isna().all():
        return default, (f"default: {default!r} stays (too little reference data: the rule needs a kendall_ref over"
                         f" at least {MIN_REF_ARCHS} reference architectures, and the most any evaluator has is"
                         f" {most})")
    if math.isnan(base_cpu):
        return default, f"default: {default!r} stays (it has no CPU cost yet)"
    limit = DEFAULT_SLACK * base_cpu
    p = table["kendall_gain_p"] if "kendall_gain_p" in table.columns else pd.Series(math.nan, table.index)
    eligible = table[(table["evaluator"] != default) & table["cpu_s_per_arch"].notna()
                     & (table["cpu_s_per_arch"] <= limit) & table["kendall_ref"].notna()]
    family = {r["evaluator"]: float(p[i]) for i, r in eligible.iterrows()}
    ok = eligible[eligible["evaluator"].isin(holm(family, GAIN_ALPHA))]
    k = sum(not math.isnan(v) for v in family.values())
    test = (f"one-sided paired bootstrap p of no Kendall gain, Holm-corrected over the {k} evaluators costing at"
            f" most {DEFAULT_SLACK:g}x its {base_cpu:.3g} CPU s per architecture, below {GAIN_ALPHA:g}")
    if ok.empty:
        near = ""
        if len(eligible) and k:
            best = eligible.loc[eligible["kendall_ref"].idxmax()]
            near = (f"; the best point estimate, {best['evaluator']!r} at {best['kendall_ref']:+.2f}, has p"
                    f" {p[best.name]:.3f}")
        own = table.loc[table["evaluator"] == default, "kendall_ref"].iloc[0]
        return default, (f"default: {default!r} stays (kendall_ref {own:+.2f}): no evaluator ranks the reference"
                         f" better beyond chance ({test}){near}")

    def key(r: pd.Series) -> tuple:
        ps = -math.inf if math.isnan(r["paper_spearman"]) else round(float(r["paper_spearman"]), 12)
        return (round(float(r["kendall_ref"]), 12), ps, [-ord(c) for c in r["evaluator"]])

    best = max((r for _, r in ok.iterrows()), key=key)
    return best["evaluator"], (f"default: {best['evaluator']!r} (kendall_ref {best['kendall_ref']:+.2f}, p"
                               f" {p[best.name]:.3f}), the best of the evaluators that rank the reference better"
                               f" than {default!r} beyond chance ({test})")


def screen_decision(name: str, n: int, kendall: float, lo: float) -> tuple[str, str]:
    """Whether the search should screen proposals by default with the score ``name``, and why:
    ``"on"`` when its ``kendall_ref`` has a 95% interval above 0 (``lo``) over at least
    ``MIN_REF_ARCHS`` reference architectures (measured to help), ``"off"`` when it does not,
    ``"undecided"`` with fewer architectures or no interval."""
    if n < MIN_REF_ARCHS or pd.isna(lo) or pd.isna(kendall):
        return "undecided", (f"screening by {name!r}: undecided (a kendall_ref interval over {n} reference"
                             f" architectures; the rule needs {MIN_REF_ARCHS})")
    if lo > 0:
        return "on", (f"screening by {name!r}: on (kendall_ref {kendall:+.2f}, 95% interval from {lo:+.2f}: above 0"
                      f" over {n} reference architectures)")
    return "off", (f"screening by {name!r}: off (kendall_ref {kendall:+.2f}, 95% interval from {lo:+.2f}: not shown"
                   f" to help over {n} reference architectures)")


def choose_screen(table: pd.DataFrame, screen: str = "screen") -> tuple[str, str]:
    """:func:`screen_decision` for the zero-cost screening rule (evaluator ``screen`` of the table)."""
    rows = table[table["evaluator"] == screen]
    if rows.empty:
        return "undecided", f"screening: no {screen!r} row in the table"
    r = rows.iloc[0]
    n = int(r["n_ref"]) if pd.notna(r.get("n_ref")) else 0
    return screen_decision(screen, n, r["kendall_ref"], r.get("kendall_ref_lo", math.nan))


def recompute_kendall(scores_csv: Path | str, reference_csv: Path | str, evaluator: str) -> float:
    """``kendall_ref`` of ``evaluator`` rebuilt from ``fidelity-scores.csv`` and ``reference.csv``."""
    s = pd.read_csv(scores_csv, dtype={"evaluator": str, "arch": str, "seed": str, "set": str})
    s = s[(s["evaluator"] == evaluator) & s["set"].isin(["all", "reference"])]
    if (s["seed"] == "mean").any():
        s = s[s["seed"] == "mean"]
    score = s.set_index("arch")["score"].astype(float)
    if not score.index.is_unique:
        raise ValueError(f"{str(scores_csv)!r}: evaluator {evaluator!r} has several scores for one architecture")
    truth = reference_truth(pd.read_csv(reference_csv)).dropna()
    common = truth.index[truth.index.isin(score.dropna().index)]
    return kendall(truth.loc[common].to_numpy(dtype=float), score.loc[common].to_numpy(dtype=float))


# --- presentation ---------------------------------------------------------------------------------------


def markdown_table(table: pd.DataFrame) -> str:
    cols = TABLE_COLUMNS[:8] + ["n_ref", "mobinet_t3_spearman", "sp_t7_spearman", "depth_pairs"]
    lines = ["| " + " | ".join(cols) + " |", "| --- |" + " ---: |" * (len(cols) - 1)]
    for r in table.to_dict("records"):
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, bool | np.bool_):
                cells.append("**yes**" if v else "")
            elif isinstance(v, float) and c == "cpu_s_per_arch":
                cells.append("n/a" if math.isnan(v) else f"{v:.3g}")
            elif isinstance(v, float):
                cells.append("n/a" if math.isnan(v) else f"{v:+.3f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class FidelityPlotData:
    """One point per evaluator placed on the CPU axis: (name, CPU s per arch, value)."""

    kendall: list[tuple[str, float, float]] = field(default_factory=list)
    kendall_err: list[tuple[float, float]] = field(default_factory=list)  # (below, above); NaN: no interval
    paper: list[tuple[str, float, float]] = field(default_factory=list)
    default: str = ""
    unplaced: list[str] = field(default_factory=list)  # no positive CPU cost yet (log axis)
    title: str = ""


def fidelity_plot_data(table: pd.DataFrame) -> FidelityPlotData:
    data = FidelityPlotData()
    for r in table.to_dict("records"):
        name, cpu = r["evaluator"], r["cpu_s_per_arch"]
        if r["is_default"]:
            data.default = name
        if not (isinstance(cpu, float | int) and cpu > 0):
            data.unplaced.append(name)
            continue
        k, lo, hi = r["kendall_ref"], r["kendall_ref_lo"], r["kendall_ref_hi"]
        if not math.isnan(k):
            data.kendall.append((name, float(cpu), float(k)))
            data.kendall_err.append((k - lo, hi - k) if not (math.isnan(lo) or math.isnan(hi)) else (math.nan,) * 2)
        if not math.isnan(r["paper_spearman"]):
            data.paper.append((name, float(cpu), float(r["paper_spearman"])))
    n_ref = int(table["n_ref"].max()) if len(table) and table["n_ref"].notna().any() else 0
    data.title = f"rank fidelity per CPU-second ({n_ref} reference architectures; default: {data.default})"
    return data


def draw_fidelity(data: FidelityPlotData, paths: Sequence[Path], marker: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), dpi=120, sharex=True)
    panels = [(axes[0], data.kendall, data.kendall_err, "Kendall tau vs reference (95% CI)"),
              (axes[1], data.paper, None, "row-weighted Spearman within the papers' tables")]
    for ax, points, err, label in panels:
        for i, (name, x, y) in enumerate(points):
            color = "tab:red" if name == data.default else "tab:blue"
            if err is not None and not math.isnan(err[i][0]):
                ax.errorbar([x], [y], yerr=[[err[i][0]], [err[i][1]]], fmt="o", color=color, ms=4, capsize=2)
            else:
                ax.scatter([x], [y], s=18, color=color)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6)
        if points:
            ax.set_xscale("log")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel("CPU seconds per architecture (log)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(data.title, fontsize=9)
    fig.tight_layout()
    for p in paths:
        meta = {"Title": marker, **({"Date": None} if str(p).endswith(".svg") else {})}
        with plt.rc_context({"svg.hashsalt": "binas"}):  # the same figure, the same bytes
            fig.savefig(p, metadata=meta)
    plt.close(fig)
