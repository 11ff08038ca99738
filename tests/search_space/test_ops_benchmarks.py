"""search_space.ops_vs_paper (benchmarks/ops_vs_paper.py) and search_space.ops_speed
(benchmarks/analytic_ops_speed.py): the papers' published OPs next to ours, and the analytic counter's speed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from search_space import count_ops, ops_speed, ops_vs_paper, preset_for_paper_row

PAPER_CSV = Path(__file__).resolve().parents[2] / "proxies" / "calibration" / "paper_tables.csv"  # rows the papers give


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """fvcore counts on one thread (on a busy machine, several make each count seconds slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _paper_rows(folder: Path, names: list[str]) -> Path:
    table = pd.read_csv(PAPER_CSV)
    path = folder / "paper.csv"
    table[table["name"].isin(names)].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    """Two rows of the papers' table that give OPs (Sp's Table 5 and MoBiNet's pre_k0) and one that does not,
    compared once (fvcore counts take seconds)."""
    return ops_vs_paper.compare(_paper_rows(tmp_path_factory.mktemp("paper"),
                                            ["bin_mobilenet_sp_e450", "pre_k0", "binary_1x1"]))


def test_compare_puts_both_conventions_next_to_the_published_figure(rows):
    assert [r["row"] for r in rows] == ["bin_mobilenet_sp_e450", "pre_k0"]  # binary_1x1 publishes no OPs
    for r in rows:
        preset = preset_for_paper_row(r["row"])
        bireal, with_bn = count_ops(preset.arch, convention="bireal"), count_ops(preset.arch, convention="with-bn")
        assert r["preset"] == preset.name and r["bireal_m"] == bireal.ops / 1e6 and r["with_bn_m"] == with_bn.ops / 1e6
        assert r["bireal_rel"] == pytest.approx(r["bireal_m"] / r["published_m"] - 1)
        assert r["with_bn_rel"] == pytest.approx(r["with_bn_m"] / r["published_m"] - 1)
        assert r["fp_macs_m"] + r["binary_macs_m"] > 0
    assert rows[0]["published_m"] == 52.0 and (rows[0]["source"], rows[0]["table"]) == ("sp", 5)


def test_markdown_has_one_line_per_row(rows):
    lines = ops_vs_paper.markdown(rows).splitlines()
    assert lines[0].startswith("| paper | table | row | preset | published |") and len(lines) == 2 + len(rows)
    assert lines[2].startswith(f"| sp | 5 | bin_mobilenet_sp_e450 | `{rows[0]['preset']}` | 52.00M |")


def test_ops_vs_paper_main_prints_and_writes_json(tmp_path, capsys):
    out, csv = tmp_path / "o.json", _paper_rows(tmp_path, ["pre_k0", "binary_1x1"])
    assert ops_vs_paper.main(["--csv", str(csv), "--json", str(out)]) == 0
    assert [r["row"] for r in json.loads(out.read_text())] == ["pre_k0"]
    printed = capsys.readouterr().out
    assert printed.startswith("| paper |") and printed.endswith(f"\nwrote {out}\n")


def test_ops_vs_paper_without_its_csv_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert ops_vs_paper.main(["--csv", str(tmp_path / "missing.csv"), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --csv: ") and not out.exists()


def test_ops_speed_times_sampling_and_counting(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert ops_speed.main(["--n", "50", "--fvcore-n", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["n"], result["fvcore_n"]) == (50, 1) and 0 <= result["under_50M"] <= 50
    assert result["total_s"] == pytest.approx(result["sample_s"] + result["analytic_s"])
    assert result["archs_per_s"] == pytest.approx(50 / result["total_s"]) and result["fvcore_s_per_arch"] > 0
    printed = capsys.readouterr().out
    assert "50 samples, " in printed and printed.endswith(f"wrote {out}\n")
