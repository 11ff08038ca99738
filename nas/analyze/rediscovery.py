"""Rediscovery searches side by side (``python -m nas.analyze rediscovery OUT [OUT ...]``).

Each OUT is a finished ``nas.search --no-seed-presets`` folder (its ``study.db``). From each
study's report data (:func:`nas.report.report_data`, the same figures as its report.md) three
tables, one row per run, per (run, preset) and per (run, key choice), and a Markdown summary
that says, across the runs, how often each seed preset is dominated by a front found without it
and how often each of the papers' key choices is rediscovered.
"""

from __future__ import annotations

import pandas as pd

from ..budget import format_ops

__all__ = ["CHOICE_COLUMNS", "PRESET_COLUMNS", "RUN_COLUMNS", "TITLE", "rediscovery_markdown", "rediscovery_tables"]

TITLE = "# Rediscovery: searches without the seed presets"  # rediscovery.md starts with it

RUN_COLUMNS = ["run", "study", "space", "fidelity", "budget", "trials", "trained", "front", "best_arch", "best_ops",
               "best_top1", "best_top1_se", "train_minutes"]
PRESET_COLUMNS = ["run", "preset", "ops", "status", "top1", "top1_se", "dominated", "lead", "within_noise",
                  "nearest", "nearest_distance"]
CHOICE_COLUMNS = ["run", "choice", "paper", "trained_share", "front_share", "best_share", "near", "near_arch",
                  "near_ops", "near_share", "verdict", "rho", "p"]


def rediscovery_tables(reports: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """``{"runs", "presets", "choices"}`` frames from ``{run name: report_data(study)}``."""
    runs, presets, choices = [], [], []
    for name, d in reports.items():
        meta, best, counts = d["meta"], d["best"] or {}, d["counts"]
        runs.append({"run": name, "study": d["study"], "space": "per-stage" if meta.get("per_stage") else "uniform",
                     "fidelity": meta["fidelity"], "budget": float(meta["budget"]),
                     "trials": int(sum(counts.values())), "trained": int(counts.get("trained", 0)),
                     "front": len(d["front"]), "best_arch": best.get("arch"), "best_ops": best.get("ops"),
                     "best_top1": best.get("top1"), "best_top1_se": best.get("top1_se"),
                     "train_minutes": d["train_seconds"] / 60})
        presets += [{"run": name, **{c: e.get(c) for c in PRESET_COLUMNS[1:]}} for e in d["seeds"]]
        choices += [{"run": name, **{c: r.get(c) for c in CHOICE_COLUMNS[1:]}} for r in d["key_choices"]]
    return {"runs": pd.DataFrame(runs, columns=RUN_COLUMNS),
            "presets": pd.DataFrame(presets, columns=PRESET_COLUMNS),
            "choices": pd.DataFrame(choices, columns=CHOICE_COLUMNS)}


def _pct(v) -> str:
    return "-" if v is None or pd.isna(v) else f"{100 * v:.1f}%"


def _top1(v, se) -> str:
    return "-" if v is None or pd.isna(v) else _pct(v) + ("" if se is None or pd.isna(se) else f" ± {100 * se:.1f}")


def _preset_cell(r: pd.Series) -> str:
    if r["top1"] is None or pd.isna(r["top1"]):
        return r["status"]
    dom = "dominated" if r["dominated"] else "on or above the front"
    noise = "" if r["within_noise"] is None or pd.isna(r["within_noise"]) else \
        (", best's lead within the noise" if r["within_noise"] else ", best's lead beyond the noise")
    return f"{_top1(r['top1'], r['top1_se'])}, {dom}{noise}; nearest at distance {r['nearest_distance']}"


def rediscovery_markdown(t: dict[str, pd.DataFrame]) -> str:
    runs, presets, choices = t["runs"], t["presets"], t["choices"]
    names = list(runs["run"])
    lines = [TITLE, "",
             "Each search ran with `--no-seed-presets`; the presets were trained after it at the same fidelity"
             " and never shown to it. Top-1 is the proxy's validation top-1 ± one standard error.", "",
             "| run | space | trials (trained) | front | best architecture | OPs | top-1 | training |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in runs.iterrows():
        arch = "-" if r["best_arch"] is None else f"`{r['best_arch']}`"
        ops = "-" if r["best_ops"] is None or pd.isna(r["best_ops"]) else format_ops(r["best_ops"])
        lines.append(f"| {r['run']} | {r['space']} | {r['trials']} ({r['trained']}) | {r['front']} | {arch} | {ops} |"
                     f" {_top1(r['best_top1'], r['best_top1_se'])} | {r['train_minutes']:.0f} min |")
    lines += ["", "## The seed presets against each front", "",
              "| preset | OPs | " + " | ".join(names) + " | dominated |", "|---|---|" + "---|" * len(names) + "---|"]
    for preset, g in presets.groupby("preset", sort=False):
        cells = [_preset_cell(g[g["run"] == n].iloc[0]) if (g["run"] == n).any() else "-" for n in names]
        scored = g[g["top1"].notna()]
        dom = f"{int(scored['dominated'].astype(bool).sum())} of {len(scored)}" if len(scored) else "-"
        lines.append(f"| {preset} | {format_ops(g['ops'].iloc[0])} | " + " | ".join(cells) + f" | {dom} |")
    lines += ["", "## The papers' key choices", "",
              "Per run: the verdict (the front architecture nearest in OPs to the paper's model has the choice in"
              " every stage: *rediscovered*; in some: *partly*), that architecture's share of stages with it, and"
              " Spearman's rho between share and top-1 over the trained architectures (p).", "",
              "| choice | paper | " + " | ".join(names) + " | rediscovered |",
              "|---|---|" + "---|" * len(names) + "---|"]
    for choice, g in choices.groupby("choice", sort=False):
        cells = []
        for n in names:
            row = g[g["run"] == n]
            if not len(row):
                cells.append("-")
                continue
            r = row.iloc[0]
            rho = "" if r["rho"] is None or pd.isna(r["rho"]) else f"; rho {r['rho']:+.2f} (p {r['p']:.2g})"
            share = "" if r["near_share"] is None or pd.isna(r["near_share"]) else f" ({100 * r['near_share']:.0f}%)"
            cells.append(f"{r['verdict']}{share}{rho}")
        found = int((g["verdict"] == "rediscovered").sum())
        lines.append(f"| {choice} | {g['paper'].iloc[0]} | " + " | ".join(cells) + f" | {found} of {len(g)} |")
    return "\n".join(lines) + "\n"
