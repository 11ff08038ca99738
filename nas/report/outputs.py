"""A search's result files, written from its stored study alone.

Files: trials.csv, pareto.csv, pareto.png, pareto.svg, report.md, best_arch.json. Each is
written to a temporary name and renamed, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from search_space import ArchConfig, space_name
from search_space.files import atomic_write, atomic_write_text

from ..budget import format_ops
from ..outcomes import EVALUATED, Outcome
from ..proposer import hypervolume
from ..settings import stored_space
from ..study import study_meta
from .choices import key_choice_lines, key_choice_rows, key_choices_in, random_shares
from .noise import Z95, add_uncertainty, lead_within_noise, study_noise
from .plot import draw_pareto, pareto_plot_data
from .presets import arch_ops, num, preset_entries, preset_lines, preset_ops, preset_points
from .records import choice_columns, pareto_frame, trials_frame

__all__ = ["OUTPUT_FILES", "report_data", "write_outputs"]

OUTPUT_FILES = ("trials.csv", "pareto.csv", "pareto.png", "pareto.svg", "report.md", "best_arch.json")


def _per_stage(meta: dict) -> bool:
    """Whether the study searched the per-stage space (stored since per_stage was added to the
    study's settings; older studies: from the stored space's choice names)."""
    if "per_stage" in meta:
        return bool(meta["per_stage"])
    return any(name.startswith("s0.") for name in json.loads(meta.get("space") or "{}"))


_SPACE_TEXT = {
    "sp": "sp (MobileNet-Sp's own design space)",
    "mobinet": "mobinet (MoBiNet's own design space)",
}


def _space_name(meta: dict) -> str:
    name = space_name(stored_space(meta))
    if name in _SPACE_TEXT:
        return _SPACE_TEXT[name]
    if _per_stage(meta):
        return "per-stage (each stage its own block choices)"
    return "uniform (one block choice for all five stages)"


def _pm(top1: float, se) -> str:
    """``41.20% ± 1.30`` (one standard error, in points), or the top-1 alone when none is known."""
    return f"{100 * top1:.2f}%" + (f" ± {100 * se:.2f}" if se is not None and not pd.isna(se) else "")


def _machine_line(trials: pd.DataFrame, measured: bool) -> list[str]:
    """Where the trials trained: a seed repeats its result only there."""
    where = trials["machine"].dropna().value_counts()
    if where.empty:
        return []
    text = "; ".join(f"{m} ({n} trial{'s' if n > 1 else ''})" for m, n in where.items())
    return [
        f"Trained on: {text}. The same seed repeats a result only on the same device, CPU threads, memory"
        " format and torch;"
        " elsewhere top-1 moves about as far as with another seed (measured: docs/calibration.md, replay"
        " noise)" + (", which the uncertainty above covers." if measured else "."),
        "",
    ]


def _noise_lines(d: dict) -> list[str]:
    """What the uncertainty is, and whether the best architecture's lead over each seed preset is within it."""
    lines = [
        "## Noise",
        "",
        f"Uncertainty: {d['noise'].source}. Top-1 is shown ± one standard error (the seed SD"
        " divided by the square root of the seeds an architecture was trained with); a lead is *within the"
        f" noise* when it is smaller than {Z95:.2f} standard errors of the difference.",
        "",
    ]
    lines += _machine_line(d["trials"], d["noise"].sd is not None)
    if d["best"] is None:
        return lines
    for s in d["seeds"]:
        if "lead" not in s:
            continue
        if s["is_best"]:
            lines.append(f"- The best architecture is the seed preset {s['preset']} itself.")
        elif s["within_noise"] is None:
            lines.append(f"- Lead over {s['preset']}: {100 * s['lead']:+.2f} points; its noise is not measured.")
        else:
            verdict = "within the noise" if s["within_noise"] else "beyond the noise"
            lines.append(f"- Lead over {s['preset']}: {100 * s['lead']:+.2f} points, {verdict}.")
    return lines + [""]


