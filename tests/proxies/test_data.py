"""proxies.data.images: loading both layouts, the decode cache, stratified subsets, the batch loader and
every malformed input. Fake data sets are written to tmp_path; one test reads the real CIFAR-10 copy."""

from __future__ import annotations

import os
import pickle
import time
import urllib.error
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import proxies.data.images as data_mod
from proxies.data.images import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    load_dataset,
    resolve_data_dir,
    stratified_subset,
    train_val_split,
)
from proxies.data.loader import BatchLoader, ProxyData, prepare_data

CLASSES = ("cat", "dog", "frog")


def pixel(class_index: int, image_index: int) -> tuple[int, int, int]:
    """Colour of fake image ``image_index`` of class ``class_index`` (PNG decodes it back exactly)."""
    return (40 * class_index + 10, 2 * image_index, 200)


def write_imagefolder(root: Path, per_class: dict[str, int] | None = None, size: int = 8,
                      ext: str = ".png") -> Path:
    """``root/<split>/<class>/NNNN<ext>`` for each split in ``per_class`` (split -> images per class)."""
    for split, n in (per_class or {"train": 10, "test": 4}).items():
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.new("RGB", (size, size), pixel(c, i)).save(folder / f"{i:04d}{ext}")
    return root


def write_cifar_pickles(root: Path, per_batch: int = 6) -> Path:
    """torchvision's ``cifar-10-batches-py`` layout with tiny batches; returns the batches folder."""
    batches = root / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for b, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        images = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        images[:, 0] = b  # the first red pixel says which batch an image came from
        entry = {"batch_label": name, "data": images, "labels": [i % 3 for i in range(per_batch)],
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (batches / name).write_bytes(pickle.dumps(entry, protocol=2))
    (batches / "batches.meta").write_bytes(pickle.dumps({"label_names": ["plane", "car", "bird"]}, protocol=2))
    return batches


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's cache or follows the user's NAS_DATA_DIR. (Kept here, not in a
    tests/proxies/conftest.py, which would shadow the top-level conftest module that tests import.)"""
    monkeypatch.setenv("BINAS_CACHE_DIR", str(tmp_path_factory.mktemp("binas-cache")))
    monkeypatch.delenv("NAS_DATA_DIR", raising=False)


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_imagefolder(tmp_path / "folder")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


# --- loading ----------------------------------------------------------------------------------


def test_imagefolder_decodes_exact_pixels_and_labels(folder, cache):
    train = load_dataset(folder, "train", cache_dir=cache)
    assert train.images.shape == (30, 3, 8, 8) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert train.classes == CLASSES
    assert tuple(train.images[13, :, 5, 5].tolist()) == pixel(1, 3)
    test = load_dataset(folder, "test", cache_dir=cache)
    assert test.images.shape == (12, 3, 8, 8) and test.classes == CLASSES


def test_imagefolder_val_folder_jpeg_and_ignored_entries(tmp_path, cache):
    root = write_imagefolder(tmp_path / "d", {"train": 3, "val": 2}, ext=".jpg")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    (root / "train" / ".hidden").mkdir()
    (root / "train" / "README.md").write_text("stray file")
    test = load_dataset(root, "test", cache_dir=cache)
    assert test.images.shape == (6, 3, 8, 8)
    assert load_dataset(root, "train", cache_dir=cache).classes == CLASSES
    # JPEG is lossy: close to the colour written, not equal
    assert (test.images[0, :, 4, 4].int() - torch.tensor(pixel(0, 0))).abs().max() <= 4


def test_grayscale_and_rgba_become_rgb(tmp_path, cache):
    root = tmp_path / "d"
    for split in ("train", "test"):
        (root / split / "a").mkdir(parents=True)
        Image.new("L", (4, 4), 77).save(root / split / "a" / "g.png")
        Image.new("RGBA", (4, 4), (1, 2, 3, 4)).save(root / split / "a" / "h.png")
    got = load_dataset(root, "train", cache_dir=cache)
    assert got.images[0, :, 0, 0].tolist() == [77, 77, 77] and got.images[1, :, 0, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize("point_at_batches", [False, True])
def test_cifar_pickles(tmp_path, point_at_batches):
    batches = write_cifar_pickles(tmp_path / "tv")
    root = batches if point_at_batches else batches.parent
    train, test = load_dataset(root, "train"), load_dataset(root, "test")
    assert train.images.shape == (30, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (6, 3, 32, 32) and train.classes == ("plane", "car", "bird")
    assert train.images[:, 0, 0, 0].tolist() == [b for b in range(5) for _ in range(6)]
    assert test.images[:, 0, 0, 0].tolist() == [5] * 6
    assert train.labels.dtype == torch.int64 and train.labels.tolist()[:6] == [0, 1, 2, 0, 1, 2]
    assert load_dataset(root, "test", image_size=16).images.shape == (6, 3, 16, 16)
    data = prepare_data(root, train_subset=12, val_size=6, seed=0, with_test=True)
    assert data.classes == ("plane", "car", "bird") and torch.bincount(data.train_y).tolist() == [4, 4, 4]
    assert data.val_x.shape == (6, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)


def test_image_sizes_must_agree_unless_resized(tmp_path, cache):
    root = write_imagefolder(tmp_path / "d", {"train": 3, "test": 1})
    odd = root / "train" / "dog" / "0001.png"
    Image.new("RGB", (12, 6), (9, 9, 9)).save(odd)
    with pytest.raises(ValueError, match="0001.png is 12x6 .*--proxy-resolution"):
        load_dataset(root, "train", cache_dir=cache)
    resized = load_dataset(root, "train", image_size=16, cache_dir=cache)
    assert resized.images.shape == (9, 3, 16, 16)
    assert resized.images[4, :, 3, 3].tolist() == [9, 9, 9]


def test_process_pool_matches_serial_decode(tmp_path, cache):
    root = write_imagefolder(tmp_path / "d", {"train": 100, "test": 1}, size=4)  # 300 files: 5 chunks
    serial = load_dataset(root, "train", workers=1, use_cache=False)
    pooled = load_dataset(root, "train", workers=2, use_cache=False)
    assert torch.equal(serial.images, pooled.images) and torch.equal(serial.labels, pooled.labels)
    bad = root / "train" / "frog" / "0050.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=f"cannot read image {bad}"):
        load_dataset(root, "train", workers=2, use_cache=False)


def test_size_mismatch_between_chunks_names_a_file(tmp_path):
    root = write_imagefolder(tmp_path / "d", {"train": 100, "test": 1}, size=4)  # 64-file chunks
    for i in range(28, 100):  # from global index 128 on: a whole chunk of another size
        Image.new("RGB", (6, 6)).save(root / "train" / "dog" / f"{i:04d}.png")
    for workers in (1, 2):
        with pytest.raises(ValueError, match=r"dog/0028.png is 6x6 but other images in .* are 4x4"):
            load_dataset(root, "train", workers=workers, use_cache=False)


# --- the cache --------------------------------------------------------------------------------


def _count_decodes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = data_mod._decode_files

    def counting(paths, *args, **kwargs):
        calls.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(data_mod, "_decode_files", counting)
    return calls


def test_cache_hit_and_invalidation(folder, cache, monkeypatch):
    calls = _count_decodes(monkeypatch)
    first = load_dataset(folder, "train", cache_dir=cache)
    assert calls == [30] and len(list((cache / "decoded").glob("train-*.pt"))) == 1
    second = load_dataset(folder, "train", cache_dir=cache)
    assert calls == [30] and torch.equal(first.images, second.images) and second.classes == CLASSES
    load_dataset(folder, "test", cache_dir=cache)
    assert calls == [30, 12]
    Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "train" / "dog" / "9999.png")  # a folder changes
    third = load_dataset(folder, "train", cache_dir=cache)
    assert calls == [30, 12, 31] and tuple(third.images[20, :, 0, 0].tolist()) == (1, 2, 3)
    assert len(list((cache / "decoded").glob("train-*.pt"))) == 1  # overwritten, not piled up
    load_dataset(folder, "train", cache_dir=cache, image_size=4)  # another size: another entry
    assert calls[-1] == 31


def test_cache_defaults_to_env_dir_and_can_be_disabled(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("BINAS_CACHE_DIR", str(tmp_path / "envcache"))
    load_dataset(folder, "test", use_cache=False)
    assert not (tmp_path / "envcache").exists()
    load_dataset(folder, "test")
    assert len(list((tmp_path / "envcache" / "decoded").glob("test-*.pt"))) == 1


def test_corrupt_cache_file_is_rebuilt(folder, cache, monkeypatch):
    load_dataset(folder, "train", cache_dir=cache)
    (cache_file,) = (cache / "decoded").glob("train-*.pt")
    cache_file.write_bytes(b"garbage")
    calls = _count_decodes(monkeypatch)
    assert load_dataset(folder, "train", cache_dir=cache).images.shape == (30, 3, 8, 8)
    assert calls == [30]
    assert load_dataset(folder, "train", cache_dir=cache).images.shape == (30, 3, 8, 8) and calls == [30]


def test_unwritable_cache_only_warns(folder, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should go")
    with pytest.warns(UserWarning, match="could not write the data cache"):
        got = load_dataset(folder, "test", cache_dir=blocker)
    assert got.images.shape == (12, 3, 8, 8)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("BINAS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_mod.default_cache_dir() == tmp_path / "xdg" / "binas"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_mod.default_cache_dir() == Path.home() / ".cache" / "binas"


# --- malformed input --------------------------------------------------------------------------


def _break(kind: str, tmp_path: Path) -> tuple[Path, Path, str]:
    """Returns (data_dir to load, the path the message must name, split)."""
    root = tmp_path / "bad"
    if kind == "missing":
        return root, root, "train"
    if kind == "file":
        root.write_text("x")
        return root, root, "train"
    root.mkdir()
    if kind == "empty":
        return root, root, "train"
    if kind == "wrong-layout":
        (root / "images").mkdir()
        return root, root, "train"
    if kind == "no-test-folder":
        write_imagefolder(root, {"train": 2})
        return root, root, "test"
    if kind == "no-class-folders":
        (root / "train").mkdir()
        (root / "train" / "0001.png").write_bytes(b"")
        return root, root / "train", "train"
    if kind == "class-without-images":
        write_imagefolder(root, {"train": 2})
        (root / "train" / "zebra").mkdir()
        (root / "train" / "zebra" / "notes.txt").write_text("x")
        return root, root / "train" / "zebra", "train"
    if kind == "corrupt-image":
        write_imagefolder(root, {"train": 2})
        bad = root / "train" / "dog" / "0001.png"
        bad.write_bytes(b"not a png at all")
        return root, bad, "train"
    if kind == "truncated-jpeg":
        write_imagefolder(root, {"train": 2}, size=32, ext=".jpg")
        bad = root / "train" / "cat" / "0000.jpg"
        bad.write_bytes(bad.read_bytes()[:200])
        return root, bad, "train"
    batches = write_cifar_pickles(root)
    if kind == "missing-batch":
        (batches / "data_batch_3").unlink()
        return root, batches / "data_batch_3", "train"
    if kind == "corrupt-batch":
        (batches / "test_batch").write_bytes(b"\x80\x02garbage")
        return root, batches / "test_batch", "test"
    if kind == "forbidden-pickle":
        (batches / "test_batch").write_bytes(pickle.dumps(OrderedDict(data=1)))
        return root, batches / "test_batch", "test"
    if kind == "malformed-batch":
        (batches / "test_batch").write_bytes(pickle.dumps({"data": np.zeros(7, np.uint8), "labels": [0]}))
        return root, batches / "test_batch", "test"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "missing", "file", "empty", "wrong-layout", "no-test-folder", "no-class-folders", "class-without-images",
    "corrupt-image", "truncated-jpeg", "missing-batch", "corrupt-batch", "forbidden-pickle", "malformed-batch",
])
def test_malformed_input_names_the_path(kind, tmp_path, cache):
    root, named, split = _break(kind, tmp_path)
    with pytest.raises(ValueError) as info:
        load_dataset(root, split, cache_dir=cache)
    message = str(info.value)
    assert str(named) in message and "\n" not in message


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"split": "validation"}, "split 'validation'"),
    ({"image_size": 0}, "image_size 0"),
    ({"image_size": 3.5}, "image_size 3.5"),
])
def test_bad_arguments(folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(folder, **kwargs)


# --- where the data comes from ----------------------------------------------------------------


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    assert resolve_data_dir(tmp_path / "given") == tmp_path / "given"
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(str(tmp_path / "given")) == tmp_path / "given"


def test_resolve_data_dir_uses_a_finished_download(tmp_path):
    write_cifar_pickles(tmp_path / "cache" / "cifar10")
    assert resolve_data_dir(None, cache_dir=tmp_path / "cache") == tmp_path / "cache" / "cifar10"


def test_failed_download_is_one_clear_line(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, root, train=True, download=False):
            raise urllib.error.URLError("[Errno -3] Temporary failure\nin name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    with pytest.raises(ValueError) as info:
        resolve_data_dir(None, cache_dir=tmp_path)
    message = str(info.value)
    assert "--data-dir" in message and "NAS_DATA_DIR" in message and str(tmp_path / "cifar10") in message
    assert "\n" not in message and "Traceback" not in message
    with pytest.raises(ValueError, match="NAS_DATA_DIR"):
        prepare_data(None, 10, 5, 0, cache_dir=tmp_path)


# --- subsets ----------------------------------------------------------------------------------


def _per_class(labels: torch.Tensor, idx: torch.Tensor) -> list[int]:
    return torch.bincount(labels[idx], minlength=int(labels.max()) + 1).tolist()


def test_stratified_subset_balances_classes():
    labels = torch.arange(10).repeat_interleave(50)
    idx = stratified_subset(labels, 100, seed=0)
    assert idx.dtype == torch.int64 and len(idx) == 100 and len(set(idx.tolist())) == 100
    assert torch.equal(idx, idx.sort().values) and _per_class(labels, idx) == [10] * 10
    assert sorted(_per_class(labels, stratified_subset(labels, 103, seed=0))) == [10] * 7 + [11] * 3
    assert _per_class(labels, stratified_subset(labels, 500, seed=3)) == [50] * 10


def test_stratified_subset_fills_from_larger_classes_when_one_runs_out():
    labels = torch.tensor([0] * 2 + [1] * 50 + [2] * 50)
    assert _per_class(labels, stratified_subset(labels, 30, seed=1)) == [2, 14, 14]
    assert _per_class(labels, stratified_subset(labels.tolist(), 31, seed=1)) in ([2, 15, 14], [2, 14, 15])


def test_stratified_subset_is_deterministic_and_nested():
    labels = torch.arange(10).repeat_interleave(100)
    a, b, c = (stratified_subset(labels, 200, s) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    small = stratified_subset(labels, 50, 7)
    assert set(small.tolist()) <= set(a.tolist())


@pytest.mark.parametrize("n", [0, -1, 11, True, 2.5])
def test_stratified_subset_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="subset size"):
        stratified_subset(torch.arange(10) % 2, n, 0)


def test_train_val_split_is_disjoint_and_stratified():
    labels = torch.arange(10).repeat_interleave(30)
    train, val = train_val_split(labels, 50, seed=4)
    assert len(train) == 250 and len(val) == 50 and not set(train.tolist()) & set(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(300))
    assert _per_class(labels, val) == [5] * 10 and _per_class(labels, train) == [25] * 10
    again = train_val_split(labels, 50, seed=4)
    assert torch.equal(again[0], train) and torch.equal(again[1], val)
    with pytest.raises(ValueError, match="val_size 300"):
        train_val_split(labels, 300, 0)


# --- batches ----------------------------------------------------------------------------------


def _indexed(n: int = 40, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Image i is constant i + 1 (so padding, which is 0, is told apart); label i % 4."""
    images = (torch.arange(n, dtype=torch.uint8) + 1).view(n, 1, 1, 1).expand(n, 3, size, size).contiguous()
    return images, torch.arange(n) % 4


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return (x * std + mean).mul(255).round().to(torch.uint8)


def test_eval_loader_normalises_in_order():
    images, labels = _indexed(10)
    loader = BatchLoader(images, labels, 4)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    x = torch.cat([b[0] for b in batches])
    assert x.dtype == torch.float32 and x.shape == (10, 3, 32, 32) and x.is_contiguous()
    assert torch.equal(_to_uint8(x), images) and torch.equal(torch.cat([b[1] for b in batches]), labels)


def test_train_loader_shuffles_crops_and_flips_deterministically():
    images, labels = _indexed(40)
    loader = BatchLoader(images, labels, 16, shuffle=True, augment=True, seed=5, drop_last=True)
    epoch0, epoch1 = list(loader), list(loader)
    assert len(loader) == 2 and all(x.shape == (16, 3, 32, 32) and x.dtype == torch.float32 for x, _ in epoch0)
    replay = BatchLoader(images, labels, 16, shuffle=True, augment=True, seed=5, drop_last=True).epoch(1)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(epoch1, replay, strict=True))
    assert not torch.equal(epoch0[0][0], epoch1[0][0])
    other = list(BatchLoader(images, labels, 16, shuffle=True, augment=True, seed=6, drop_last=True))
    assert not torch.equal(other[0][0], epoch0[0][0])
    for x, y in epoch0:
        raw = _to_uint8(x)
        source = raw[:, 0, 16, 16].long() - 1  # the centre always comes from the image, never the pad
        assert torch.equal(labels[source], y)
        assert ((raw == 0) | (raw == (source + 1).to(torch.uint8).view(-1, 1, 1, 1))).all()
        assert (raw == 0).any()  # some crops reach into the zero padding


