"""Uncertainty in the product: pooled seed noise, standard errors, 'within the noise', report and plot."""

from __future__ import annotations

import math
from dataclasses import replace

import optuna
import pandas as pd
import pytest

from nas import TrialRunner, arch_params, open_study, pareto_plot_data, report_data, write_outputs
from nas.report.noise import StudyNoise, add_uncertainty, lead_within_noise, study_noise
from nas.study import default_storage
from proxies import ProxyResult, SeedNoise, pooled_sd
from search_space import PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_pooled_sd_known_answer():
    # (1, 3): squares 2, one dof; (2, 4, 6): squares 8, two dof; single and non-finite values add nothing
    sd, archs, runs = pooled_sd([[1, 3], [2, 4, 6], [5], [float("nan"), 7]])
    assert sd == pytest.approx(math.sqrt(10 / 3)) and (archs, runs) == (2, 5)
    assert pooled_sd([[1], []]) is None


def test_lead_within_noise_known_answers():
    assert lead_within_noise(0.50, 0.01, 0.48, 0.01)  # 2 points < 1.96 * 1.41
    assert not lead_within_noise(0.50, 0.01, 0.45, 0.01)  # 5 points > 2.77
    assert lead_within_noise(0.50, None, 0.45, 0.01) is None


def test_uncertainty_own_seeds_first_then_the_fidelity(monkeypatch):
    trials = pd.DataFrame({"top1": [0.5, 0.4, float("nan")], "top1_seeds": ["0.4000 0.5000 0.5000 0.6000", None, None],
                           "top1_sd": [0.0816, None, None]})
    noise = study_noise(trials, "e2-n3000-r32-ws1-b32-v2000")
    assert noise.sd == pytest.approx(pooled_sd([[0.4, 0.5, 0.5, 0.6]])[0]) and "this search's 1" in noise.source
    out = add_uncertainty(trials, noise)
    assert out["top1_sd"][0] == pytest.approx(0.0816)  # its own spread is shown
    assert out["top1_se"][0] == pytest.approx(noise.sd / 2)  # the pooled SD over sqrt(4 seeds)
    assert out["top1_se"][1] == pytest.approx(noise.sd)  # one seed: the study's noise
    assert pd.isna(out["top1_se"][2])  # nothing trained, no uncertainty
    # two equal seeds do not make a lead certain: the pooled noise, not their zero SD
    twin = pd.DataFrame({"top1": [0.61, 0.60], "top1_seeds": ["0.6100 0.6100", "0.5900 0.6100"],
                         "top1_sd": [0.0, 0.0141]})
    pooled = StudyNoise(0.01, "pooled")
    se = add_uncertainty(twin, pooled)["top1_se"]
    assert se.tolist() == pytest.approx([0.01 / math.sqrt(2)] * 2)
    assert lead_within_noise(0.61, se[0], 0.60, se[1])
    assert add_uncertainty(twin, StudyNoise(None, "none"))["top1_se"][1] == pytest.approx(0.0141 / math.sqrt(2))

    single = trials.assign(top1_seeds=None, top1_sd=None)
    monkeypatch.setattr("proxies.calibration.noise.SEED_NOISE", {"fid": SeedNoise(0.02, 10, 30, "test")})
    assert study_noise(single, "fid").sd == 0.02
    unknown = study_noise(single, "other")
    assert unknown.sd is None and "not measured" in unknown.source
    assert add_uncertainty(single, unknown)["top1_se"].isna().all()


@pytest.fixture
def two_seed_study(tmp_path, settings, monkeypatch):
    """Three presets trained with 2 seeds each; seed 1 scores 0.02 more than seed 0."""
    base = {"bin_mobilenet_sp": 0.40, "bin_mobilenet_l": 0.30, "mobinet_mid_k4_prelu": 0.395}

    def fake(arch, fidelity, data, seed=0, *, on_epoch=None, **kw):
        name = next(n for n in base if PRESETS[n].arch.encode() == arch.encode())
        top1 = base[name] + 0.02 * seed
        return ProxyResult(arch.encode(), fidelity.key(), seed, top1, 1.0, fidelity.epochs, 1.0, 10.0)

    monkeypatch.setattr("nas.objective.evaluate", fake)
    two = replace(settings, seeds=2)
    study, _ = open_study(default_storage(tmp_path), "s", two)
    runner = TrialRunner(study, two, data=None)
    for name in base:
        study.enqueue_trial(arch_params(PRESETS[name].arch, two.space), user_attrs={"seed_preset": name})
        runner.run(study.ask())
    return study


