"""Where the seed papers' models fall against a search's front: the report's *Seed presets* section.

Each preset is in one of these states (``status``):

* ``seeded``: a trial of the search, queued first (the default search);
* ``found``: a trial the search drew itself (a ``--no-seed-presets`` search that rediscovered it);
* ``after``: trained after a ``--no-seed-presets`` search, never shown to it (:mod:`nas.comparison`);
* ``diverged`` or ``error``: so trained, in the search or after it;
* ``over budget`` or ``outside the space``: the search could not have found it;
* ``not compared``: a ``--no-seed-presets`` search that has not trained it (``--no-compare-presets``, or
  the search has not reached its target yet);
* ``not trained yet``: queued as a seed, not trained yet (the search stopped first).

Those with a top-1 are placed against the front (dominated or not); every preset gets the nearest
front architecture and the number of choices between them.
"""

from __future__ import annotations

import pandas as pd

from search_space import PRESETS, SEED_PRESETS, ArchConfig, SearchSpace, analytic_cost

from ..outcomes import Outcome
from ..study import stored_comparison
from .noise import StudyNoise, add_uncertainty

__all__ = ["STATUS_TEXT", "arch_ops", "num", "preset_entries", "preset_lines", "preset_ops", "preset_points"]

STATUS_TEXT = {"seeded": "seeded", "found": "found by the search", "after": "after the search"}


def dominated(top1: float, ops: float, front: pd.DataFrame) -> bool:
    better = (front["top1"] >= top1) & (front["ops"] <= ops) & ((front["top1"] > top1) | (front["ops"] < ops))
    return bool(better.any())


def num(value) -> float | None:
    """``value`` as a float; None for None or NaN."""
    return None if value is None or pd.isna(value) else float(value)


def preset_ops(name: str, meta: dict) -> float:
    """A preset's OPs under the study's convention, resolution and classes."""
    return arch_ops(PRESETS[name].arch, meta)


def arch_ops(arch: ArchConfig, meta: dict) -> float:
    """An architecture's OPs under the study's convention, resolution and classes."""
    cost = analytic_cost(arch, int(meta["num_classes"]), int(meta["resolution"]))
    return cost.ops(with_bn=meta.get("convention") == "with-bn")


def _late(late: dict, noise: StudyNoise) -> dict:
    """A preset trained after the search, as an entry."""
    if late.get("error"):
        return {"status": "error", "error": late["error"]}
    if late.get("diverged") or late.get("top1") is None:
        return {"status": "diverged"}
    seeds = late.get("top1_seeds") or [late["top1"]]
    one = pd.DataFrame(
        {
            "top1": [float(late["top1"])],
            "top1_seeds": [seeds if len(seeds) > 1 else None],
            "top1_sd": [late.get("top1_sd")],
        }
    )
    se = num(add_uncertainty(one, noise)["top1_se"].iloc[0])
    return {"status": "after", "top1": float(late["top1"]), "top1_se": se}


def _state(
    name: str,
    arch: ArchConfig,
    meta: dict,
    space: SearchSpace,
    trials: pd.DataFrame,
    late: dict | None,
    noise: StudyNoise,
) -> dict:
    mine = trials[trials["arch"] == arch.encode()]
    trained = mine[mine["outcome"] == Outcome.TRAINED]
    if len(trained):
        r = trained.iloc[0]
        seeded = (trained["seed_preset"] == name).any()
        return {"status": "seeded" if seeded else "found", "top1": float(r["top1"]), "top1_se": num(r["top1_se"])}
    if (mine["outcome"] == Outcome.DIVERGED).any():
        return {"status": "diverged"}
    if late is not None:
        return _late(late, noise)
    if float(meta["budget"]) < arch_ops(arch, meta):
        return {"status": "over budget"}
    if not space.contains(arch):
        return {"status": "outside the space"}
    return {"status": "not trained yet" if meta.get("seeded") else "not compared"}


def preset_entries(
    study, meta: dict, trials: pd.DataFrame, front: pd.DataFrame, noise: StudyNoise, space: SearchSpace
) -> list[dict]:
    """One entry per seed preset: ``preset, arch, ops, status, evaluated`` and, where known, ``top1,
    top1_se, dominated, proposed`` (the search drew it and stopped it at a rung) and the nearest front
    architecture (``nearest, nearest_distance, nearest_top1, nearest_ops``)."""
    after = stored_comparison(study)
    fronts = [ArchConfig.decode(a) for a in front["arch"]]
    entries = []
    for name in SEED_PRESETS:
        arch = PRESETS[name].arch
        entry = {"preset": name, "arch": arch.encode(), "ops": arch_ops(arch, meta)}
        entry.update(_state(name, arch, meta, space, trials, after.get(name), noise))
        entry["evaluated"] = entry.get("top1") is not None
        entry["proposed"] = bool(((trials["arch"] == arch.encode()) & (trials["outcome"] == Outcome.PRUNED)).any())
        if entry["evaluated"]:
            entry["dominated"] = dominated(entry["top1"], entry["ops"], front)
        if fronts:
            dists = [space.distance(arch, f) for f in fronts]
            i = min(range(len(fronts)), key=lambda j: (dists[j], -front["top1"].iloc[j]))
            entry.update(
                nearest=front["arch"].iloc[i],
                nearest_distance=dists[i],
                nearest_top1=float(front["top1"].iloc[i]),
                nearest_ops=float(front["ops"].iloc[i]),
            )
        entries.append(entry)
    return entries


def preset_points(entries: list[dict]) -> list[tuple[str, float, float, float | None]]:
    """``(label, OPs, top-1, standard error)`` of every preset with a top-1, for the Pareto plot (the error
    is None where unknown)."""
    suffix = {"seeded": "", "found": " (found by the search)", "after": " (after the search)"}
    return [
        (e["preset"] + suffix[e["status"]], e["ops"], e["top1"], e.get("top1_se")) for e in entries if e["evaluated"]
    ]


def preset_lines(entries: list[dict], pm, format_ops) -> list[str]:
    """The Markdown section (``pm(top1, se)`` and ``format_ops(ops)`` format the figures)."""
    lines = [
        "## Seed presets",
        "",
        "| preset | proxy top-1 | OPs | trained | dominated by the front | nearest front architecture | distance |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        top1 = pm(e["top1"], e.get("top1_se")) if e["evaluated"] else "-"
        status = STATUS_TEXT.get(e["status"], e["status"]) + (
            " (the search stopped it at a rung)" if e["proposed"] else ""
        )
        dom = {True: "yes", False: "no"}.get(e.get("dominated"), "-")
        lines.append(
            f"| {e['preset']} | {top1} | {format_ops(e['ops'])} | {status} | {dom} |"
            f" `{e.get('nearest', '-')}` | {e.get('nearest_distance', '-')} |"
        )
    lines += ["", "Distance: the number of choices that differ."]
    if any(e["status"] == "after" for e in entries):
        lines[-1] += (
            " *After the search*: trained once the search held its trials, as they were (same fidelity,"
            " data and seeds), and never shown to it (`--no-seed-presets`)."
        )
    if any(e["status"] == "not compared" for e in entries):
        lines[-1] += (
            " *Not compared*: the search has not reached its target yet, or ran with"
            " `--no-compare-presets`; the same command without it trains them."
        )
    errors = [e for e in entries if e["status"] == "error"]
    lines += [f"- {e['preset']}: {e['error']}" for e in errors]
    return lines + [""]
