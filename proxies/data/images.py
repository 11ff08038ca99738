"""The proxy task's data: CIFAR-10 (or any ImageFolder) decoded once into uint8 tensors.

Layouts: torchvision's ``cifar-10-batches-py`` pickles (that folder or its parent), an
ImageFolder root with ``train/`` and ``test/`` (or ``val/``) folders of class folders, or a root of
class folders with no split (a stratified test split is carved out: :mod:`proxies.data.folder`). Images
of any size and mode are read as RGB and brought to one size (:func:`proxies.data.folder.fit_image`). A decoded
ImageFolder split is cached as ``<cache>/decoded/<split>-<hash>.pt`` (cache: ``$BINAS_CACHE_DIR``,
else ``$XDG_CACHE_HOME/binas``, else ``~/.cache/binas``), rebuilt when a class folder's mtime or
number of images changes (an image edited in place changes neither). Proxies select on a
stratified validation split of the training set; the test split is for final reporting only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from search_space.checks import is_int
from search_space.files import atomic_write

from .folder import DEFAULT_TEST_FRACTION, IMAGE_EXTENSIONS, carve_test, decode_files, list_folder

__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "IMAGE_EXTENSIONS", "ImageSet", "default_cache_dir", "derive_seed",
    "load_dataset", "probe_layout", "resolve_data_dir", "stratified_subset", "train_val_split",
]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
SPLITS = ("train", "test")
_BATCHES = "cifar-10-batches-py"
_PICKLES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_CACHE_VERSION = 2  # 2: resize = shorter side + centre crop; skipped files recorded

PathLike = str | os.PathLike
Device = torch.device | str | None


@dataclass(frozen=True, eq=False)
class ImageSet:
    """One decoded split: ``images`` uint8 (N, 3, H, W), ``labels`` int64 (N,), class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # unreadable files left out (skip_bad)


def default_cache_dir() -> Path:
    """``$BINAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/binas``, else ``~/.cache/binas``."""
    if os.environ.get("BINAS_CACHE_DIR"):
        return Path(os.environ["BINAS_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "binas"


def _cache_root(cache_dir: PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_int(name: str, value: object, lo: int = 1, hi: int | None = None, why: str = "") -> int:
    if not is_int(value) or value < lo or (hi is not None and value > hi):
        bound = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"
        raise ValueError(f"{name} {value!r} is not {bound}{why}")
    return int(value)


def _download_cifar10(root: Path) -> None:
    from torchvision.datasets import CIFAR10

    CIFAR10(str(root), train=True, download=True)
    CIFAR10(str(root), train=False, download=True)


def resolve_data_dir(data_dir: PathLike | None, *, cache_dir: PathLike | None = None) -> Path:
    """``data_dir`` if given, else ``$NAS_DATA_DIR``, else CIFAR-10 downloaded by torchvision into
    ``<cache>/cifar10``. When the download fails (offline) this raises a one-line ``ValueError``."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    if os.environ.get("NAS_DATA_DIR"):
        return Path(os.environ["NAS_DATA_DIR"]).expanduser()
    root = _cache_root(cache_dir) / "cifar10"
    if all((root / _BATCHES / f).is_file() for f in [*_PICKLES["train"], *_PICKLES["test"], "batches.meta"]):
        return root
    try:
        _download_cifar10(root)
    except Exception as exc:  # any network or disk failure: one clear line for the CLI
        raise ValueError(
            f"no data directory given and CIFAR-10 could not be downloaded to {root} ({_one_line(exc)}); "
            "pass --data-dir DIR or set NAS_DATA_DIR to a CIFAR-10 folder (e.g. ../shared/data/cifar10)"
        ) from exc
    return root


# --- reading ---------------------------------------------------------------------------------------


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts of lists, strings and numpy arrays) and nothing else."""

    _ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct",
                                                                                              "scalar")}
    _ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # _codecs: protocol-2 bytes

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}")
        return super().find_class(module, name)


def _read_batch(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"CIFAR-10 batch file {path} is missing")
    try:
        with path.open("rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as exc:
        raise ValueError(f"cannot read CIFAR-10 batch file {path}: {_one_line(exc)}") from exc
    if not isinstance(entry, dict):
        raise ValueError(f"CIFAR-10 batch file {path} holds a {type(entry).__name__}, not a dict")
    return entry


def _load_pickles(batches: Path, split: str) -> ImageSet:
    images, labels = [], []
    for name in _PICKLES[split]:
        entry = _read_batch(batches / name)
        try:
            images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(entry["labels"], dtype=np.int64).reshape(len(images[-1])))
        except Exception as exc:
            raise ValueError(f"CIFAR-10 batch file {batches / name} is malformed: {_one_line(exc)}") from exc
    classes = _read_batch(batches / "batches.meta").get("label_names")
    if not classes:
        raise ValueError(f"CIFAR-10 batch file {batches / 'batches.meta'} has no label_names")
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                    tuple(classes))


