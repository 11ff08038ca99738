"""The report's *Key choices* section: shares, the rediscovery verdict and the rank correlation,
on synthetic trials tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nas.report.choices import (
    KEY_CHOICES,
    choice_share,
    key_choice_lines,
    key_choice_rows,
    key_choices_in,
    partial_spearman,
    random_shares,
)
from nas.report.records import choice_row
from search_space import NUM_STAGES, ArchConfig, SearchSpace, get_space

SP = "S-none-k0-2xdw-relu-pw"
L_ALL = "L-none-k0-relu-all"
MID = "L-mid-k4-prelu-all"
CHOICE = {c.label: c for c in KEY_CHOICES}
OPS = {c.preset: 32e6 if c.paper == "MoBiNet" else 45e6 for c in KEY_CHOICES}


def _row(stages: list[str], top1: float, ops: float, outcome: str = "trained", width: float = 1.0) -> dict:
    arch = ArchConfig.decode(f"w{width}-d1:" + ":".join(stages))
    return {"arch": arch.encode(), "outcome": outcome, "top1": top1, "ops": ops, **choice_row(arch)}


def _mixed(n_sp: int) -> list[str]:
    """A per-stage architecture whose first ``n_sp`` stages are Sp blocks, the rest cascade."""
    return [SP] * n_sp + [L_ALL] * (NUM_STAGES - n_sp)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def _by_label(rows: list[dict]) -> dict:
    return {r["choice"]: r for r in rows}


def test_choice_share_counts_stages():
    f = _frame([_row(_mixed(n), 0.1, 1e6) for n in range(NUM_STAGES + 1)])
    assert choice_share(f, CHOICE["parallel DW/PW, binary 1x1 only"]).tolist() == [n / 5 for n in range(6)]
    assert choice_share(f, CHOICE["binary 1x1 only"]).tolist() == [n / 5 for n in range(6)]
    assert choice_share(f, CHOICE["Mid block"]).tolist() == [0.0] * 6
    # K >= 3 and PReLU and Mid all at once: only the MoBiNet Mid K4 stages count.
    g = _frame([_row([MID] * 2 + ["L-mid-k1-prelu-all", "L-mid-k4-relu-all", MID], 0.1, 1e6)])
    assert choice_share(g, CHOICE["Mid block, K >= 3, PReLU"]).tolist() == [0.6]
    assert choice_share(g, CHOICE["Mid block"]).tolist() == [1.0]


def test_rediscovered_when_the_front_model_near_the_paper_has_it_everywhere():
    rows = [_row([SP] * 5, 0.40, 44e6), _row([MID] * 5, 0.30, 31e6), _row([L_ALL] * 5, 0.10, 20e6),
            _row([L_ALL] * 5, 0.35, 60e6, width=1.5), _row(_mixed(2), 0.05, 44e6, outcome="pruned")]
    trials = _frame(rows)
    front = trials.iloc[[2, 1, 0]].reset_index(drop=True)  # by OPs; the w1.5 one is over a 50M budget
    out = _by_label(key_choice_rows(trials, front, rows[0], OPS))
    sp = out["parallel DW/PW, binary 1x1 only"]
    assert sp["verdict"] == "rediscovered" and sp["near_arch"] == rows[0]["arch"] and sp["near_ops"] == 44e6
    assert sp["trained"] == 4 and sp["trained_share"] == pytest.approx(0.25)  # the pruned trial is left out
    assert sp["front_share"] == pytest.approx(1 / 3) and sp["best_share"] == 1.0
    mid = out["Mid block, K >= 3, PReLU"]
    assert mid["verdict"] == "rediscovered" and mid["near_arch"] == rows[1]["arch"]  # 31M is nearest 32M
    assert mid["best_share"] == 0.0 and mid["preset_ops"] == 32e6
    assert out["PReLU"]["verdict"] == "rediscovered"


def test_nearest_is_on_a_log_scale_and_partial_shares():
    rows = [_row(_mixed(2), 0.40, 48e6), _row([L_ALL] * 5, 0.20, 20e6)]
    trials = _frame(rows)
    out = _by_label(key_choice_rows(trials, trials.iloc[[1, 0]], rows[0], OPS))
    # MoBiNet's 32M: 20M is nearer in OPs (12M vs 16M away) but 48M is nearer as a ratio (1.5x vs 1.6x).
    assert out["Mid block"]["near_arch"] == rows[0]["arch"]
    assert out["parallel DW/PW, binary 1x1 only"]["verdict"] == "partly"
    assert out["parallel DW/PW, binary 1x1 only"]["near_share"] == pytest.approx(0.4)
    assert out["Mid block"]["verdict"] == "not found"


@pytest.mark.parametrize("sign", [1, -1])
def test_rank_correlation_known_answers(sign):
    rows = [_row(_mixed(n), 0.2 + sign * 0.05 * n, 30e6 + n) for n in range(NUM_STAGES + 1)]
    trials = _frame(rows)
    out = _by_label(key_choice_rows(trials, trials, rows[0], OPS))
    assert out["parallel DW/PW"]["rho"] == pytest.approx(sign)
    assert out["parallel DW/PW"]["p"] < 0.01
    assert out["Mid block"]["rho"] is None  # no architecture has it: share is constant


def test_no_front_and_no_trained():
    empty = _frame([_row([SP] * 5, None, 44e6, outcome="pruned")])
    rows = key_choice_rows(empty, empty.iloc[0:0], None, OPS)
    assert all(r["verdict"] == "no front" and r["trained"] == 0 and r["trained_share"] is None for r in rows)
    lines = key_choice_lines(rows, lambda ops: f"{ops / 1e6:.1f}M")
    assert lines[0] == "## The papers' key choices" and len(lines) == 6 + len(KEY_CHOICES) + 1


def test_markdown_row():
    rows = [_row([SP] * 5, 0.40, 44e6), _row([MID] * 5, 0.30, 31e6)]
    trials = _frame(rows)
    out = key_choice_rows(trials, trials.iloc[[1, 0]], rows[0], OPS)
    text = "\n".join(key_choice_lines(out, lambda ops: f"{ops / 1e6:.1f}M"))
    sp = "| parallel DW/PW, binary 1x1 only | MobileNet-Sp (bin_mobilenet_sp, 45.0M) | - | 50% of 2 | 50% | 100% |"
    assert sp in text
    assert "100% (#2, 44.0M) | rediscovered |" in text


def test_partial_spearman_known_answers():
    rng = np.random.default_rng(0)
    x, z = rng.permutation(20).astype(float), rng.permutation(20).astype(float)
    y = x + 0.5 * z
    r, p = partial_spearman(x, y, z)
    # the textbook formula on Spearman coefficients gives the same value
    rxy, rxz, ryz = (stats.spearmanr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    assert r == pytest.approx((rxy - rxz * ryz) / np.sqrt((1 - rxz**2) * (1 - ryz**2)))
    assert r > 0.8 and p < 1e-4
    assert partial_spearman(x, -y, z)[0] == pytest.approx(-r)
    # y that only follows z: taken out, nothing is left
    assert partial_spearman(x, 3 * z, z) is None
    assert partial_spearman([1, 2, 3], [3, 1, 2], [1, 2, 3]) is None  # too few points
    assert partial_spearman([1, 1, 1, 1], [1, 2, 3, 4], [4, 1, 3, 2]) is None  # constant


def test_equal_ops_removes_a_cost_effect():
    """Top-1 that follows OPs alone, and a choice that costs OPs: plain rho is high, at equal OPs it is not."""
    rows = []
    for n in range(NUM_STAGES + 1):
        for k, extra in enumerate((0.0, 0.5, 1.0)):
            ops = 20e6 + 4e6 * n + 1e6 * k  # each Sp stage adds OPs
            rows.append(_row(_mixed(n), 0.2 + ops / 1e9 + 0.001 * extra * (-1) ** (n + k), ops))
    trials = _frame(rows)
    trials["arch"] = [f"a{i}" for i in range(len(trials))]  # distinct architectures with the same stages
    out = _by_label(key_choice_rows(trials, trials.iloc[[0]], None, OPS))["parallel DW/PW"]
    assert out["rho"] > 0.9
    assert abs(out["rho_ops"]) < 0.5


def test_no_verdict_when_the_front_is_far_from_the_paper():
    rows = [_row(_mixed(2), 0.40, 14e6)]  # a 20M budget: Sp (45M) is 3x away
    trials = _frame(rows)
    out = _by_label(key_choice_rows(trials, trials, rows[0], OPS))
    assert out["parallel DW/PW"]["verdict"] == "no front model near" and out["parallel DW/PW"]["near_share"] == 0.4


def test_elsewhere_on_the_front():
    """The search found MoBiNet's choice at another width: the nearest front model in OPs lacks it."""
    rows = [_row([MID.replace("L-", "S-").replace("prelu", "crelu-prelu")] * 5, 0.29, 12.8e6, width=0.5),
            _row([SP.replace("relu-pw", "prelu-all")] * 5, 0.30, 46e6, width=1.25)]
    trials = _frame(rows)
    out = _by_label(key_choice_rows(trials, trials, rows[1], OPS))
    mid = out["Mid block, K >= 3, PReLU"]
    assert mid["near"] == 2 and mid["near_share"] == 0 and mid["front_full"] == [1]
    assert mid["verdict"] == "elsewhere on the front"
    assert out["PReLU"]["verdict"] == "rediscovered" and out["PReLU"]["front_full"] == [1, 2]
    text = "\n".join(key_choice_lines(list(out.values()), lambda ops: f"{ops / 1e6:.1f}M"))
    assert "| elsewhere on the front (#1) |" in text


