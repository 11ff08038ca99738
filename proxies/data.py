"""The proxy task's data: CIFAR-10 (or any ImageFolder) decoded once into uint8 tensors.

Layouts: torchvision's ``cifar-10-batches-py`` pickles (that folder or its parent), or an
ImageFolder root with ``train/`` and ``test/`` (or ``val/``) folders of class folders. A decoded
ImageFolder split is cached as ``<cache>/decoded/<split>-<hash>.pt`` (cache: ``$BINAS_CACHE_DIR``,
else ``$XDG_CACHE_HOME/binas``, else ``~/.cache/binas``), rebuilt when a class folder's mtime or
number of images changes (an image edited in place changes neither). Proxies select on a
stratified validation split of the training set; the test split is for final reporting only.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import pickle
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from search_space.checks import is_int
from search_space.files import atomic_write

from .runtime import usable_cpus

__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "IMAGE_EXTENSIONS", "ImageSet", "default_cache_dir", "derive_seed",
    "load_dataset", "probe_layout", "resolve_data_dir", "stratified_subset", "train_val_split",
]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
SPLITS = ("train", "test")
_BATCHES = "cifar-10-batches-py"
_PICKLES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_CACHE_VERSION = 1

PathLike = str | os.PathLike
Device = torch.device | str | None


@dataclass(frozen=True, eq=False)
class ImageSet:
    """One decoded split: ``images`` uint8 (N, 3, H, W), ``labels`` int64 (N,), class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]


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


def _list_folder(split_dir: Path) -> tuple[tuple[str, ...], list[list[str]], str]:
    """Class names, image paths per class and a fingerprint of the folder's state."""
    class_dirs = sorted((e for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")),
                        key=lambda e: e.name)
    if not class_dirs:
        raise ValueError(f"{split_dir} has no class folders (expected {split_dir}/<class>/<image>)")
    files, stamp = [], []
    for entry in class_dirs:
        names = sorted(f.name for f in os.scandir(entry.path) if f.name.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise ValueError(f"class folder {entry.path} contains no images ({', '.join(IMAGE_EXTENSIONS)})")
        files.append([os.path.join(entry.path, n) for n in names])
        stamp.append(f"{entry.name}:{entry.stat().st_mtime_ns}:{len(names)}")
    return tuple(d.name for d in class_dirs), files, "|".join(stamp)


def _decode_chunk(task: tuple[list[str], int | None]) -> tuple[str, object, object]:
    """Worker: ("ok", array (n, H, W, 3), None), ("error", path, reason) or ("size", path, shapes)."""
    paths, size = task
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if size is not None and img.size != (size, size):
                    img = img.resize((size, size), Image.Resampling.BICUBIC)
                arrays.append(np.asarray(img, dtype=np.uint8))
        except Exception as exc:
            return "error", path, _one_line(exc)
        if arrays[-1].shape != arrays[0].shape:
            return "size", path, (arrays[0].shape, arrays[-1].shape)
    return "ok", np.stack(arrays), None


def _decode_files(paths: list[str], split_dir: Path, image_size: int | None, workers: int | None,
                  progress: bool | None) -> torch.Tensor:
    """PIL decode, in a process pool for large folders; returns uint8 (N, 3, H, W)."""
    if workers is None:
        workers = min(usable_cpus(), 8) if len(paths) >= 4096 else 1
    chunk = max(64, min(2048, math.ceil(len(paths) / (8 * max(workers, 1)))))
    tasks = [(paths[i:i + chunk], image_size) for i in range(0, len(paths), chunk)]
    parts: list[np.ndarray] = []
    with tqdm(total=len(paths), desc=f"decoding {split_dir}", unit="img", leave=False,
              disable=None if progress is None else not progress) as bar:

        def consume(results: Iterator[tuple[str, object, object]]) -> None:
            for (chunk_paths, _), (status, value, info) in zip(tasks, results, strict=False):
                if status == "error":
                    raise ValueError(f"cannot read image {value}: {info}")
                if status == "ok" and parts and parts[0].shape[1:] != value.shape[1:]:
                    status, value, info = "size", chunk_paths[0], (parts[0].shape[1:], value.shape[1:])
                if status == "size":
                    path, (a, b) = value, info
                    raise ValueError(f"image {path} is {b[1]}x{b[0]} but other images in {split_dir} are "
                                     f"{a[1]}x{a[0]}; pass image_size to resize them")
                parts.append(value)
                bar.update(len(value))

        if workers <= 1 or len(tasks) == 1:
            consume(map(_decode_chunk, tasks))
        else:  # fork: no re-import of torch in the workers, which only run PIL
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12: fork with threads
                with multiprocessing.get_context(method).Pool(workers) as pool:
                    consume(pool.imap(_decode_chunk, tasks))
    return torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2).contiguous()


def _save_cache(cache_file: Path, blob: dict) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, lambda f: torch.save(blob, f))  # written whole, then renamed
    except OSError as exc:
        warnings.warn(f"could not write the data cache {cache_file}: {_one_line(exc)}", stacklevel=3)


