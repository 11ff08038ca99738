"""The seed papers' claims, as comparisons our evaluator can repeat.

A :class:`Claim` says that the architectures of side ``a`` beat those of side ``b`` (rows of
``paper_tables.csv``, named ``source:table:name``). Its paper difference is the mean published
top-1 of ``a`` minus that of ``b`` (points). Ours is the same difference of the evaluator's scores
(validation top-1 of the proxy, in points), once per training seed; see :mod:`nas.analyze.stats`
for the interval and the verdict.

``match_ops``: the claim is about design at equal cost, so each ``b[i]`` is trained at the width
(two decimals) whose OPs come closest to those of ``a[i]`` (``a`` and ``b`` are then paired).
``kind="per_op"`` (Sp Table 7's "depth is the cheaper of the two per OP"): ``a`` = (base, deeper),
``b`` = (base, wider); the difference is (gain of depth per M OPs) - (gain of width per M OPs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from proxies.stats import seed_interval, seed_p_value
from search_space import ArchConfig, analytic_cost, preset_for_paper_row
from search_space.arch import WIDTH_RANGE

from .stats import fdr_verdicts, verdict

__all__ = ["CLAIMS", "CLAIM_COLUMNS", "Claim", "claim_archs", "claims_table", "match_width", "paper_top1"]

CLAIM_COLUMNS = [
    "claim",
    "source",
    "paper_diff",
    "ours_mean_diff",
    "ours_ci_low",
    "ours_ci_high",
    "seeds",
    "verdict",
    "p_value",
    "p_adjusted",
    "verdict_fdr",
    "unit",
    "text",
    "a_archs",
    "b_archs",
    "fidelity",
]


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    source: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    match_ops: bool = False
    kind: str = "diff"  # diff | per_op

    @property
    def unit(self) -> str:
        return "points per M OPs" if self.kind == "per_op" else "points"


def _rows(source: str, table: int, *names: str) -> tuple[str, ...]:
    return tuple(f"{source}:{table}:{n}" for n in names)


_KS = range(4)
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "sp_beats_l_binary",
        "binarized MobileNet-Sp beats binarized MobileNet-L (L widened to Sp's OPs)",
        "Sp Table 4",
        _rows("sp", 4, "bin_mobilenet_sp"),
        _rows("sp", 4, "bin_mobilenet_l"),
        match_ops=True,
    ),
    Claim(
        "fp_l_beats_sp",
        "in full precision, MobileNet-L beats MobileNet-Sp",
        "Sp Table 3",
        _rows("sp", 3, "mobilenet_l_fp"),
        _rows("sp", 3, "mobilenet_sp_fp"),
    ),
    Claim(
        "fp_ls_beats_l",
        "in full precision, MobileNet-LS beats MobileNet-L",
        "Sp Table 3",
        _rows("sp", 3, "mobilenet_ls_fp"),
        _rows("sp", 3, "mobilenet_l_fp"),
    ),
    Claim(
        "fp_ls_beats_sp",
        "in full precision, MobileNet-LS beats MobileNet-Sp",
        "Sp Table 3",
        _rows("sp", 3, "mobilenet_ls_fp"),
        _rows("sp", 3, "mobilenet_sp_fp"),
    ),
    Claim(
        "2xdw_beats_crelu",
        "2xDW expansion beats CReLU",
        "Sp Table 6",
        _rows("sp", 6, "bin_mobilenet_sp_2xdw"),
        _rows("sp", 6, "bin_mobilenet_sp_crelu"),
    ),
    Claim(
        "crelu_beats_copy",
        "CReLU expansion beats Copy",
        "Sp Table 6",
        _rows("sp", 6, "bin_mobilenet_sp_crelu"),
        _rows("sp", 6, "bin_mobilenet_sp_copy"),
    ),
    Claim(
        "binary_pw_beats_all",
        "binarizing the 1x1 convs only beats binarizing every layer",
        "Sp Table 2",
        _rows("sp", 2, "binary_1x1"),
        _rows("sp", 2, "binary_all_layers"),
    ),
    Claim(
        "prelu_beats_relu",
        "PReLU beats ReLU (Mid, K = 0..3)",
        "MoBiNet Tables 2-3",
        _rows("mobinet", 3, *(f"mid_k{k}" for k in _KS)),
        _rows("mobinet", 2, *(f"mid_k{k}_relu" for k in _KS)),
    ),
    Claim(
        "k3_beats_k1",
        "a larger K gives higher accuracy: K = 3 beats K = 1 (Pre, Mid, Post; at equal OPs)",
        "MoBiNet Table 3",
        _rows("mobinet", 3, "pre_k3", "mid_k3", "post_k3"),
        _rows("mobinet", 3, "pre_k1", "mid_k1", "post_k1"),
        match_ops=True,
    ),
    Claim(
        "k1_beats_k0",
        "K = 1 beats K = 0 (Pre, Mid, Post; at equal OPs)",
        "MoBiNet Table 3",
        _rows("mobinet", 3, "pre_k1", "mid_k1", "post_k1"),
        _rows("mobinet", 3, "pre_k0", "mid_k0", "post_k0"),
        match_ops=True,
    ),
    Claim(
        "mid_beats_pre",
        "Mid beats Pre (K = 0..3, at equal OPs)",
        "MoBiNet Table 3",
        _rows("mobinet", 3, *(f"mid_k{k}" for k in _KS)),
        _rows("mobinet", 3, *(f"pre_k{k}" for k in _KS)),
        match_ops=True,
    ),
    Claim(
        "pre_beats_post",
        "Pre beats Post (K = 0..3, at equal OPs)",
        "MoBiNet Table 3",
        _rows("mobinet", 3, *(f"pre_k{k}" for k in _KS)),
        _rows("mobinet", 3, *(f"post_k{k}" for k in _KS)),
        match_ops=True,
    ),
    Claim(
        "pre_block_beats_none",
        "a Pre block beats no block (at equal OPs)",
        "MoBiNet Table 1",
        _rows("mobinet", 1, "pre_block_k0"),
        _rows("mobinet", 1, "no_block_k0"),
        match_ops=True,
    ),
    Claim(
        "wider_is_better",
        "wider is better: width 1.0 beats 0.5 (depth 1)",
        "Sp Table 7",
        _rows("sp", 7, "bin_mobilenet_sp_w1.0_d1"),
        _rows("sp", 7, "bin_mobilenet_sp_w0.5_d1"),
    ),
    Claim(
        "deeper_is_better",
        "deeper is better: depth 2 beats depth 1 (width 1.0)",
        "Sp Table 7",
        _rows("sp", 7, "bin_mobilenet_sp_w1.0_d2"),
        _rows("sp", 7, "bin_mobilenet_sp_w1.0_d1"),
    ),
    Claim(
        "depth_cheaper_per_op",
        "depth buys more top-1 per OP than width (w1.0/d1 to d2 vs to w2.0)",
        "Sp Table 7",
        _rows("sp", 7, "bin_mobilenet_sp_w1.0_d1", "bin_mobilenet_sp_w1.0_d2"),
        _rows("sp", 7, "bin_mobilenet_sp_w1.0_d1", "bin_mobilenet_sp_w2.0_d1"),
        kind="per_op",
    ),
)


def ops_of(arch: ArchConfig) -> float:
    return analytic_cost(arch).ops()


def match_width(arch: ArchConfig, target_ops: float) -> ArchConfig:
    """``arch`` at the width (two decimals, within WIDTH_RANGE) whose OPs come closest to ``target_ops``."""
    lo, hi = int(round(WIDTH_RANGE[0] * 100)), int(round(WIDTH_RANGE[1] * 100))
    while hi - lo > 1:  # OPs grow with width: bisect on hundredths
        mid = (lo + hi) // 2
        if ops_of(replace(arch, width=mid / 100)) < target_ops:
            lo = mid
        else:
            hi = mid
    options = [replace(arch, width=w / 100) for w in (lo, hi)]
    return min(options, key=lambda a: abs(ops_of(a) - target_ops))


def _arch(row: str) -> ArchConfig:
    return preset_for_paper_row(row.split(":", 2)[2]).arch


def claim_archs(claim: Claim) -> tuple[list[ArchConfig], list[ArchConfig]]:
    """The architectures trained for each side (``b`` matched to ``a``'s OPs when the claim says so)."""
    a, b = [_arch(r) for r in claim.a], [_arch(r) for r in claim.b]
    if claim.match_ops:
        if len(a) != len(b):
            raise ValueError(f"claim {claim.key}: equal-OPs sides must pair up ({len(a)} vs {len(b)})")
        b = [match_width(y, ops_of(x)) for x, y in zip(a, b, strict=True)]
    return a, b


def paper_top1(paper: pd.DataFrame) -> dict[str, float]:
    """``source:table:name`` -> published top-1, from ``read_paper_table``."""
    return {f"{r['source']}:{int(r['table'])}:{r['name']}": float(r["top1"]) for r in paper.to_dict("records")}


def _difference(
    claim: Claim, a: Sequence[float], b: Sequence[float], a_ops: Sequence[float], b_ops: Sequence[float]
) -> float:
    """The claim's statistic from one set of accuracies (points) and OPs."""
    if claim.kind == "per_op":
        depth = (a[1] - a[0]) / ((a_ops[1] - a_ops[0]) / 1e6)
        width = (b[1] - b[0]) / ((b_ops[1] - b_ops[0]) / 1e6)
        return depth - width
    return float(np.mean(a) - np.mean(b))


def claims_table(
    scores: Mapping[tuple[str, int], float],
    seeds: Sequence[int],
    paper: Mapping[str, float],
    fidelity: str,
    claims: Sequence[Claim] = CLAIMS,
) -> pd.DataFrame:
    """One row per claim (``CLAIM_COLUMNS``). ``scores[(arch string, seed)]`` is the evaluator's
    score (a fraction); a claim uses the seeds for which every one of its architectures has one."""
    rows = []
    for c in claims:
        a, b = claim_archs(c)
        paper_a, paper_b = [paper[r] for r in c.a], [paper[r] for r in c.b]
        paper_ops_a, paper_ops_b = [ops_of(_arch(r)) for r in c.a], [ops_of(_arch(r)) for r in c.b]
        paper_diff = _difference(c, paper_a, paper_b, paper_ops_a, paper_ops_b)
        ops_a, ops_b = [ops_of(x) for x in a], [ops_of(x) for x in b]
        per_seed = []
        for s in seeds:
            got = [scores.get((x.encode(), s)) for x in a + b]
            if any(v is None or not np.isfinite(v) for v in got):
                continue
            per_seed.append(
                _difference(c, [100 * v for v in got[: len(a)]], [100 * v for v in got[len(a) :]], ops_a, ops_b)
            )
        mean, low, high = seed_interval(per_seed)
        # a claim the paper gives no direction cannot get a verdict: it stays out of the FDR family
        p_value = seed_p_value(per_seed) if np.isfinite(paper_diff) and paper_diff != 0 else np.nan
        rows.append(
            {
                "claim": c.key,
                "source": c.source,
                "paper_diff": round(paper_diff, 4),
                "ours_mean_diff": mean,
                "ours_ci_low": low,
                "ours_ci_high": high,
                "seeds": len(per_seed),
                "verdict": verdict(paper_diff, mean, low, high),
                "p_value": p_value,
                "unit": c.unit,
                "text": c.text,
                "a_archs": " ".join(x.encode() for x in a),
                "b_archs": " ".join(x.encode() for x in b),
                "fidelity": fidelity,
            }
        )
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    table["verdict_fdr"], table["p_adjusted"] = fdr_verdicts(table["verdict"].tolist(), table["p_value"].tolist())
    return table


def claims_markdown(table: pd.DataFrame) -> str:
    def num(v) -> str:
        return "n/a" if pd.isna(v) else f"{v:+.2f}"

    lines = [
        "| claim | source | paper | ours (mean) | 95% interval | seeds | verdict | after FDR |",
        "|---|---|---:|---:|---|---:|---|---|",
    ]
    for r in table.to_dict("records"):
        unit = " /M OPs" if r["unit"] != "points" else ""
        lines.append(
            f"| {r['text']} | {r['source']} | {num(r['paper_diff'])}{unit} | {num(r['ours_mean_diff'])} |"
            f" [{num(r['ours_ci_low'])}, {num(r['ours_ci_high'])}] | {r['seeds']} | {r['verdict']} |"
            f" {r['verdict_fdr']} |"
        )
    return "\n".join(lines) + "\n"