def test_crop_is_a_window_of_the_padded_image_and_flip_mirrors():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=g)
    loader = BatchLoader(images, torch.zeros(64, dtype=torch.int64), 64, augment=True, seed=1)
    (x, _), = list(loader)
    out = _to_uint8(x)
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    flips = 0
    for i in range(64):
        windows = [padded[i, :, r:r + 8, c:c + 8] for r in range(9) for c in range(9)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flips += mirrored and not plain
    assert 10 < flips < 54
    no_pad = _to_uint8(next(iter(BatchLoader(images, torch.zeros(64), 64, augment=True, pad=0, seed=1)))[0])
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(no_pad, images, strict=True))


def test_channels_last_and_device():
    images, labels = _indexed(8)
    for augment in (False, True):
        x, y = next(iter(BatchLoader(images, labels, 8, augment=augment, channels_last=True, device="cpu")))
        assert x.is_contiguous(memory_format=torch.channels_last) and y.dtype == torch.int64
        x, _ = next(iter(BatchLoader(images, labels, 8, augment=augment)))
        assert x.is_contiguous()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_batches_match_cpu():
    images, labels = _indexed(40)
    cpu = list(BatchLoader(images, labels, 16, shuffle=True, augment=True, seed=2))
    gpu = list(BatchLoader(images, labels, 16, shuffle=True, augment=True, seed=2, device="cuda"))
    assert all(torch.allclose(a.cpu(), b[0].cpu()) and torch.equal(c.cpu(), b[1].cpu())
               for (a, c), b in zip(cpu, gpu, strict=True))


