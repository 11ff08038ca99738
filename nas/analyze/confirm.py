"""Do a search's finds hold at seeds it never saw? (``python -m nas.analyze confirm SEARCH``)

A search keeps the architecture with the highest proxy top-1 out of dozens, each scored once at
the search's own seed (its data selection and training seed). The highest of many noisy scores is
biased upward (the winner's curse), so a lead over a seed preset, even one beyond the noise of a
single architecture, may not hold at another seed. The confirmation trains the search's best
found architectures and the seed presets it was compared with again, at fresh seeds the search
never used: seed ``S`` selects the data and initialises training exactly as ``nas.search --seed S``
would, at the search's fidelity. Each (found, preset) pair gets one difference per seed, the
same seeds on both sides, and the statistics of the claims (:mod:`nas.analyze.stats`, :mod:`proxies.stats`): the mean
difference, its 95% t interval over the seeds and the t-test's p-value. Verdict: ``confirmed``
when the difference has the sign of the search's own lead and its interval excludes 0,
``reversed`` when it has the opposite sign and its interval excludes 0, ``inconclusive``
otherwise; ``verdict_fdr`` keeps a verdict only where it survives the Benjamini-Hochberg
correction over the pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from proxies.stats import seed_interval, seed_p_value

from .stats import fdr_verdicts, verdict

__all__ = ["CONFIRM_COLUMNS", "CONFIRM_TITLE", "CONFIRM_VERDICTS", "confirm_markdown", "confirm_table", "fresh_seeds"]

CONFIRM_TITLE = "# Confirmation at fresh seeds"  # confirm.md starts with it: a file without it is not ours
CONFIRM_VERDICTS = ("confirmed", "reversed", "inconclusive")
CONFIRM_COLUMNS = [
    "found",
    "found_ops",
    "preset",
    "preset_ops",
    "search_diff",
    "seeds",
    "found_top1",
    "preset_top1",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p_value",
    "verdict",
    "p_adjusted",
    "verdict_fdr",
]
_FROM_CLAIMS = {"reproduced": "confirmed", "contradicted": "reversed", "inconclusive": "inconclusive"}


def fresh_seeds(search_seed: int, search_seeds: int, n: int) -> list[int]:
    """The first ``n`` seeds (from 0) that a search run with ``--seed search_seed --seeds search_seeds``
    never used: it selected its data with ``search_seed`` and trained with ``search_seed`` to
    ``search_seed + search_seeds - 1``."""
    used = set(range(search_seed, search_seed + search_seeds))
    out, s = [], 0
    while len(out) < n:
        if s not in used:
            out.append(s)
        s += 1
    return out


def confirm_table(
    scores: Mapping[tuple[str, int], float], found: Sequence[Mapping], presets: Sequence[Mapping], seeds: Sequence[int]
) -> pd.DataFrame:
    """One row per (found, preset) pair. ``scores``: validation top-1 (0..1) per (arch, seed);
    ``found`` and ``presets``: ``arch, ops, top1`` (top-1 at the search's own seed) and, for presets,
    ``preset`` (the name). Differences are in points of top-1; a seed that either side lacks (or
    whose run errored: NaN) is left out of that pair."""
    rows = []
    for f in found:
        for p in presets:
            both = [
                s
                for s in seeds
                if math.isfinite(scores.get((f["arch"], s), math.nan))
                and math.isfinite(scores.get((p["arch"], s), math.nan))
            ]  # a run that errored: left out
            x = [100 * scores[(f["arch"], s)] for s in both]
            y = [100 * scores[(p["arch"], s)] for s in both]
            diffs = [a - b for a, b in zip(x, y, strict=True)]
            mean, low, high = seed_interval(diffs)
            search_diff = 100 * (float(f["top1"]) - float(p["top1"]))
            rows.append(
                {
                    "found": f["arch"],
                    "found_ops": float(f["ops"]),
                    "preset": p["preset"],
                    "preset_ops": float(p["ops"]),
                    "search_diff": round(search_diff, 2),
                    "seeds": " ".join(map(str, both)),
                    "found_top1": " / ".join(f"{v:.2f}" for v in x),
                    "preset_top1": " / ".join(f"{v:.2f}" for v in y),
                    "mean_diff": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "p_value": seed_p_value(diffs),
                    "verdict": _FROM_CLAIMS[verdict(search_diff, mean, low, high)],
                }
            )
    table = pd.DataFrame(rows, columns=[c for c in CONFIRM_COLUMNS if c not in ("p_adjusted", "verdict_fdr")])
    table["verdict_fdr"], table["p_adjusted"] = fdr_verdicts(list(table["verdict"]), list(table["p_value"]))
    return table[CONFIRM_COLUMNS]


def _num(v: float, fmt: str = "+.2f") -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, fmt)


def confirm_markdown(table: pd.DataFrame, format_ops) -> str:
    """The table as Markdown (``format_ops(ops)`` formats OPs)."""
    lines = [
        "| found | preset | search's lead | fresh seeds | found top-1 | preset top-1 | difference [95% CI] | p |"
        " verdict | after FDR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        ci = f"{_num(r['mean_diff'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
        lines.append(
            f"| `{r['found']}` ({format_ops(r['found_ops'])}) | {r['preset']} ({format_ops(r['preset_ops'])})"
            f" | {_num(r['search_diff'])} | {r['seeds'] or '-'} | {r['found_top1'] or '-'} |"
            f" {r['preset_top1'] or '-'} | {ci} | {_num(r['p_value'], '.2g')} | {r['verdict']} |"
            f" {r['verdict_fdr']} |"
        )
    return "\n".join(lines) + "\n"
