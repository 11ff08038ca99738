"""Image folders: list the class folders, decode any image to RGB at one size, carve a test split.

* **Sizes and modes.** Every image is converted to RGB (grayscale, palette, RGBA, CMYK ...). With a
  ``size``, an image is resized so that its shorter side is ``size`` (bicubic, antialiased), then
  centre-cropped to ``size`` x ``size`` (torchvision's ``Resize(size)`` + ``CenterCrop(size)``);
  an image already ``size`` x ``size`` is left as it is. Without one, all images must agree.
* **Bad files.** A file PIL cannot open or decode whole (truncated, not an image) stops the load
  with one line naming it, or, with ``skip_bad``, is left out and reported.
* **No split.** A root of class folders with no ``train/`` / ``test/`` is one pool of images: a
  stratified ``test_fraction`` of every class (at least one image of a class with two or more) is
  the test split, the same on every machine for the same files; the rest is the training split.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .runtime import usable_cpus

__all__ = ["DEFAULT_TEST_FRACTION", "IMAGE_EXTENSIONS", "carve_test", "decode_files", "fit_image", "list_folder"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
DEFAULT_TEST_FRACTION = 0.2
_CARVE_SEED = 20211  # fixed: the carved test split never depends on a run's --seed


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def list_folder(split_dir: Path) -> tuple[tuple[str, ...], list[list[str]], str]:
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


def fit_image(img: Image.Image, size: int | None) -> Image.Image:
    """``img`` in RGB; with ``size``: shorter side to ``size``, then the centre ``size`` x ``size``."""
    img = img.convert("RGB")
    if size is None or img.size == (size, size):
        return img
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=None)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def _worker_signals() -> None:
    """A decode worker ends on SIGTERM (``Pool.terminate``) and leaves Ctrl-C to its parent, whatever
    handlers it inherited by fork: a handler that only sets a flag (a search's graceful stop) would
    keep it alive and hang the parent's join."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_chunk(task: tuple[list[str], int | None, bool]) -> tuple[str, object, object]:
    """Worker: ("ok", array (n, H, W, 3), skipped paths), ("error", path, reason) or ("size", path, shapes)."""
    paths, size, skip_bad = task
    arrays, skipped = [], []
    for path in paths:
        try:
            with Image.open(path) as img:
                arrays.append(np.asarray(fit_image(img, size), dtype=np.uint8))
        except Exception as exc:
            if not skip_bad:
                return "error", path, _one_line(exc)
            skipped.append(path)
            continue
        if arrays[-1].shape != arrays[0].shape:
            return "size", path, (arrays[0].shape, arrays[-1].shape)
    return "ok", np.stack(arrays) if arrays else None, skipped


def decode_files(paths: list[str], where: Path, size: int | None, workers: int | None, progress: bool | None,
                 skip_bad: bool = False) -> tuple[torch.Tensor, list[str]]:
    """PIL decode, in a process pool for large folders; returns uint8 (N, 3, H, W) and the paths
    skipped (``skip_bad``; else a bad file is a one-line ``ValueError`` naming it)."""
    if workers is None:
        workers = min(usable_cpus(), 8) if len(paths) >= 4096 else 1
    chunk = max(64, min(2048, math.ceil(len(paths) / (8 * max(workers, 1)))))
    tasks = [(paths[i:i + chunk], size, skip_bad) for i in range(0, len(paths), chunk)]
    parts: list[np.ndarray] = []
    skipped: list[str] = []
    with tqdm(total=len(paths), desc=f"decoding {where}", unit="img", leave=False,
              disable=None if progress is None else not progress) as bar:

        def consume(results: Iterator[tuple[str, object, object]]) -> None:
            for (chunk_paths, _, _), (status, value, info) in zip(tasks, results, strict=False):
                if status == "error":
                    raise ValueError(f"cannot read image {value}: {info} (--skip-bad-images leaves such files out)")
                if status == "ok" and value is not None and parts and parts[0].shape[1:] != value.shape[1:]:
                    status, value, info = "size", chunk_paths[0], (parts[0].shape[1:], value.shape[1:])
                if status == "size":
                    path, (a, b) = value, info
                    raise ValueError(f"image {path} is {b[1]}x{b[0]} but other images in {where} are {a[1]}x{a[0]};"
                                     " images of mixed sizes need a size to be resized to (--proxy-resolution, or"
                                     " --resolution for nas.train)")
                if value is not None:
                    parts.append(value)
                skipped.extend(info)
                bar.update(len(chunk_paths))

        if workers <= 1 or len(tasks) == 1:
            consume(map(_decode_chunk, tasks))
        else:  # fork: no re-import of torch in the workers, which only run PIL
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12: fork with threads
                context = multiprocessing.get_context(method)
                # an executor, not a Pool: a Pool left by an exception (a bad file) terminates its workers,
                # and that can hang for ever (seen under pytest-xdist); here the chunks not started are
                # cancelled and the running ones finish
                with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_signals) as pool:
                    try:
                        consume(pool.map(_decode_chunk, tasks))
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
    if not parts:
        raise ValueError(f"no image in {where} could be read ({len(skipped)} skipped)")
    return torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2).contiguous(), skipped


def carve_test(labels: torch.Tensor, fraction: float) -> torch.Tensor:
    """Sorted indices of a stratified test split: ``round(fraction * n_c)`` images of every class c
    (at least 1 where the class has 2 or more, never all of a class), by a fixed seed."""
    if not 0 < fraction < 1:
        raise ValueError(f"--test-fraction: invalid value {fraction!r} (expected a number between 0 and 1)")
    y = labels.cpu().numpy()
    rng = np.random.default_rng(_CARVE_SEED)
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = min(len(idx) - 1, max(1 if len(idx) >= 2 else 0, round(fraction * len(idx))))
        picked.append(rng.permutation(idx)[:k])
    return torch.from_numpy(np.sort(np.concatenate(picked)))
