"""python -m proxies.calibrate: per-table correlations, CSV cache and resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import proxies.calibration.calibrate as cal
from proxies.calibration.calibrate import correlations, main


def _paper_csv(path):
    rows = [
        # table 1: three architectures, published order matches the 'params' proxy's order.
        ("sp", 7, "bin_mobilenet_sp_w0.5_d1", 51.4),
        ("sp", 7, "bin_mobilenet_sp_w1.0_d1", 61.2),
        ("sp", 7, "bin_mobilenet_sp_w2.0_d1", 64.8),
        # table 2: the same architecture twice: no correlation defined.
        ("sp", 5, "bin_mobilenet_sp_e200", 59.9),
        ("sp", 5, "bin_mobilenet_sp_e450", 61.2),
    ]
    pd.DataFrame(rows, columns=["source", "table", "name", "top1"]).to_csv(path, index=False)
    return path


def test_paper_calibration_with_a_zero_cost_proxy(tmp_path, image_folder, capsys, monkeypatch):
    csv = _paper_csv(tmp_path / "paper.csv")
    out = tmp_path / "rows.csv"
    calls = []
    real = cal.run_proxy
    monkeypatch.setattr(cal, "run_proxy", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    args = ["--against", "paper", "--data-dir", str(image_folder), "--proxy", "params",
            "--paper-csv", str(csv), "--out", str(out), "--train-subset", "100", "--val-size", "50", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    groups = {g["group"]: g for g in summary["groups"]}
    assert groups["sp-T7"]["spearman"] == pytest.approx(1.0) and groups["sp-T7"]["kendall"] == pytest.approx(1.0)
    assert groups["sp-T5"]["archs"] == 1 and pd.isna(groups["sp-T5"]["spearman"])
    assert summary["spearman"] == pytest.approx(1.0) and summary["rows_used"] == 3
    rows = pd.read_csv(out)
    assert len(rows) == 5 and set(rows["preset"]) >= {"bin_mobilenet_sp_w2.0_d1"}
    assert len(calls) == 3  # the shared architecture of table 5 is evaluated once (it is w1.0_d1)
    # Resume: nothing is evaluated again.
    calls.clear()
    assert main(args) == 0
    assert calls == []


def test_correlations_are_within_tables_only():
    df = pd.DataFrame({
        "table": ["a", "a", "a", "b", "b", "b"],
        "arch": list("uvwxyz"),
        "top1": [1, 2, 3, 70, 80, 90],
        "score": [3, 2, 1, 1, 2, 3],
    })
    summary = correlations(df, "top1", "score", "table")
    by = {g["group"]: g for g in summary["groups"]}
    assert by["a"]["spearman"] == pytest.approx(-1) and by["b"]["spearman"] == pytest.approx(1)
    assert summary["spearman"] == pytest.approx(0.0)  # pooling would have given +0.77


def test_bad_paper_csv_and_out(tmp_path, image_folder, capsys):
    assert main(["--paper-csv", str(tmp_path / "missing.csv"), "--data-dir", str(image_folder)]) == 2
    assert "missing.csv" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["--paper-csv", str(bad), "--data-dir", str(image_folder)]) == 2
    assert "lacks the column" in capsys.readouterr().err
    assert main(["--proxy", "magic", "--data-dir", str(image_folder)]) == 2
    assert main(["--out", str(tmp_path), "--paper-csv", str(_paper_csv(tmp_path / "p.csv")),
                 "--data-dir", str(image_folder)]) == 2
    assert "is not a file" in capsys.readouterr().err


@pytest.mark.slow
def test_reference_calibration(tmp_path, image_folder, capsys, monkeypatch):
    """A cheap zero-cost proxy against a (tiny) training reference on three sampled archs."""
    from proxies.scoring import fidelity as fid

    monkeypatch.setitem(fid.FIDELITIES, "tiny", fid.Fidelity(epochs=1, train_subset=100, val_size=50,
                                                             batch_size=32, width_scale=0.5))
    out = tmp_path / "ref.csv"
    args = ["--against", "reference", "--data-dir", str(image_folder), "--proxy", "params", "--n", "3",
            "--fidelity", "tiny", "--reference-fidelity", "tiny", "--max-ops", "60e6", "--out", str(out), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["groups"][0]["rows"] == 3 and summary["against"] == "reference"
    rows = pd.read_csv(out)
    assert rows["top1"].between(0, 1).all() and (tmp_path / "ref-reference.csv").is_file()


def test_the_shipped_papers_tables_are_the_shared_ones(paper_tables):
    """binas ships the papers' tables as package data (so an installed copy needs no ../shared): kept equal."""
    import pandas as pd

    from proxies.calibration.calibrate import default_paper_csv

    shipped = pd.read_csv(default_paper_csv())
    pd.testing.assert_frame_equal(shipped, paper_tables)


def test_the_papers_own_figures_need_no_images(tmp_path, capsys, monkeypatch):
    """``--proxy ops`` (or params) against the shipped papers' tables, with no data named and no
    ``NAS_DATA_DIR``: no image is looked for (none could be downloaded here), and the scores are the
    architectures' own analytic figures."""
    from search_space import PRESETS, analytic_cost

    monkeypatch.delenv("NAS_DATA_DIR", raising=False)
    for name in ("resolve_data_dir", "prepare_data"):
        monkeypatch.setattr(cal, name, lambda *a, **k: pytest.fail("looked for images"))
    out = tmp_path / "ops.csv"
    assert main(["--against", "paper", "--proxy", "ops", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = pd.read_csv(out)
    assert (rows["data"] == "none").all() and summary["rows_used"] > 10
    sp = rows[rows["preset"] == "bin_mobilenet_sp"].iloc[0]
    assert sp["score"] == analytic_cost(PRESETS["bin_mobilenet_sp"].arch).ops()
