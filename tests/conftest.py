"""Shared test fixtures: where ../shared is (env BINAS_SHARED overrides), an isolated
cache, and small synthetic data sets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]



def _own_cores() -> None:
    """Under ``pytest -n N`` each worker process takes its own share of the cores (and the processes it
    starts inherit it, so a search a test starts sizes its threads to that share): N workers that each
    ran as many threads as there are cores would oversubscribe them, and PyTorch's spinning threads
    then crawl."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < count:
        torch.set_num_threads(1)
        return
    share = cores[int(worker.removeprefix("gw")) % count::count]
    os.sched_setaffinity(0, share)
    torch.set_num_threads(len(share))


_own_cores()


def shared_dir() -> Path:
    return Path(os.environ.get("BINAS_SHARED", REPO.parent / "shared"))


def _missing(why: str) -> None:
    """Skip a test that needs ../shared where it is absent; in CI (``CI`` set) fail instead: CI has it."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must have ../shared beside the repository)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        _missing(f"shared folder not found at {path} (set BINAS_SHARED)")
    return path


@pytest.fixture(scope="session")
def cifar_dir(shared) -> Path:
    path = shared / "data" / "cifar10"
    if not (path / "train").is_dir():
        _missing(f"CIFAR-10 not found at {path}")
    return path


@pytest.fixture(scope="session")
def paper_tables(shared):
    import pandas as pd

    return pd.read_csv(shared / "benchmarks" / "paper_tables.csv")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test writes the user's cache or follows the user's NAS_DATA_DIR; the decoded real
    CIFAR-10 cache is shared by the whole session."""
    monkeypatch.setenv("BINAS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "binas-cache"))
    monkeypatch.delenv("NAS_DATA_DIR", raising=False)


def synthetic_images(n_per_class: int, classes: int = 10, size: int = 32, seed: int = 0):
    """Learnable uint8 images: each class a colour and a stripe orientation, plus noise."""
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    # Class colours are fixed (the same for every split); only the noise follows ``seed``.
    base = torch.rand(classes, 3, 1, 1, generator=torch.Generator().manual_seed(1234)) * 160 + 40
    g = torch.Generator().manual_seed(seed)
    stripes = (torch.arange(size) // 4 % 2).float() * 60
    imgs = base[labels].expand(-1, -1, size, size).clone()
    horizontal = (labels % 2 == 0).view(-1, 1, 1, 1)
    imgs += torch.where(horizontal, stripes.view(1, 1, -1, 1), stripes.view(1, 1, 1, -1))
    imgs += torch.randn(imgs.shape, generator=g) * 25
    return imgs.clamp(0, 255).to(torch.uint8), labels


@pytest.fixture
def synthetic_data():
    from proxies import ProxyData

    x, y = synthetic_images(40, seed=1)
    vx, vy = synthetic_images(10, seed=2)
    return ProxyData(x, y, vx, vy, None, None, tuple(f"c{i}" for i in range(10)))


def write_image_folder(root: Path, per_class: int = 20, classes: int = 10, splits=("train", "test")) -> Path:
    from PIL import Image

    for s, split in enumerate(splits):
        x, y = synthetic_images(per_class, classes, seed=10 + s)
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            d = root / split / f"class{int(label)}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(d / f"{i:05d}.png")
    return root


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """A small CIFAR-shaped ImageFolder (10 classes, 32x32 PNG): 200 train, 100 test images."""
    return write_image_folder(tmp_path_factory.mktemp("imgs") / "data", per_class=20)


def _writable(folder: Path) -> bool:
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


@pytest.fixture
def unwritable_dir(tmp_path):
    """A folder this process cannot write in: a chmod 500 folder, or, for root (who writes
    anywhere), a read-only system folder such as /sys."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if not _writable(folder):
            yield folder
            return
        for candidate in (Path("/sys"), Path("/proc/sys")):
            if candidate.is_dir() and not _writable(candidate):
                yield candidate
                return
        pytest.skip("no unwritable folder here (running as root, and /sys is writable)")
    finally:
        folder.chmod(0o700)


def write_messy_folder(root: Path, per_class: int = 24, classes: int = 10, truncated: bool = True) -> Path:
    """A user's own data set: class folders with no train/ and test/ split; JPEG and PNG photos of
    mixed sizes (20 to 300 px, not square); grayscale, RGBA and palette images among them; and, with
    ``truncated``, one JPEG cut short. The classes are learnable (the synthetic colours and stripes)."""
    from PIL import Image

    x, y = synthetic_images(per_class, classes, size=32, seed=7)
    sizes = [20, 37, 64, 100, 150, 300]
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        folder = root / f"class_{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        w = sizes[i % len(sizes)]
        pic = Image.fromarray(img.permute(1, 2, 0).numpy()).resize((w, max(20, w * 3 // 4)))
        mode = i % 7
        if mode == 1:
            pic.convert("L").save(folder / f"{i:04d}.png")
        elif mode == 2:
            pic.convert("RGBA").save(folder / f"{i:04d}.png")
        elif mode == 3:
            pic.convert("P").save(folder / f"{i:04d}.png")
        else:
            pic.save(folder / f"{i:04d}.jpg", quality=90)
    if truncated:
        bad = root / "class_0" / "9999.jpg"
        Image.fromarray(x[0].permute(1, 2, 0).numpy()).resize((120, 90)).save(bad, quality=90)
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    return root


@pytest.fixture(scope="session")
def messy_folder(tmp_path_factory) -> Path:
    """:func:`write_messy_folder`: 240 images in 10 class folders, no split, one truncated JPEG."""
    return write_messy_folder(tmp_path_factory.mktemp("own") / "photos")