@pytest.mark.parametrize(("args", "match"), [
    ((torch.zeros(4, 3, 8, 8), torch.zeros(4), 2), "uint8"),
    ((torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(5), 2), "labels"),
    ((torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4), 0), "batch_size 0"),
    ((torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(4), 2), "channels"),
])
def test_batch_loader_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        BatchLoader(*args)


# --- the bundle -------------------------------------------------------------------------------


def test_prepare_data(tmp_path, cache):
    root = write_imagefolder(tmp_path / "d", {"train": 20, "test": 6})
    data = prepare_data(root, train_subset=12, val_size=9, seed=0, with_test=True, test_subset=9,
                        cache_dir=cache)
    assert isinstance(data, ProxyData) and data.classes == CLASSES and data.num_classes == 3
    assert repr(data) == "ProxyData(train=12, val=9, test=9, classes=3, image_size=(8, 8))"
    assert data.image_size == (8, 8) and data.train_x.shape == (12, 3, 8, 8)
    assert data.train_x.dtype == torch.uint8 and data.val_x.shape == (9, 3, 8, 8) and data.test_x.shape[0] == 9
    assert torch.bincount(data.train_y).tolist() == [4, 4, 4] and torch.bincount(data.val_y).tolist() == [3] * 3
    assert torch.bincount(data.test_y).tolist() == [3, 3, 3]
    key = lambda x, y: {(int(c), int(g)) for c, g in zip(y, x[:, 1, 0, 0], strict=True)}  # noqa: E731
    assert not key(data.train_x, data.train_y) & key(data.val_x, data.val_y)  # disjoint images
    again = prepare_data(root, 12, 9, 0, with_test=True, test_subset=9, cache_dir=cache)
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.val_x, data.val_x)
    assert not torch.equal(prepare_data(root, 12, 9, 1, cache_dir=cache).val_x, data.val_x)
    everything = prepare_data(root, None, 9, 0, cache_dir=cache)
    assert everything.train_x.shape[0] == 51 and everything.test_x is None
    with pytest.raises(ValueError, match="no test split"):
        everything.test_loader()
    x, y = next(iter(data.train_loader(4, seed=0, channels_last=True)))
    assert x.shape == (4, 3, 8, 8) and x.is_contiguous(memory_format=torch.channels_last)
    assert sum(len(y) for _, y in data.val_loader(4)) == 9 and sum(len(y) for _, y in data.test_loader(4)) == 9
    with pytest.raises(ValueError, match="--train-subset: invalid value 52"):
        prepare_data(root, 52, 9, 0, cache_dir=cache)
    with pytest.raises(ValueError, match="--val-size: invalid value 60"):
        prepare_data(root, None, 60, 0, cache_dir=cache)


