"""python -m nas.train: full training on real CIFAR-10, checkpoints, resume, Ctrl-C and bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import nas.deploy.train as train_mod
from nas.deploy.train import LOG_COLUMNS, SCHEDULES, main
from search_space import PRESETS

REPO = Path(__file__).resolve().parents[2]
TINY_ARCH = "w0.25-d1:S-none-k0-2xdw-relu-pw"
# image_folder: 200 train images - 50 held out = 150 (4 steps of 32 per epoch); 50 of its 200 test images
SMALL = ["--val-size", "50", "--test-subset", "50", "--batch-size", "32", "--lr", "1e-2"]


def _rows(out: Path) -> list[dict]:
    with (out / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.e2e
def test_real_cifar10_run_from_arch_json(cifar_dir, tmp_path, capsys):
    """Binarized MobileNet-Sp at width 0.5, 2,000 CIFAR-10 images, 2 epochs, lr 1e-2 (the proxy's).

    Measured test top-1 (1,000 test images): 27.8%, 25.0%, 22.1% for seeds 0-2; with the paper's default
    lr 1e-3 (meant for 100 epochs) 19.7% on 2,000 test images. About 16 s on 2 idle cores, plus 12 s to
    decode CIFAR-10 when the session's cache is cold.
    """
    arch = PRESETS["bin_mobilenet_sp_w0.5_d1"].arch
    arch_file = tmp_path / "exported" / "arch.json"
    arch_file.parent.mkdir()
    arch_file.write_text(json.dumps({**arch.to_dict(), "ops": 20.23e6, "source": "test"}))  # extra keys, as exported
    code, out, err = _run([str(arch_file), "--data-dir", str(cifar_dir), "--train-subset", "2000", "--val-size",
                           "500", "--test-subset", "1000", "--epochs", "2", "--batch-size", "32", "--lr", "1e-2"],
                          capsys)
    assert code == 0, err
    run = tmp_path / "exported" / "train"  # the default --out
    result = json.loads((run / "result.json").read_text())
    assert result["test_top1"] >= 0.18, result  # chance is 0.10
    assert result["test_images"] == 1000 and result["epochs"] == 2 and result["arch"] == arch.encode()
    assert f"test top-1 {result['test_top1']:.2%}" in out
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2"] and tuple(rows[0]) == LOG_COLUMNS
    assert float(rows[1]["lr"]) == pytest.approx(5e-3)  # poly: halfway through, half the rate
    assert all(0.0 <= float(r["eval_top1"]) <= 1.0 and float(r["train_loss"]) > 0 for r in rows)
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["arch"] == arch.encode() and last["settings"]["train_images"] == 2000
    assert {"model", "optimizer", "scheduler", "rng", "best"} <= set(last)
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["epoch"] == result["best_epoch"] and best["val_top1"] == pytest.approx(result["best_val_top1"])


def test_resume_continues_where_it_stopped(image_folder, tmp_path, capsys):
    args = [TINY_ARCH, "--data-dir", str(image_folder), "--out", str(tmp_path / "run"), *SMALL]
    assert _run([*args, "--epochs", "1"], capsys)[0] == 0
    first = _rows(tmp_path / "run")
    code, _, err = _run([*args, "--epochs", "2"], capsys)
    assert code == 0 and "1/2 epochs done" in err
    assert "epoch 1/2" not in err and "epoch 2/2" in err  # epoch 1 is not trained again
    rows = _rows(tmp_path / "run")
    assert len(rows) == 2 and rows[0] == first[0]
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 2
    code, out, err = _run([*args, "--epochs", "2"], capsys)  # already done: only the final report
    assert code == 0 and "epoch 2/2" not in err and "after 2 epochs" in out and len(_rows(tmp_path / "run")) == 2


def test_ctrl_c_keeps_the_last_epoch_and_resumes_exactly(image_folder, tmp_path, capsys, monkeypatch):
    common = [TINY_ARCH, "--data-dir", str(image_folder), *SMALL, "--epochs", "2"]
    assert _run([*common, "--out", str(tmp_path / "straight")], capsys)[0] == 0
    real, calls = train_mod._train_epoch, []

    def interrupted(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(train_mod, "_train_epoch", interrupted)
    run = tmp_path / "run"
    code, _, err = _run([*common, "--out", str(run)], capsys)
    assert code == 130 and "holds epoch 1" in err and "run the same command to resume" in err
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1 and len(_rows(run)) == 1
    monkeypatch.setattr(train_mod, "_train_epoch", real)
    assert _run([*common, "--out", str(run)], capsys)[0] == 0
    resumed = torch.load(run / "last.pt", weights_only=True)
    straight = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    assert resumed["epoch"] == 2 and [r["epoch"] for r in _rows(run)] == ["1", "2"]
    for key, value in straight["model"].items():  # the same batches, states and schedule: the same weights
        assert torch.equal(value, resumed["model"][key]), key
    def without_time(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert without_time(_rows(run)) == without_time(_rows(tmp_path / "straight"))


def test_real_sigint_exits_130_with_consistent_files(image_folder, tmp_path):
    """Ctrl-C at a random point of a running process: exit 130, last.pt and log.csv agree, it resumes."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "nas.train", TINY_ARCH, "--data-dir", str(image_folder), "--out", str(run),
           *SMALL, "--epochs", "200"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not inherited SIG_IGN
    try:
        deadline = time.monotonic() + 100
        while proc.poll() is None and time.monotonic() < deadline and not (run / "last.pt").exists():
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].endswith("run the same command to resume")
    epoch = torch.load(run / "last.pt", weights_only=True)["epoch"]
    assert 1 <= epoch < 200 and [int(r["epoch"]) for r in _rows(run)] == list(range(1, epoch + 1))
    assert f"holds epoch {epoch};" in err


