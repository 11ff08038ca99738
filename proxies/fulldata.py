"""Data for full training (``python -m nas.train``): small images in memory, large images streamed.

``--data-dir`` is a torchvision CIFAR-10 root or an ImageFolder root with ``train/`` and ``test/``
(or ``val/``, the ImageNet layout) folders of class folders. Small images (<= 64 px, e.g. CIFAR-10)
are decoded once into :mod:`proxies.data`'s uint8 cache and batched by :class:`proxies.BatchLoader`
(4-pixel pad-and-crop plus horizontal flip, CIFAR-10 mean/std). Large images go through torchvision's
``ImageFolder`` and a ``DataLoader``: ``RandomResizedCrop`` plus flip for training, ``Resize(256/224 *
r)`` plus ``CenterCrop(r)`` for evaluation, ImageNet mean/std.

Selection: a stratified ``val_size`` split held out of the training set (best-model selection; default
5,000 images, or a tenth of the set if that is fewer), then a stratified ``train_subset`` of the rest, both
fixed by the seed (the very functions :func:`proxies.prepare_data` selects with); the test split, or a stratified
``test_subset`` of it, is only reported.
Every epoch's order and augmentation depend only on ``(seed, epoch)``, so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import CIFAR10_MEAN, CIFAR10_STD, derive_seed, load_dataset, probe_layout
from .loader import BatchLoader, select_test, select_train

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SMALL_IMAGE_MAX", "FullData", "prepare_full_data"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
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
    """The proxy's selection (:func:`proxies.loader.select_train`), with full training's default
    validation size: 5,000 images, or a tenth of the set if that is fewer."""
    return select_train(labels, min(DEFAULT_VAL_SIZE, len(labels) // 10) if val_size is None else val_size,
                        train_subset, seed)


def prepare_full_data(root: Path, *, resolution: int | None, train_subset: int | None, val_size: int | None,
                      test_subset: int | None, seed: int, batch_size: int, device: torch.device,
                      workers: int, progress: bool | None = None) -> FullData:
    """Load ``root`` for full training; ``resolution=None``: the images' own size if small, else 224."""
    layout, native = probe_layout(root)
    small = native <= SMALL_IMAGE_MAX
    resolution = resolution or (native if small else 224)
    if small and resolution <= SMALL_IMAGE_MAX:
        return _memory_data(root, resolution if resolution != native else None, native, train_subset, val_size,
                            test_subset, seed, batch_size, device, progress)
    if layout == "pickles":
        raise ValueError(f"--resolution {resolution}: a CIFAR-10 pickle root trains at <= {SMALL_IMAGE_MAX} px "
                         "(use an ImageFolder copy of it for larger inputs)")
    return _stream_data(root, resolution, train_subset, val_size, test_subset, seed, batch_size, device, workers)


def _memory_data(root: Path, image_size: int | None, native: int, train_subset: int | None, val_size: int | None,
                 test_subset: int | None, seed: int, batch_size: int, device: torch.device,
                 progress: bool) -> FullData:
    train = load_dataset(root, "train", image_size=image_size, progress=progress)
    test = load_dataset(root, "test", image_size=image_size, progress=progress)
    if test.classes != train.classes:
        raise ValueError(f"--data-dir: the test split of {root} has other classes than the train split")
    rest, val = _select(train.labels, train_subset, val_size, seed)
    keep = select_test(test.labels, test_subset, seed)
    channels_last = device.type == "cuda"

    def loader(x: torch.Tensor, y: torch.Tensor, training: bool = False) -> BatchLoader:
        return BatchLoader(x.contiguous(), y.contiguous(), batch_size if training else 500, shuffle=training,
                           augment=training, seed=seed, drop_last=training, pad=4, mean=CIFAR10_MEAN,
                           std=CIFAR10_STD, device=device, channels_last=channels_last)

    train_loader = loader(train.images[rest], train.labels[rest], training=True)
    val_loader = None if val is None else loader(train.images[val], train.labels[val])
    sizes = {"train": len(rest), "val": 0 if val is None else len(val), "test": len(keep)}
    return FullData("memory", image_size or native, train.classes, sizes, train_loader, val_loader,
                    loader(test.images[keep], test.labels[keep]))


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
        memory_format = torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
        for x, y in loader:
            yield x.to(self.device, non_blocking=True, memory_format=memory_format), y.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(0)


def _stream_data(root: Path, resolution: int, train_subset: int | None, val_size: int | None, test_subset: int | None,
                 seed: int, batch_size: int, device: torch.device, workers: int) -> FullData:
    from torch.utils.data import Subset
    from torchvision import transforms as T
    from torchvision.datasets import ImageFolder

    norm = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train_tf = T.Compose([T.RandomResizedCrop(resolution), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    eval_tf = T.Compose([T.Resize(round(resolution * 256 / 224)), T.CenterCrop(resolution), T.ToTensor(), norm])
    test_dir = next(root / s for s in ("test", "val") if (root / s).is_dir())
    try:
        train_aug, train_plain = ImageFolder(str(root / "train"), train_tf), ImageFolder(str(root / "train"), eval_tf)
        test = ImageFolder(str(test_dir), eval_tf)
    except (OSError, RuntimeError) as exc:  # FileNotFoundError: a split without class folders or images
        raise ValueError(f"--data-dir: {' '.join(str(exc).split())[:200]}") from None
    if test.classes != train_aug.classes:
        raise ValueError(f"--data-dir: {test_dir} has other classes than {root / 'train'}")
    rest, val = _select(torch.tensor(train_aug.targets), train_subset, val_size, seed)
    keep = select_test(torch.tensor(test.targets), test_subset, seed)
    val_stream = None if val is None else _Stream(Subset(train_plain, val.tolist()), batch_size, device, workers, None)
    sizes = {"train": len(rest), "val": 0 if val is None else len(val), "test": len(keep)}
    return FullData("stream", resolution, tuple(train_aug.classes), sizes,
                    _Stream(Subset(train_aug, rest.tolist()), batch_size, device, workers, seed), val_stream,
                    _Stream(Subset(test, keep.tolist()), batch_size, device, workers, None))
