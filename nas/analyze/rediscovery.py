"""Rediscovery searches side by side (``python -m nas.analyze rediscovery OUT [OUT ...]``).

Each OUT is a finished ``nas.search --no-seed-presets`` folder (its ``study.db``). From each
study's report data (:func:`nas.report.report_data`, the same figures as its report.md) three
tables, one row per run, per (run, preset) and per (run, key choice), and a Markdown summary
that says, across the runs, how often each seed preset is dominated by a front found without it
and how often each of the papers' key choices is rediscovered.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proxies.data.loader import DEFAULT_TEST_FRACTION
from search_space import space_name

from ..budget import format_ops
from ..settings import stored_space
from .optimum import OPTIMUM_COLUMNS, against_optimum
from .random_baseline import BASELINE_COLUMNS, random_baseline, search_cost_k
from .search_folder import open_search

__all__ = [
    "CHOICE_COLUMNS",
    "PRESET_COLUMNS",
    "RUN_COLUMNS",
    "RUN_HEADER",
    "TITLE",
    "load_reports",
    "rediscovery_markdown",
    "rediscovery_tables",
]

TITLE = "# Rediscovery: searches without the seed presets"  # rediscovery.md starts with it

RUN_COLUMNS = [
    "run",
    "study",
    "space",
    "fidelity",
    "budget",
    "trials",
    "trained",
    "front",
    "best_arch",
    "best_ops",
    "best_top1",
    "best_top1_se",
    "train_minutes",
    *BASELINE_COLUMNS,
    "hypervolume",
    *OPTIMUM_COLUMNS,
]
RUN_HEADER = RUN_COLUMNS[:13]  # the columns of the first version: a runs table that starts so is ours
PRESET_COLUMNS = [
    "run",
    "preset",
    "ops",
    "status",
    "top1",
    "top1_se",
    "dominated",
    "lead",
    "within_noise",
    "nearest",
    "nearest_distance",
]
CHOICE_COLUMNS = [
    "run",
    "choice",
    "paper",
    "preset",
    "preset_ops",
    "trained",
    "random_share",
    "trained_share",
    "front_share",
    "front_full",
    "best_share",
    "near",
    "near_arch",
    "near_ops",
    "near_share",
    "verdict",
    "rho",
    "p",
    "rho_ops",
    "p_ops",
]
_INTS = {
    "runs": ["trials", "trained", "front", "random_n", "random_k", "random_rank", "space_n", "space_rank"],
    "presets": ["nearest_distance"],
    "choices": ["near", "trained"],
}


def load_reports(folders: list[Path]) -> dict[str, dict]:
    """``{folder name: report_data(study)}`` for finished ``--no-seed-presets`` search folders;
    ValueError (naming SEARCH) for anything else."""
    from ..report import report_data  # nas.report imports Optuna: only this command needs it

    seen: dict[str, Path] = {}
    for folder in folders:
        name, where = folder.resolve().name, folder.resolve()
        if name in seen:
            again = "is given twice" if seen[name] == where else f"has the same name as {str(seen[name])!r}"
            raise ValueError(f"SEARCH: {str(folder)!r} {again} (each run is named by its folder)")
        seen[name] = where
    reports = {}
    for folder in folders:
        study, meta = open_search(folder)
        if meta.get("seeded"):
            raise ValueError(
                f"SEARCH: {str(folder)!r} is a search seeded with the presets (rediscovery reads"
                " searches run with --no-seed-presets)"
            )
        reports[folder.resolve().name] = report_data(study)
    return reports


def rediscovery_tables(
    reports: dict[str, dict], sample: pd.DataFrame | None = None, seeds: dict[str, int | None] | None = None
) -> dict[str, pd.DataFrame]:
    """``{"runs", "presets", "choices"}`` frames from ``{run name: report_data(study)}``; with ``sample``
    (``nas.analyze edf``'s ``edf-archs.csv``), each run against random search
    (:mod:`nas.analyze.random_baseline`); ``seeds``: a run's ``--seed`` where its study does not record it."""
    runs, presets, choices = [], [], []
    for name, d in reports.items():
        meta, best, counts = d["meta"], d["best"] or {}, d["counts"]
        space, budget = _space(meta), float(meta["budget"])
        baseline, data_seed = dict.fromkeys(BASELINE_COLUMNS), _search_seed(name, meta, (seeds or {}).get(name))
        optimum = dict.fromkeys(OPTIMUM_COLUMNS)
        if sample is not None:
            search = {
                "space": space,
                "budget": budget,
                "seeds": meta.get("seeds", 1),
                "data_seed": data_seed,
                "test_fraction": meta.get("test_fraction", DEFAULT_TEST_FRACTION),
                "skip_bad_images": meta.get("skip_bad_images", False),
                **{c: meta.get(c) for c in ("fidelity", "convention", "resolution", "num_classes")},
            }
            baseline = random_baseline(sample, search, best.get("top1"), search_cost_k(d["trials"], meta["fidelity"]))
            optimum = against_optimum(sample, search, best)
        runs.append(
            {
                "run": name,
                "study": d["study"],
                "space": space,
                "fidelity": meta["fidelity"],
                "budget": budget,
                "trials": int(sum(counts.values())),
                "trained": int(counts.get("trained", 0)),
                "front": len(d["front"]),
                "best_arch": best.get("arch"),
                "best_ops": best.get("ops"),
                "best_top1": best.get("top1"),
                "best_top1_se": best.get("top1_se"),
                "train_minutes": d["train_seconds"] / 60,
                **baseline,
                "hypervolume": _last(d["trials"].get("hypervolume") if "trials" in d else None),
                **optimum,
            }
        )
        presets += [{"run": name, **{c: e.get(c) for c in PRESET_COLUMNS[1:]}} for e in d["seeds"]]
        choices += [
            {
                "run": name,
                **{c: r.get(c) for c in CHOICE_COLUMNS[1:]},
                "front_full": " ".join(map(str, r.get("front_full") or [])),
            }
            for r in d["key_choices"]
        ]
    tables = {
        "runs": pd.DataFrame(runs, columns=RUN_COLUMNS),
        "presets": pd.DataFrame(presets, columns=PRESET_COLUMNS),
        "choices": pd.DataFrame(choices, columns=CHOICE_COLUMNS),
    }
    for key, cols in _INTS.items():  # integers stay integers (missing: <NA>), not 3.0 / nan
        tables[key][cols] = tables[key][cols].astype("Int64")
    return tables


def _space(meta: dict) -> str:
    """The name of the space a study searched (``custom`` for one binas does not name)."""
    return space_name(stored_space(meta)) or "custom"


def _last(values) -> float | None:
    """The last known value of a per-trial column (None when there is none)."""
    known = [] if values is None else [v for v in values if v is not None and v == v]
    return float(known[-1]) if known else None


def _search_seed(name: str, meta: dict, given: int | None) -> int | None:
    recorded = meta.get("seed")
    if recorded is not None and given is not None and int(recorded) != given:
        raise ValueError(f"--search-seeds: {given} is not the seed the study of {name!r} records ({recorded})")
    return int(recorded) if recorded is not None else given


def _missing(v) -> bool:
    return v is None or pd.isna(v)


def _pct(v) -> str:
    return "-" if _missing(v) else f"{100 * v:.1f}%"


def _top1(v, se) -> str:
    return "-" if _missing(v) else _pct(v) + ("" if _missing(se) else f" ± {100 * se:.1f}")


def _preset_cell(r: pd.Series) -> str:
    if _missing(r["top1"]):
        return r["status"]
    if _missing(r["nearest"]):
        return f"{_top1(r['top1'], r['top1_se'])}; no front to compare"
    dom = "dominated" if r["dominated"] else "not dominated"
    noise = (
        ""
        if _missing(r["within_noise"])
        else (", best's lead within the noise" if r["within_noise"] else ", best's lead beyond the noise")
    )
    return f"{_top1(r['top1'], r['top1_se'])}, {dom}{noise}; nearest at distance {r['nearest_distance']}"


def _choice_cell(r: pd.Series) -> str:
    if _missing(r["near_share"]):
        return r["verdict"]
    chance = "" if _missing(r["random_share"]) else f"; chance {100 * r['random_share']:.0f}%"
    where = (
        ""
        if r["verdict"] != "elsewhere on the front"
        else " (" + ", ".join(f"#{k}" for k in str(r["front_full"]).split()) + ")"
    )
    cell = f"{r['verdict']}{where} (nearest {100 * r['near_share']:.0f}% at {format_ops(r['near_ops'])}{chance})"
    return cell + ("" if _missing(r["rho_ops"]) else f"; rho {r['rho_ops']:+.2f} (p {r['p_ops']:.2g})")


def _random_lines(runs: pd.DataFrame) -> list[str]:
    """The section on random search, for the runs that have a baseline (none: no section)."""
    if runs["random_note"].isna().all():  # no --random
        return []
    rows = runs[runs["random_n"].notna()]
    lines = [
        "",
        "## Against random search",
        "",
        "Architectures of the search's space drawn uniformly at random within its budget and trained once"
        " (`nas.analyze edf`), at its fidelity, data seed and data options, on the data the edf run was given."
        " *rank*: how many of the random architectures score at least the search's best. *random search of"
        " equal cost*: k architectures trained to full fidelity for the search's training epochs; the median"
        " of its best, and the share of such random searches whose best the search's best beats (0.5: no"
        " better than random search). Both sides are single-seed maxima.",
        "",
        "| run | best top-1 | random architectures at least as good | k | random search's best (median) |"
        " search beats |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in rows.iterrows():
        rank = "-" if _missing(r["random_rank"]) else f"{r['random_rank']} of {r['random_n']}"
        beats = "-" if _missing(r["beats_random"]) else f"{100 * r['beats_random']:.0f}%"
        lines.append(
            f"| {r['run']} | {_pct(r['best_top1'])} | {rank} | {r['random_k']} |"
            f" {_pct(r['random_best_median'])} | {beats} |"
        )
    notes = [
        f"{r['run']}: {r['random_note']}"
        for _, r in runs.iterrows()
        if isinstance(r["random_note"], str) and r["random_note"]
    ]
    if notes:
        lines += ["", "No comparison (or only a rank) for " + "; ".join(notes) + "."]
    return lines


def _optimum_lines(runs: pd.DataFrame) -> list[str]:
    """The section on the space's optimum, for the runs whose whole space the sample lists (none: no section)."""
    rows = runs[runs["space_n"].notna()]
    if rows.empty:
        return []
    lines = [
        "",
        "## Against the space's optimum",
        "",
        "The random sample holds every architecture of the space within the budget, each trained once (data"
        " seed 0): the search's best architecture is looked up there (whatever seed the search ran at). *rank*:"
        " its place among them by that score (1: the optimum); *regret*: the optimum's score less its score,"
        " in points.",
        "",
        "| run | best architecture | its score in the listing | rank | regret | the optimum |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in rows.iterrows():
        score = _pct(r["space_top1"])
        rank = "-" if _missing(r["space_rank"]) else f"{r['space_rank']} of {r['space_n']}"
        regret = "-" if _missing(r["space_regret"]) else f"{100 * r['space_regret']:.1f}"
        arch = "-" if _missing(r["best_arch"]) else f"`{r['best_arch']}`"
        lines.append(
            f"| {r['run']} | {arch} | {score} | {rank} | {regret} | `{r['space_best_arch']}`"
            f" ({_pct(r['space_best_top1'])}) |"
        )
    return lines


def rediscovery_markdown(t: dict[str, pd.DataFrame]) -> str:
    from ..report.choices import NEAR_RATIO  # nas.report imports Optuna: only this command needs it

    runs, presets, choices = t["runs"], t["presets"], t["choices"]
    names = list(runs["run"])
    lines = [
        TITLE,
        "",
        "Each search ran with `--no-seed-presets`; the presets were trained after it at the same fidelity"
        " and never shown to it (*not compared*: a search run with `--no-compare-presets`, or not finished)."
        " Top-1 is the proxy's validation top-1 ± one standard error.",
        "",
        "| run | space | trials (trained) | front | best architecture | OPs | top-1 | hypervolume | training |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in runs.iterrows():
        arch = "-" if _missing(r["best_arch"]) else f"`{r['best_arch']}`"
        ops = "-" if _missing(r["best_ops"]) else format_ops(r["best_ops"])
        lines.append(
            f"| {r['run']} | {r['space']} | {r['trials']} ({r['trained']}) | {r['front']} | {arch} | {ops} |"
            f" {_top1(r['best_top1'], r['best_top1_se'])} | {_hv(r['hypervolume'])} |"
            f" {r['train_minutes']:.0f} min |"
        )
    lines += _random_lines(runs) + _optimum_lines(runs)
    lines += [
        "",
        "## The seed presets against each front",
        "",
        "| preset | OPs | " + " | ".join(names) + " | dominated |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for preset, g in presets.groupby("preset", sort=False):
        cells = [_preset_cell(g[g["run"] == n].iloc[0]) if (g["run"] == n).any() else "-" for n in names]
        scored = g[g["top1"].notna()]
        dom = f"{int(scored['dominated'].astype(bool).sum())} of {len(scored)}" if len(scored) else "-"
        lines.append(f"| {preset} | {format_ops(g['ops'].iloc[0])} | " + " | ".join(cells) + f" | {dom} |")
    lines += [
        "",
        "## The papers' key choices",
        "",
        "Per run: the verdict (the front architecture nearest in OPs to the paper's model, within"
        f" {NEAR_RATIO}x, has the choice in every stage: *rediscovered*; another front architecture has it"
        " in every stage: *elsewhere on the front*, with its number in that run's Pareto front table; the"
        " nearest has it in some stages: *partly*), the nearest front architecture's share of stages with it"
        " and its OPs, the chance level (the share among architectures drawn at random within the budget:"
        " in the uniform space a verdict is one draw), and the partial Spearman rho between share and top-1"
        " at equal OPs over the trained architectures (p).",
        "",
        "| choice | paper | " + " | ".join(names) + " | rediscovered |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for choice, g in choices.groupby("choice", sort=False):
        cells = [_choice_cell(g[g["run"] == n].iloc[0]) if (g["run"] == n).any() else "-" for n in names]
        found, elsewhere = (int((g["verdict"] == v).sum()) for v in ("rediscovered", "elsewhere on the front"))
        tally = f"{found} of {len(g)}" + (f" (+{elsewhere} elsewhere on the front)" if elsewhere else "")
        lines.append(f"| {choice} | {g['paper'].iloc[0]} | " + " | ".join(cells) + f" | {tally} |")
    return "\n".join(lines) + "\n"


def _hv(v) -> str:
    return "-" if v is None or v != v else f"{float(v):.4f}"