def test_hold_interrupt_defers_ctrl_c_until_the_files_are_written():
    handler, done = signal.getsignal(signal.SIGINT), []
    with pytest.raises(KeyboardInterrupt), train_mod._hold_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("written")
    assert done == ["written"]
    assert signal.getsignal(signal.SIGINT) is handler


def test_mismatched_resume_is_refused_and_nothing_is_overwritten(image_folder, tmp_path, capsys):
    run = tmp_path / "run"
    args = [TINY_ARCH, "--data-dir", str(image_folder), "--out", str(run), "--epochs", "1", *SMALL]
    assert _run(args, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for extra, needle in [(["--lr", "0.5"], "lr"), (["--seed", "1"], "seed"), (["--no-resume"], "--no-resume"),
                          (["--train-subset", "100"], "train_subset"), (["--resolution", "16"], "resolution")]:
        code, _, err = _run([*args, *extra], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, (extra, err)
    other = [w if w != TINY_ARCH else "w0.25-d1:L-none-k0-relu-pw" for w in args]
    code, _, err = _run(other, capsys)
    assert code == 2 and "arch" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_large_images_stream_through_image_folder(tmp_path, capsys):
    """Images above 64 px take the torchvision ImageFolder + DataLoader path (ImageNet layout: val/)."""
    gen = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for label in range(4):
            folder = tmp_path / "data" / split / f"n{label:04d}"
            folder.mkdir(parents=True)
            for i in range(6):
                img = torch.randint(0, 256, (72, 80, 3), generator=gen, dtype=torch.uint8)
                Image.fromarray(img.numpy()).save(folder / f"{i}.jpg")
    run = tmp_path / "run"
    code, out, err = _run([TINY_ARCH, "--data-dir", str(tmp_path / "data"), "--out", str(run), "--epochs", "1",
                           "--resolution", "48", "--val-size", "4", "--batch-size", "8", "--workers", "0"], capsys)
    assert code == 0, err
    assert "48px, 4 classes" in err and "train/val/test 20/4/24" in err and "test top-1" in out
    assert torch.load(run / "last.pt", weights_only=True)["settings"]["resolution"] == 48


def test_schedules():
    poly, step, cosine = SCHEDULES["poly"], SCHEDULES["step"], SCHEDULES["cosine"]
    assert (poly(0, 100, 10), poly(50, 100, 10), poly(100, 100, 10)) == (1.0, 0.5, 0.0)
    # MoBiNet: x0.1 at 30% and 90% of the epochs (15 and 45 of 50)
    assert [step(e * 10, 500, 10) for e in (14, 15, 44, 45)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    assert cosine(0, 100, 10) == 1.0 and cosine(100, 100, 10) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing/arch.json"], "missing/arch.json"),
        (["not-an-arch"], "not-an-arch"),
        ([TINY_ARCH, "--data-dir", "/does/not/exist"], "/does/not/exist"),
        ([TINY_ARCH, "--epochs", "0"], "--epochs"),
        ([TINY_ARCH, "--epochs", "two"], "two"),
        ([TINY_ARCH, "--lr", "-1"], "--lr"),
        ([TINY_ARCH, "--schedule", "linear"], "linear"),
        ([TINY_ARCH, "--train-subset", "100000"], "--train-subset"),
        ([TINY_ARCH, "--test-subset", "100000"], "--test-subset"),
        ([TINY_ARCH, "--batch-size", "1000"], "--batch-size"),
        ([TINY_ARCH, "--resume"], "--resume"),
        ([TINY_ARCH, "--device", "cuda:7"], "cuda:7"),
    ],
)
def test_bad_input_one_line_exit_2(args, needle, image_folder, tmp_path, capsys):
    if "--data-dir" not in args:
        args = [*args, "--data-dir", str(image_folder)]
    code, _, err = _run([*args, "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error: "), err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_module_entry_point_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nas.train", str(tmp_path / "nope.json")], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: "), proc.stderr
