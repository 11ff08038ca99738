"""proxies.calibration.summary_table (benchmarks/calibration_table.py): the calibrate summaries side by side."""

from __future__ import annotations

import json

from proxies.calibration.summary_table import main, markdown


def _summary(proxy: str, groups: list[tuple], spearman: float, kendall: float, wall: float) -> dict:
    return {"proxy": proxy, "spearman": spearman, "kendall": kendall, "wall_seconds": wall,
            "groups": [{"group": g, "rows": r, "archs": a, "spearman": s, "kendall": k} for g, r, a, s, k in groups]}


SUMMARIES = [
    _summary("synflow", [("sp/2", 4, 4, 0.5, 0.333), ("mobinet/3", 9, 6, float("nan"), None)], 0.4, 0.3, 12.4),
    _summary("train", [("sp/2", 3, 3, -0.25, -0.2)], 0.1, 0.05, 3600.0),
]


def test_one_row_per_table_and_one_column_per_proxy():
    lines = markdown(SUMMARIES).splitlines()
    assert lines[0] == "| table | rows | archs | synflow rho / tau | train rho / tau |"
    assert lines[1] == "| --- | ---: | ---: | --- | --- |"
    assert lines[2] == "| sp/2 | 4 | 4 | +0.50 / +0.33 | -0.25 / -0.20 (n=3) |"  # fewer rows than the fullest
    assert lines[3] == "| mobinet/3 | 9 | 6 | n/a / n/a | not run |"
    assert lines[4] == "| **row-weighted mean** | | | **+0.40 / +0.30** | **+0.10 / +0.05** |"
    assert lines[5] == "| wall time | | | 12 s | 3600 s |" and len(lines) == 6


def test_main_prints_the_table_of_the_files(tmp_path, capsys):
    paths = []
    for s in SUMMARIES:
        paths.append(tmp_path / f"{s['proxy']}.json")
        paths[-1].write_text(json.dumps(s))
    assert main([str(p) for p in paths]) == 0
    assert capsys.readouterr().out == markdown([json.loads(p.read_text()) for p in paths]) + "\n"


def test_no_summary_is_the_usage_line_and_exit_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err == "usage: calibration_table.py SUMMARY.json [...]\n"