def _screen_lines(d: dict) -> list[str]:
    trials = d["trials"]
    scored = trials[trials["screen_place"].notna()]
    lines = []
    if int(d["meta"].get("seeds", 1)) > 1:
        lines += [f"Every architecture was trained with {d['meta']['seeds']} seeds and is ranked on their mean.", ""]
    if len(scored):
        out = int((scored["outcome"] == Outcome.SCREENED).sum())
        by = ", ".join(sorted(scored["screen_by"].dropna().unique()))
        what = "a surrogate fitted on the trained architectures" if by == "surrogate" else f"a zero-cost proxy ({by})"
        prior = int(pd.to_numeric(scored["screen_prior"], errors="coerce").fillna(0).max())
        if by == "surrogate" and prior:
            what += f" and on {prior} shipped proxy results at this fidelity (proxies/priors/surrogate_prior.json)"
        warm = int((scored["screen_place"] == "warm-up").sum())
        warm_text = f" ({warm} of them trained while the surrogate warmed up)" if warm else ""
        lines += [
            f"Screening: {len(scored)} fresh proposals scored by {what}, {out} screened out,"
            f" {len(scored) - out} trained or stopped at a rung{warm_text}.",
            "",
        ]
    return lines


def report_data(study) -> dict:
    """Everything the report shows, as plain data (tests check this, not the Markdown)."""
    meta = study_meta(study)
    budget = float(meta["budget"])
    trials = trials_frame(study)
    noise = study_noise(trials, str(meta["fidelity"]))
    trials = add_uncertainty(trials, noise)
    trials["hypervolume"] = hypervolume_so_far(trials, budget, 1.0 / float(meta["num_classes"]))
    front = pareto_frame(trials, budget)
    space = stored_space(meta)
    seeds = preset_entries(study, meta, trials, front, noise, space)
    freq = {c: front[c].dropna().astype(str).value_counts().to_dict() for c in choice_columns()} if len(front) else {}
    counts = trials["outcome"].value_counts().to_dict()
    best = front.sort_values(["top1", "ops"], ascending=[False, True]).iloc[0].to_dict() if len(front) else None
    if best is not None:
        for entry in seeds:
            if entry.get("top1") is not None:
                entry["lead"] = float(best["top1"]) - entry["top1"]
                entry["is_best"] = entry["arch"] == best["arch"]
                entry["within_noise"] = lead_within_noise(
                    float(best["top1"]), num(best["top1_se"]), entry["top1"], entry["top1_se"]
                )
    choices = key_choices_in(space)
    ops = {c.preset: preset_ops(c.preset, meta) for c in choices}
    convention = (meta["convention"], int(meta["resolution"]), int(meta["num_classes"]))
    random = random_shares(space, budget, lambda a: arch_ops(a, meta), convention)
    return {
        "meta": meta,
        "study": study.study_name,
        "trials": trials,
        "front": front,
        "best": best,
        "seeds": seeds,
        "key_choices": key_choice_rows(trials, front, best, ops, random, choices),
        "choice_frequency": freq,
        "counts": counts,
        "noise": noise,
        "train_seconds": float(trials.loc[trials["outcome"].isin(EVALUATED), "seconds"].sum()),
    }