def load_dataset(data_dir: PathLike, split: str = "train", *, image_size: int | None = None,
                 cache_dir: PathLike | None = None, use_cache: bool = True, workers: int | None = None,
                 progress: bool | None = None) -> ImageSet:
    """Decode one split (``"train"`` or ``"test"``) of a CIFAR-10 pickle root or an ImageFolder root.

    ``image_size=None`` keeps the images' own size (they must all agree); an int resizes every image
    that differs to ``image_size`` squared. ``workers=None`` picks a process pool for >= 4096 files.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    if image_size is not None:
        _check_int("image_size", image_size)
    root = _check_root(Path(data_dir).expanduser())
    for batches in (root / _BATCHES, root):
        if (batches / "batches.meta").is_file() or (batches / "test_batch").is_file():
            return _resized(_load_pickles(batches, split), image_size)
    split_dir = _split_dir(root, split)
    classes, files, stamp = _list_folder(split_dir)
    resolved = str(split_dir.resolve())
    fingerprint = f"v{_CACHE_VERSION}|{resolved}|{image_size}|{stamp}"
    key = hashlib.sha256(f"{resolved}|{image_size}".encode()).hexdigest()[:20]
    cache_file = _cache_root(cache_dir) / "decoded" / f"{split}-{key}.pt"
    cached = _read_cache(cache_file, fingerprint) if use_cache else None
    if cached is not None:
        return cached
    images = _decode_files([p for f in files for p in f], split_dir, image_size, workers, progress)
    labels = torch.repeat_interleave(torch.arange(len(classes)), torch.tensor([len(f) for f in files]))
    if use_cache:
        _save_cache(cache_file, {"fingerprint": fingerprint, "images": images, "labels": labels,
                                 "classes": list(classes)})
    return ImageSet(images, labels, classes)


def probe_layout(data_dir: PathLike) -> tuple[str, int]:
    """``("pickles", 32)`` for a CIFAR-10 pickle root, else ``("folder", size)`` with the larger side
    of the first training image; a one-line ``ValueError`` naming ``--data-dir`` for anything else."""
    root = Path(data_dir).expanduser()
    try:
        _check_root(root)
        for batches in (root / _BATCHES, root):
            if (batches / "batches.meta").is_file() or (batches / "test_batch").is_file():
                return "pickles", 32
        _split_dir(root, "test")
        classes, files, _ = _list_folder(_split_dir(root, "train"))
    except ValueError as exc:
        raise ValueError(f"--data-dir: {exc}") from None
    first = next((f[0] for f in files if f), None)
    if first is None:
        raise ValueError(f"--data-dir: {root / 'train'} has no class folders with images")
    path = Path(first)
    try:
        with Image.open(path) as img:
            return "folder", max(img.size)
    except Exception as exc:
        raise ValueError(f"--data-dir: cannot read image {path} ({type(exc).__name__})") from None


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
    if not any((root / name).is_dir() for name in ("train", "test", "val")):
        raise ValueError(f"data directory {root} has neither a {_BATCHES}/ folder nor train/ and test/ "
                         "(or val/) folders of class folders")
    names = ("train",) if split == "train" else ("test", "val")
    split_dir = next((root / n for n in names if (root / n).is_dir()), None)
    if split_dir is None:
        raise ValueError(f"data directory {root} has no {' or '.join(n + '/' for n in names)} folder")
    return split_dir


def _read_cache(cache_file: Path, fingerprint: str) -> ImageSet | None:
    if not cache_file.is_file():
        return None
    try:
        blob = torch.load(cache_file, weights_only=True)
        if blob["fingerprint"] == fingerprint:
            return ImageSet(blob["images"], blob["labels"], tuple(blob["classes"]))
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