def test_report_shows_error_bars_and_says_when_a_lead_is_within_the_noise(two_seed_study, tmp_path):
    d = report_data(two_seed_study)
    sd = math.sqrt(2 * 0.01**2)  # every architecture's two seeds differ by 0.02
    assert d["noise"].sd == pytest.approx(sd)
    assert d["front"]["top1_se"].tolist() == pytest.approx([sd / math.sqrt(2)] * len(d["front"]))
    best = d["best"]
    assert best["arch"] == PRESETS["bin_mobilenet_sp"].arch.encode()
    seeds = {s["preset"]: s for s in d["seeds"] if "lead" in s}
    assert seeds["bin_mobilenet_sp"]["is_best"]
    assert seeds["mobinet_mid_k4_prelu"]["within_noise"]  # 0.5 points, SE of the difference 1.4
    assert seeds["bin_mobilenet_l"]["within_noise"] is False  # 10 points
    plot = pareto_plot_data(d["trials"], d["front"], 50e6)
    assert plot.front_err == pytest.approx([100 * sd / math.sqrt(2)] * len(plot.front))
    assert plot.seeds and plot.seeds_err == pytest.approx([100 * sd / math.sqrt(2)] * len(plot.seeds))
    out = tmp_path / "out"
    write_outputs(two_seed_study, out)
    md = (out / "report.md").read_text()
    assert "trained with 2 seeds" in md and "± 1.00" in md
    assert "Lead over mobinet_mid_k4_prelu: +0.50 points, within the noise." in md
    assert "Lead over bin_mobilenet_l: +10.00 points, beyond the noise." in md
    trials = pd.read_csv(out / "trials.csv")
    assert {"top1_seeds", "top1_sd", "top1_se", "screen_score"} <= set(trials.columns)


def test_no_measured_noise_is_said_not_invented(tmp_path, settings, fake_evaluate):
    study, _ = open_study(default_storage(tmp_path), "s", replace(settings, fidelity=replace(settings.fidelity,
                                                                                            epochs=1)))
    runner = TrialRunner(study, runner_settings := replace(settings, fidelity=replace(settings.fidelity, epochs=1)),
                         data=None)
    study.enqueue_trial(arch_params(PRESETS["bin_mobilenet_sp"].arch, runner_settings.space))
    runner.run(study.ask())
    d = report_data(study)
    assert d["noise"] == StudyNoise(None, d["noise"].source) and "not measured" in d["noise"].source
    assert d["front"]["top1_se"].isna().all()


def test_preset_labels_neither_overlap_nor_leave_the_axes():
    """Presets a few tenths of a point apart (MoBiNet Pre, Post and Mid at ~32M OPs), one by the right edge and
    three by the bottom, beside a legend: their labels are moved until none overlaps another or the legend and
    none crosses an edge of the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nas.report import place_labels

    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    pts = [("mobinet_mid_k4_prelu (after the search)", 32.0, 26.2), ("mobinet_post_k3_prelu (after)", 32.9, 25.0),
           ("mobinet_pre_k3_prelu (after the search)", 32.3, 24.5), ("bin_mobilenet_sp (after the search)", 49.5, 30.9),
           ("low one", 12.0, 8.4), ("low two", 12.3, 8.2), ("low three", 12.6, 8.1)]
    ax.scatter([x for _, x, _ in pts], [y for _, _, y in pts], label="points")
    ax.set_xlim(10, 50)
    ax.set_ylim(8, 33)
    ax.legend(loc="lower right")
    labels = [ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7) for n, x, y in pts]
    renderer = fig.canvas.get_renderer()
    before = [a.get_window_extent(renderer) for a in labels]
    assert any(b.overlaps(c) for i, b in enumerate(before) for c in before[i + 1:])  # the case is real
    place_labels(ax, labels)
    boxes = [a.get_window_extent(renderer) for a in labels]
    frame = ax.get_window_extent(renderer)
    assert not any(b.overlaps(c) for i, b in enumerate(boxes) for c in boxes[i + 1:])
    assert not any(b.overlaps(ax.get_legend().get_window_extent(renderer)) for b in boxes)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    place_labels(ax, [])  # nothing to place
    plt.close(fig)