def _markdown(d: dict) -> str:
    meta, front = d["meta"], d["front"]
    lines = (
        [
            f"# binas search `{d['study']}`",
            "",
            f"Budget {format_ops(meta['budget'])} OPs ({meta['convention']}, {meta['resolution']} px,"
            f" {meta['num_classes']} classes); proxy fidelity `{meta['fidelity']}`; space {_space_name(meta)}.",
            "",
            "Trials: "
            + ", ".join(f"{n} {k}" for k, n in sorted(d["counts"].items()))
            + f"; {d['train_seconds'] / 60:.1f} min of proxy training.",
            "",
        ]
        + _screen_lines(d)
        + [
            "Top-1 is the proxy's validation top-1 (a short training on a CIFAR-10 subset), a ranking signal,"
            " not a final accuracy.",
            "",
            "## Best architecture under budget",
            "",
        ]
    )
    if d["best"]:
        b = d["best"]
        lines += [
            f"`{b['arch']}`: proxy top-1 {_pm(b['top1'], b['top1_se'])}, {format_ops(b['ops'])} OPs,"
            f" {b['params'] / 1e6:.2f}M params, {b['size_bytes'] / 1e6:.2f} MB deployed"
            f" (trial {b['number']}; best_arch.json).",
            "",
        ]
    else:
        lines += ["No architecture finished training yet.", ""]
    hv = d["trials"]["hypervolume"].dropna()
    lines += [
        "## Pareto front",
        "",
        f"Hypervolume {hv.iloc[-1] if len(hv) else 0.0:.4f}: the share of the box from"
        f" (chance top-1 {100 / float(meta['num_classes']):.0f}%, the budget) to (100%, 0 OPs) that the front"
        " dominates (trials.csv: after each trial).",
        "",
        "| # | architecture | OPs | top-1 | params | trial |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in front.iterrows():
        lines.append(
            f"| {i + 1} | `{r['arch']}` | {format_ops(r['ops'])} | {_pm(r['top1'], r['top1_se'])} |"
            f" {r['params'] / 1e6:.2f}M | {r['number']} |"
        )
    lines += [""] + preset_lines(d["seeds"], _pm, format_ops) + key_choice_lines(d["key_choices"], format_ops)
    lines += _noise_lines(d)
    lines += ["## How often each choice is on the front", ""]
    for col, counts in d["choice_frequency"].items():
        lines.append(f"- {col}: " + ", ".join(f"{k} x{n}" for k, n in counts.items()))
    return "\n".join(lines) + "\n"


def write_outputs(study, out: Path) -> dict:
    """Write every output file into ``out``; returns :func:`report_data`."""
    out.mkdir(parents=True, exist_ok=True)
    d = report_data(study)
    meta = d["meta"]
    atomic_write_text(out / "trials.csv", d["trials"].to_csv(index=False))
    atomic_write_text(out / "pareto.csv", d["front"].to_csv(index=False))
    title = f"{d['study']}: budget {format_ops(meta['budget'])} OPs, fidelity {meta['fidelity']}"
    plot = pareto_plot_data(d["trials"], d["front"], float(meta["budget"]), title, preset_points(d["seeds"]))
    for fmt in ("png", "svg"):
        atomic_write(out / f"pareto.{fmt}", lambda f, fmt=fmt: draw_pareto(plot, [(f, fmt)]))
    atomic_write_text(out / "report.md", _markdown(d))
    if d["best"]:
        b = d["best"]
        payload = ArchConfig.decode(b["arch"]).to_dict() | {
            "ops": float(b["ops"]),
            "proxy_top1": float(b["top1"]),
            "budget": meta["budget"],
            "convention": meta["convention"],
            "resolution": meta["resolution"],
            "num_classes": meta["num_classes"],
            "fidelity": meta["fidelity"],
            "study": d["study"],
            "trial": int(b["number"]),
            "proxy_top1_se": num(b["top1_se"]),
            "seeds": int(meta.get("seeds", 1)),
        }
        atomic_write_text(out / "best_arch.json", json.dumps(payload, indent=2) + "\n")
    return d


def hypervolume_so_far(trials: pd.DataFrame, budget: float, chance: float) -> list[float | None]:
    """Per trial, in trial order, the hypervolume (:func:`nas.proposer.hypervolume`, from chance top-1 and
    the budget) of the architectures trained to full fidelity up to it; None before the first."""
    points: list[tuple[float, float]] = []
    out: list[float | None] = []
    for outcome, top1, ops in zip(trials["outcome"], trials["top1"], trials["ops"], strict=True):
        if outcome == Outcome.TRAINED and pd.notna(top1) and pd.notna(ops):
            points.append((float(top1), float(ops)))
        out.append(hypervolume(points, (chance, budget)) if points else None)
    return out
