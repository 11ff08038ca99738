"""Data for full training (``python -m nas.train``): small images in memory, large images streamed.

``--data-dir`` takes every layout :func:`proxies.load_dataset` reads: a torchvision CIFAR-10 root, an
ImageFolder root with ``train/`` and ``test/`` (or ``val/``, the ImageNet layout), or a root of class
folders with no split (the same stratified test split as the proxies carve, ``--test-fraction``).
At a resolution up to 64 px the images are decoded once (any size and mode -> RGB, shorter side then
centre crop) into :mod:`proxies.data.images`'s uint8 cache and batched by :class:`proxies.BatchLoader`
(4-pixel pad-and-crop plus horizontal flip). Above, they are read from their files by a
``DataLoader``: ``RandomResizedCrop`` plus flip for training, ``Resize(256/224 * r)`` plus
``CenterCrop(r)`` for evaluation. Normalisation: the mean and std of the training split (in
memory: all of it; streamed: 512 images evenly spaced), never another data set's constants.

Selection: a stratified ``val_size`` split held out of the training set (best-model selection; default
5,000 images, or a tenth of the set if that is fewer), then a stratified ``train_subset`` of the rest, both
fixed by the seed (the very functions :func:`proxies.prepare_data` selects with); the test split, or a
stratified ``test_subset`` of it, is only reported.
Every epoch's order and augmentation depend only on ``(seed, epoch)``, so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .folder import carve_test, decode_files, list_folder
from .images import derive_seed, load_dataset, probe_layout
from .loader import BatchLoader, DataOptions, channel_stats, select_test, select_train
from .runtime import channels_last

__all__ = ["SMALL_IMAGE_MAX", "FullData", "prepare_full_data"]

DEFAULT_VAL_SIZE = 5000  # held-out images (at most a tenth of the training set) unless given
SMALL_IMAGE_MAX = 64  # images up to this size (and this training resolution) are held in memory

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass(eq=False)
class FullData:
    """Training batches per epoch (``train_epoch(e)``, ``steps_per_epoch``), optional held-out
    validation batches and test batches, plus what a checkpoint records about the data."""

    kind: str  # "memory" or "stream"
    resolution: int
    classes: tuple[str, ...]
    sizes: dict[str, int]  # images in train / val / test
    _train: object
    _val: object | None
    _test: object
    skipped: int = 0  # unreadable images left out (--skip-bad-images; the memory path counts them)

    @property
    def steps_per_epoch(self) -> int:
        return len(self._train)

    def train_epoch(self, epoch: int) -> Batches:
        return self._train.epoch(epoch)

    def val(self) -> Batches | None:
        return self._val

    def test(self) -> Batches:
        return self._test


def _select(labels: torch.Tensor, train_subset: int | None, val_size: int | None, seed: int
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The proxy's selection (:func:`proxies.data.loader.select_train`), with full training's default
    validation size: 5,000 images, or a tenth of the set if that is fewer."""
    return select_train(labels, min(DEFAULT_VAL_SIZE, len(labels) // 10) if val_size is None else val_size,
                        train_subset, seed)


def prepare_full_data(root: Path, *, resolution: int | None, train_subset: int | None, val_size: int | None,
                      test_subset: int | None, seed: int, batch_size: int, device: torch.device,
                      workers: int, progress: bool | None = None, options: DataOptions | None = None) -> FullData:
    """Load ``root`` (any layout :func:`proxies.load_dataset` reads) for full training at ``resolution``
    (None: the images' own size if small, else 224). Up to ``SMALL_IMAGE_MAX`` px the images are
    decoded into memory at that size; above, they are streamed from disk."""
    options = options or DataOptions()
    layout, native = probe_layout(root)
    resolution = resolution or (native if native <= SMALL_IMAGE_MAX else 224)
    if resolution <= SMALL_IMAGE_MAX:
        return _memory_data(root, resolution, train_subset, val_size, test_subset, seed, batch_size, device,
                            progress, options)
    if layout == "pickles":
        raise ValueError(f"--resolution {resolution}: a CIFAR-10 pickle root trains at <= {SMALL_IMAGE_MAX} px "
                         "(use an ImageFolder copy of it for larger inputs)")
    return _stream_data(root, layout, resolution, train_subset, val_size, test_subset, seed, batch_size, device,
                        workers, options)


def _memory_data(root: Path, resolution: int, train_subset: int | None, val_size: int | None,
                 test_subset: int | None, seed: int, batch_size: int, device: torch.device,
                 progress: bool | None, options: DataOptions) -> FullData:
    opts = {"image_size": resolution, "progress": progress, "test_fraction": options.test_fraction,
            "skip_bad": options.skip_bad}
    train = load_dataset(root, "train", **opts)
    test = load_dataset(root, "test", **opts)
    if test.classes != train.classes:
        raise ValueError(f"--data-dir: the test split of {root} has other classes than the train split")
    rest, val = _select(train.labels, train_subset, val_size, seed)
    keep = select_test(test.labels, test_subset, seed)
    nhwc = channels_last(device)
    mean, std = channel_stats(train.images)

    def loader(x: torch.Tensor, y: torch.Tensor, training: bool = False) -> BatchLoader:
        return BatchLoader(x.contiguous(), y.contiguous(), batch_size if training else 500, shuffle=training,
                           augment=training, seed=seed, drop_last=training, pad=4, mean=mean,
                           std=std, device=device, channels_last=nhwc)

    train_loader = loader(train.images[rest], train.labels[rest], training=True)
    val_loader = None if val is None else loader(train.images[val], train.labels[val])
    sizes = {"train": len(rest), "val": 0 if val is None else len(val), "test": len(keep)}
    data = FullData("memory", resolution, train.classes, sizes, train_loader, val_loader,
                    loader(test.images[keep], test.labels[keep]))
    data.skipped = len(set(train.skipped) | set(test.skipped))
    return data


class _Stream:
    """DataLoader batches moved to ``device``; ``epoch(e)`` shuffles (and seeds the workers) by ``(seed, e)``."""

    def __init__(self, dataset: torch.utils.data.Dataset, batch_size: int, device: torch.device, workers: int,
                 seed: int | None) -> None:
        self.dataset, self.batch_size, self.device, self.workers, self.seed = (dataset, batch_size, device,
                                                                               workers, seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.seed is not None else -(-n // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from torch.utils.data import DataLoader, RandomSampler

        shuffle = self.seed is not None
        gen = torch.Generator().manual_seed(derive_seed(self.seed or 0, epoch))
        loader = DataLoader(self.dataset, self.batch_size, sampler=RandomSampler(self.dataset, generator=gen)
                            if shuffle else None, drop_last=shuffle, num_workers=self.workers, generator=gen,
                            pin_memory=self.device.type == "cuda", persistent_workers=False)
        memory_format = torch.channels_last if channels_last(self.device) else torch.contiguous_format
        for x, y in loader:
            yield x.to(self.device, non_blocking=True, memory_format=memory_format), y.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(0)


class _Files(torch.utils.data.Dataset):
    """Images read from their files (any mode -> RGB) with a torchvision transform. A file that cannot
    be read stops the run naming it, or, with ``skip_bad``, is replaced by the next readable one."""

    def __init__(self, paths: list[str], labels: list[int], transform, skip_bad: bool) -> None:
        self.paths, self.labels, self.transform, self.skip_bad = paths, labels, transform, skip_bad

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        for j in range(len(self.paths)):
            path = self.paths[(i + j) % len(self.paths)]
            try:
                with Image.open(path) as img:
                    return self.transform(img.convert("RGB")), self.labels[(i + j) % len(self.paths)]
            except Exception as exc:
                if not self.skip_bad:
                    raise ValueError(f"cannot read image {path} ({type(exc).__name__}; --skip-bad-images"
                                     " leaves such files out)") from None
        raise ValueError("no image can be read")


def _file_splits(root: Path, layout: str, test_fraction: float) -> tuple[tuple[str, ...], dict]:
    """Class names and ``{"train": (paths, labels), "test": (paths, labels)}`` of a folder layout."""
    if layout == "split":
        test_dir = next(root / s for s in ("test", "val") if (root / s).is_dir())
        dirs = {"train": root / "train", "test": test_dir}
        listed = {k: list_folder(d) for k, d in dirs.items()}
        classes = listed["train"][0]
        if listed["test"][0] != classes:
            raise ValueError(f"--data-dir: {test_dir} has other classes than {root / 'train'}")
        return classes, {k: ([p for f in files for p in f], [c for c, f in enumerate(files) for _ in f])
                         for k, (_, files, _) in listed.items()}
    classes, files, _ = list_folder(root)
    paths = [p for f in files for p in f]
    labels = torch.tensor([c for c, f in enumerate(files) for _ in f])
    test = set(carve_test(labels, test_fraction).tolist())
    out = {k: ([p for i, p in enumerate(paths) if (i in test) == (k == "test")],
               [int(y) for i, y in enumerate(labels) if (i in test) == (k == "test")]) for k in ("train", "test")}
    return classes, out


def _sample_stats(paths: list[str], resolution: int, skip_bad: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of (up to) 512 training images, evenly spaced, at the training resolution."""
    step = max(1, len(paths) // 512)
    images, _ = decode_files(paths[::step][:512], Path("training images"), resolution, 1, False, skip_bad)
    return channel_stats(images)


def _stream_data(root: Path, layout: str, resolution: int, train_subset: int | None, val_size: int | None,
                 test_subset: int | None, seed: int, batch_size: int, device: torch.device, workers: int,
                 options: DataOptions) -> FullData:
    from torchvision import transforms as T

    classes, files = _file_splits(root, layout, options.test_fraction)
    train_paths, train_labels = files["train"]
    norm = T.Normalize(*_sample_stats(train_paths, resolution, options.skip_bad))
    train_tf = T.Compose([T.RandomResizedCrop(resolution), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    eval_tf = T.Compose([T.Resize(round(resolution * 256 / 224)), T.CenterCrop(resolution), T.ToTensor(), norm])
    rest, val = _select(torch.tensor(train_labels), train_subset, val_size, seed)
    test_paths, test_labels = files["test"]
    keep = select_test(torch.tensor(test_labels), test_subset, seed).tolist()

    def files_of(paths: list[str], labels: list[int], idx: list[int], tf) -> _Files:
        return _Files([paths[i] for i in idx], [labels[i] for i in idx], tf, options.skip_bad)

    val_stream = None if val is None else _Stream(files_of(train_paths, train_labels, val.tolist(), eval_tf),
                                                  batch_size, device, workers, None)
    sizes = {"train": len(rest), "val": 0 if val is None else len(val), "test": len(keep)}
    return FullData("stream", resolution, classes, sizes,
                    _Stream(files_of(train_paths, train_labels, rest.tolist(), train_tf), batch_size, device,
                            workers, seed), val_stream,
                    _Stream(files_of(test_paths, test_labels, keep, eval_tf), batch_size, device, workers, None))