def test_prepare_data_rejects_mismatched_classes(tmp_path, cache):
    root = write_imagefolder(tmp_path / "d", {"train": 4, "test": 2})
    os.rename(root / "test" / "frog", root / "test" / "toad")
    with pytest.raises(ValueError, match="classes"):
        prepare_data(root, None, 3, 0, with_test=True, cache_dir=cache)


# --- the real data ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_cifar10_test_split(cifar_dir, tmp_path):
    """Decodes only the 10,000-image test split (a few seconds; the 50k train split takes longer)."""
    root = cifar_dir
    test = load_dataset(root, "test", cache_dir=tmp_path)
    assert test.images.shape == (10000, 3, 32, 32) and test.images.dtype == torch.uint8
    assert len(test.classes) == 10 and test.classes[0] == "airplane" and test.classes[-1] == "truck"
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    idx = stratified_subset(test.labels, 1000, seed=0)
    assert torch.bincount(test.labels[idx]).tolist() == [100] * 10
    assert 80 < test.images[idx].float().mean() < 160  # real pictures, not blank
    start = time.perf_counter()
    again = load_dataset(root, "test", cache_dir=tmp_path)
    assert time.perf_counter() - start < 5 and torch.equal(again.images, test.images)


def test_full_training_and_the_proxy_select_the_same_images(image_folder):
    from proxies import prepare_full_data

    for seed in (0, 3):
        proxy = prepare_data(image_folder, 100, 40, seed, with_test=True, test_subset=50)
        full = prepare_full_data(image_folder, resolution=None, train_subset=100, val_size=40, test_subset=50,
                                 seed=seed, batch_size=10, device=torch.device("cpu"), workers=0)
        assert full.sizes == {"train": 100, "val": 40, "test": 50}
        assert torch.equal(full._train.images, proxy.train_x) and torch.equal(full._train.labels, proxy.train_y)
        assert torch.equal(full._val.images, proxy.val_x) and torch.equal(full._test.images, proxy.test_x)
    no_val = prepare_full_data(image_folder, resolution=None, train_subset=None, val_size=0, test_subset=None,
                               seed=0, batch_size=10, device=torch.device("cpu"), workers=0)
    assert no_val.val() is None and no_val.sizes["train"] == 200
    assert prepare_data(image_folder, None, 0, 0).val_x.shape[0] == 0