def test_random_shares_chance_levels():
    calls = []

    def free(arch):  # no budget bites: the shares are the space's own
        calls.append(arch)
        return 0.0

    shares = random_shares(SearchSpace(per_stage=False), 1e9, free, ("test-free",))
    # uniform space, choices drawn independently: 1 of 3 topologies, 1 of 3 scopes, 1 of 4 placements, 1 of 2
    for label, p in (("parallel DW/PW", 1 / 3), ("binary 1x1 only", 1 / 3), ("parallel DW/PW, binary 1x1 only", 1 / 9),
                     ("Mid block", 1 / 4), ("PReLU", 1 / 2)):
        assert abs(shares[label] - p) < 4 * (p * (1 - p) / 300) ** 0.5, label
    n = len(calls)
    assert random_shares(SearchSpace(per_stage=False), 1e9, free, ("test-free",)) is shares and len(calls) == n
    assert random_shares(SearchSpace(), 1.0, lambda a: 1e6, ("test-nothing-fits",)) is None
    rows = key_choice_rows(_frame([_row([SP] * 5, 0.4, 44e6)]), _frame([]), None, OPS, shares)
    assert [r["random_share"] for r in rows] == [shares[c.label] for c in KEY_CHOICES]


def test_a_paper_space_has_only_the_key_choices_it_can_hold():
    assert [c.label for c in key_choices_in(get_space("mobinet"))] == ["Mid block, K >= 3, PReLU", "Mid block",
                                                                        "K >= 3", "PReLU"]
    assert [c.label for c in key_choices_in(get_space("sp"))] == ["parallel DW/PW, binary 1x1 only",
                                                                   "parallel DW/PW", "binary 1x1 only"]
    assert key_choices_in(SearchSpace()) == KEY_CHOICES
    shares = random_shares(get_space("mobinet"), 1e9, lambda a: 0.0, ("test-mobinet",))
    assert set(shares) == {"Mid block, K >= 3, PReLU", "Mid block", "K >= 3", "PReLU"}