def _save_cache(cache_file: Path, blob: dict) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, lambda f: torch.save(blob, f))  # written whole, then renamed
    except OSError as exc:
        warnings.warn(f"could not write the data cache {cache_file}: {_one_line(exc)}", stacklevel=3)


def load_dataset(data_dir: PathLike, split: str = "train", *, image_size: int | None = None,
                 cache_dir: PathLike | None = None, use_cache: bool = True, workers: int | None = None,
                 progress: bool | None = None, test_fraction: float = DEFAULT_TEST_FRACTION,
                 skip_bad: bool = False) -> ImageSet:
    """Decode one split (``"train"`` or ``"test"``) of a CIFAR-10 pickle root, an ImageFolder root
    with ``train/`` and ``test/`` (or ``val/``), or a root of class folders with no split (its test
    split is a stratified ``test_fraction``: :func:`proxies.data.folder.carve_test`).

    ``image_size=None`` keeps the images' own size (they must all agree); an int brings every
    image to ``image_size`` squared (shorter side, then centre crop: :func:`proxies.data.folder.fit_image`).
    ``skip_bad`` leaves unreadable files out (``ImageSet.skipped``) instead of stopping.
    ``workers=None`` picks a process pool for >= 4096 files.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    if image_size is not None:
        _check_int("image_size", image_size)
    root = _check_root(Path(data_dir).expanduser())
    layout = _layout(root)
    if layout == "pickles":
        batches = root / _BATCHES if (root / _BATCHES).is_dir() else root
        return _resized(_load_pickles(batches, split), image_size)
    if layout == "split":
        return _decode_split(_split_dir(root, split), split, image_size, cache_dir, use_cache, workers, progress,
                             skip_bad)
    whole = _decode_split(root, "all", image_size, cache_dir, use_cache, workers, progress, skip_bad)
    test = carve_test(whole.labels, test_fraction)
    keep = torch.ones(len(whole.labels), dtype=torch.bool)
    keep[test] = False
    idx = test if split == "test" else keep.nonzero().flatten()
    return ImageSet(whole.images[idx], whole.labels[idx], whole.classes, whole.skipped)


_decode_files = decode_files  # one name to count or fake decodes by (tests)


def _layout(root: Path) -> str:
    """``pickles`` (CIFAR-10's), ``split`` (train/ and test/ or val/ folders) or ``flat`` (class folders)."""
    for batches in (root / _BATCHES, root):
        if (batches / "batches.meta").is_file() or (batches / "test_batch").is_file():
            return "pickles"
    if any((root / name).is_dir() for name in ("train", "test", "val")):
        return "split"
    if any(e.is_dir() and not e.name.startswith(".") for e in os.scandir(root)):
        return "flat"
    raise ValueError(f"data directory {root} has neither a {_BATCHES}/ folder, nor train/ and test/ (or val/) "
                     "folders of class folders, nor class folders of images")


def _decode_split(split_dir: Path, split: str, image_size: int | None, cache_dir: PathLike | None, use_cache: bool,
                  workers: int | None, progress: bool | None, skip_bad: bool) -> ImageSet:
    classes, files, stamp = list_folder(split_dir)
    resolved = str(split_dir.resolve())
    fingerprint = f"v{_CACHE_VERSION}|{resolved}|{image_size}|{skip_bad}|{stamp}"
    key = hashlib.sha256(f"{resolved}|{image_size}|{skip_bad}".encode()).hexdigest()[:20]
    cache_file = _cache_root(cache_dir) / "decoded" / f"{split}-{key}.pt"
    cached = _read_cache(cache_file, fingerprint) if use_cache else None
    if cached is not None:
        return cached
    paths = [p for f in files for p in f]
    images, skipped = _decode_files(paths, split_dir, image_size, workers, progress, skip_bad)
    labels = torch.repeat_interleave(torch.arange(len(classes)), torch.tensor([len(f) for f in files]))
    if skipped:
        bad = set(skipped)
        labels = labels[torch.tensor([p not in bad for p in paths])]
    if use_cache:
        _save_cache(cache_file, {"fingerprint": fingerprint, "images": images, "labels": labels,
                                 "classes": list(classes), "skipped": skipped})
    return ImageSet(images, labels, classes, tuple(skipped))


def probe_layout(data_dir: PathLike) -> tuple[str, int]:
    """``("pickles", 32)`` for a CIFAR-10 pickle root, else ``("split" | "flat", size)`` with the
    larger side of the first training image; a one-line ``ValueError`` naming ``--data-dir`` for
    anything else."""
    root = Path(data_dir).expanduser()
    try:
        layout = _layout(_check_root(root))
        if layout == "pickles":
            return "pickles", 32
        if layout == "split":
            _split_dir(root, "test")
        _, files, _ = list_folder(_split_dir(root, "train") if layout == "split" else root)
    except ValueError as exc:
        raise ValueError(f"--data-dir: {exc}") from None
    for path in (p for f in files for p in f):
        try:
            with Image.open(path) as img:
                return layout, max(img.size)
        except Exception:  # a bad file is reported (or skipped) when the images are read
            continue
    raise ValueError(f"--data-dir: no image under {root} can be read")


def _check_root(root: Path) -> Path:
    if not root.exists():
        raise ValueError(f"data directory {root} does not exist")
    if not root.is_dir():
        raise ValueError(f"data directory {root} is a file, not a directory")
    if not any(root.iterdir()):
        raise ValueError(f"data directory {root} is empty")
    return root


def _resized(data: ImageSet, image_size: int | None) -> ImageSet:
    if image_size is None or image_size == data.images.shape[-1]:
        return data
    big = F.interpolate(data.images.float(), size=(image_size,) * 2, mode="bilinear", antialias=True)
    return ImageSet(big.round_().clamp_(0, 255).to(torch.uint8), data.labels, data.classes)


def _split_dir(root: Path, split: str) -> Path:
    names = ("train",) if split == "train" else ("test", "val")
    split_dir = next((root / n for n in names if (root / n).is_dir()), None)
    if split_dir is None:
        raise ValueError(f"data directory {root} has no {' or '.join(n + '/' for n in names)} folder (or give"
                         " a folder of class folders with no split: a test split is then carved out)")
    return split_dir


def _read_cache(cache_file: Path, fingerprint: str) -> ImageSet | None:
    if not cache_file.is_file():
        return None
    try:
        blob = torch.load(cache_file, weights_only=True)
        if blob["fingerprint"] == fingerprint:
            return ImageSet(blob["images"], blob["labels"], tuple(blob["classes"]), tuple(blob.get("skipped", ())))
    except Exception:  # unreadable or foreign cache file: decode again and overwrite it
        pass
    return None


# --- subsets ---------------------------------------------------------------------------------------


def derive_seed(seed: int, stream: int) -> int:
    """An independent seed for ``stream`` of ``seed`` (the selections, the epochs' batches)."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(1)[0])


def stratified_subset(labels: torch.Tensor | Sequence[int], n: int, seed: int) -> torch.Tensor:
    """``n`` sorted indices, an equal share per class as far as the classes allow (ties by ``seed``).

    Same labels and seed give the same indices; for balanced labels a smaller ``n`` picks a subset of
    a larger ``n``'s indices (the draws do not depend on ``n``).
    """
    y = torch.as_tensor(labels, dtype=torch.int64).cpu().numpy()
    _check_int("subset size", n, 1, len(y), " (the number of samples available)")
    classes, counts = np.unique(y, return_counts=True)
    rng = np.random.default_rng(int(seed))
    order = rng.permutation(len(classes))  # which classes get the remainder
    perms = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    quota, left = np.zeros(len(classes), dtype=np.int64), int(n)
    while left:  # water-filling: classes that run out hand their share to the others
        open_ = [k for k in order if quota[k] < counts[k]]
        share = left // len(open_)
        if share == 0:
            quota[open_[:left]] += 1
            break
        for k in open_:
            take = min(share, counts[k] - quota[k])
            quota[k], left = quota[k] + take, left - take
    return torch.from_numpy(np.sort(np.concatenate([p[:q] for p, q in zip(perms, quota, strict=True)])))


def train_val_split(labels: torch.Tensor | Sequence[int], val_size: int, seed: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint sorted ``(train_idx, val_idx)`` covering all samples; the validation part is stratified."""
    y = torch.as_tensor(labels, dtype=torch.int64)
    val = stratified_subset(y, _check_int("val_size", val_size, 1, len(y) - 1, " (must leave training data)"),
                            seed)
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[val] = False
    return keep.nonzero().flatten(), val
