"""proxies.scoring.memory_format (benchmarks/memory_format.py): the two formats timed side by side, its JSON,
and bad input."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def bench():
    import torch

    import proxies.scoring.memory_format as module

    threads = torch.get_num_threads()
    yield module
    torch.set_num_threads(threads)  # --threads sets torch's process-wide thread count


def test_times_both_formats_of_the_same_network(bench, tmp_path, capsys, monkeypatch):
    import torch

    seen = []  # (input channels_last, first conv weight channels_last) of every timed or warm-up step
    step = bench.timed_step

    def spy(model, opt, x, y):
        w = next(p for p in model.parameters() if p.dim() == 4)
        seen.append((x.is_contiguous(memory_format=torch.channels_last),
                     w.is_contiguous(memory_format=torch.channels_last)))
        return step(model, opt, x, y)

    monkeypatch.setattr(bench, "timed_step", spy)
    out = tmp_path / "mf.json"
    assert bench.main(["--archs", "mobilenet_v1,bin_mobilenet_sp_w0.5_d1", "--steps", "1", "--batch", "4",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [r["arch"] for r in rows] == ["mobilenet_v1", "bin_mobilenet_sp_w0.5_d1"]
    assert all(r["nchw_ms"] > 0 and r["nhwc_ms"] > 0 and r["speedup"] == pytest.approx(r["nchw_ms"] / r["nhwc_ms"])
               for r in rows)
    assert rows[0]["max_logit_diff"] < 1e-3  # the same initialisation: one function, two layouts
    assert sorted(set(seen)) == [(False, False), (True, True)] and seen.count((True, True)) == len(seen) // 2
    s = result["summary"]
    assert s["archs"] == 2 and s["slower_in_nhwc"] == sum(r["speedup"] < 1 for r in rows)
    assert s["total_speedup"] == pytest.approx(sum(r["nchw_ms"] for r in rows) / sum(r["nhwc_ms"] for r in rows))
    assert "summed step time NCHW/NHWC" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "needle"), [(["--archs", "no_such_preset"], "no_such_preset"),
                                               (["--steps", "0"], "--steps"), (["--resolution", "0"], "--resolution")])
def test_bad_input_one_line_exit_2(bench, tmp_path, capsys, args, needle):
    out = tmp_path / "mf.json"
    assert bench.main([*args, "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and not out.exists()
