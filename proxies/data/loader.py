"""In-memory training batches (augmented on whole batches) and the proxy's data bundle.

``prepare_data`` loads a split once (see :mod:`proxies.data.images`), holds out a stratified validation
split of the training set, keeps a stratified training subset and, optionally, the test split.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from search_space.checks import check_int

from .folder import DEFAULT_TEST_FRACTION
from .images import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    Device,
    PathLike,
    _check_int,
    derive_seed,
    load_dataset,
    resolve_data_dir,
    stratified_subset,
    train_val_split,
)

__all__ = ["BatchLoader", "DataOptions", "ProxyData", "channel_stats", "prepare_data", "select_test", "select_train"]


# --- batches ---------------------------------------------------------------------------------------


class BatchLoader:
    """Normalised float batches from uint8 images held in memory (moved once to ``device``).

    ``augment`` pads by ``pad`` zero pixels, crops back at a random offset and flips half the images,
    per image, with whole-batch tensor ops. Iterating runs the next epoch; ``epoch(e)`` replays
    epoch ``e``, whose order and augmentation depend only on ``(seed, e)``, on any device.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, shuffle: bool = False,
                 augment: bool = False, seed: int = 0, drop_last: bool = False, pad: int = 4,
                 mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD,
                 device: Device = None, channels_last: bool = False) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (len(images),):
            raise ValueError(f"labels of shape {tuple(labels.shape)} do not match {len(images)} images")
        if len(mean) != images.shape[1] or len(std) != images.shape[1]:
            raise ValueError(f"mean {tuple(mean)} / std {tuple(std)} do not match {images.shape[1]} channels")
        self.batch_size, self.pad = _check_int("batch_size", batch_size), _check_int("pad", pad, 0)
        self.device = torch.device(device) if device is not None else images.device
        self.images, self.labels = images.to(self.device), labels.to(self.device, torch.int64)
        self.shuffle, self.augment, self.seed, self.drop_last = shuffle, augment, int(seed), drop_last
        self.channels_last = channels_last
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._scale = 1.0 / (255.0 * std_t)
        self._bias = -torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1) / std_t
        self._next_epoch = 0

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._next_epoch += 1
        return self.epoch(self._next_epoch - 1)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(derive_seed(self.seed, epoch))  # CPU: same draws on any device
        n = len(self.images)
        order = torch.randperm(n, generator=gen).to(self.device) if self.shuffle else None
        for lo in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[lo:lo + self.batch_size] if order is not None else slice(lo, lo + self.batch_size)
            x, y = self.images[idx], self.labels[idx]
            if self.augment:
                x = self._crop_flip(x, gen)
            elif self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x = x.float().mul_(self._scale).add_(self._bias)  # keeps the memory format of x
            yield (x if self.channels_last else x.contiguous()), y

    def _crop_flip(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Random crop of the zero-padded images plus horizontal flip, as one gather of NHWC pixels."""
        b, c, h, w = x.shape
        p = self.pad
        offsets = torch.randint(0, 2 * p + 1, (2, b), generator=gen)
        flip = torch.rand(b, generator=gen) < 0.5
        rows = offsets[0, :, None] + torch.arange(h)
        cols = offsets[1, :, None] + torch.where(flip[:, None], torch.arange(w - 1, -1, -1), torch.arange(w))
        pixel = (torch.arange(b)[:, None, None] * (h + 2 * p) + rows[:, :, None]) * (w + 2 * p) + cols[:, None]
        padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, p, p, p, p)).reshape(-1, c)  # rows of C bytes
        out = padded.index_select(0, pixel.view(-1).to(x.device)).view(b, h, w, c)
        return out.permute(0, 3, 1, 2)  # NCHW shape, channels_last memory


# --- the bundle ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProxyData:
    """Training subset, validation split (held out of the training set), optional test split; uint8."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None
    classes: tuple[str, ...]
    mean: tuple[float, ...] = CIFAR10_MEAN  # per channel, of the training split (0..1 pixel values)
    std: tuple[float, ...] = CIFAR10_STD
    skipped: tuple[str, ...] = ()  # unreadable files left out (--skip-bad-images)

    def __repr__(self) -> str:
        test = None if self.test_y is None else len(self.test_y)
        return (f"ProxyData(train={len(self.train_y)}, val={len(self.val_y)}, test={test}, "
                f"classes={self.num_classes}, image_size={self.image_size})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.train_x.shape[-2:])

    def train_loader(self, batch_size: int, seed: int, *, augment: bool = True, drop_last: bool = True,
                     device: Device = None, channels_last: bool = False, pad: int = 4) -> BatchLoader:
        """Shuffled, augmented batches; the short last batch is dropped (the order changes every epoch)."""
        return BatchLoader(self.train_x, self.train_y, batch_size, shuffle=True, augment=augment, seed=seed,
                           drop_last=drop_last, device=device, channels_last=channels_last, pad=pad,
                           mean=self.mean, std=self.std)

    def val_loader(self, batch_size: int = 500, *, device: Device = None,
                   channels_last: bool = False) -> BatchLoader:
        return BatchLoader(self.val_x, self.val_y, batch_size, device=device, channels_last=channels_last,
                           mean=self.mean, std=self.std)

    def test_loader(self, batch_size: int = 500, *, device: Device = None,
                    channels_last: bool = False) -> BatchLoader:
        if self.test_x is None or self.test_y is None:
            raise ValueError("this ProxyData has no test split (build it with prepare_data(with_test=True))")
        return BatchLoader(self.test_x, self.test_y, batch_size, device=device, channels_last=channels_last,
                           mean=self.mean, std=self.std)


@dataclass(frozen=True)
class DataOptions:
    """How a data directory is read, beyond the fidelity: the test fraction carved out of a folder
    with no split (``--test-fraction``) and whether unreadable images are skipped (``--skip-bad-images``)."""

    test_fraction: float = DEFAULT_TEST_FRACTION
    skip_bad: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"--test-fraction: invalid value {self.test_fraction!r} (expected a number between 0"
                             " and 1)")

    def tag(self) -> str:
        """What tells data read with these options from data read with the defaults, for the keys of
        run caches: ``""`` for the defaults (so a cache keyed by the folder alone stays valid)."""
        parts = [f"test_fraction={self.test_fraction!r}"] * (self.test_fraction != DEFAULT_TEST_FRACTION)
        return "".join(f"|{p}" for p in parts + ["skip_bad"] * self.skip_bad)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images, as 0..1 pixel values."""
    levels = torch.arange(256, dtype=torch.float64) / 255
    hist = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256) for c in range(images.shape[1])])
    hist = hist.double() / hist.sum(dim=1, keepdim=True)  # exact, fast (a float copy would take 600 MB)
    mean = hist @ levels
    std = (hist @ levels.square() - mean.square()).clamp_min(0).sqrt().clamp_min(1e-3)  # one flat colour: no 1/0
    return tuple(round(v, 5) for v in mean.tolist()), tuple(round(v, 5) for v in std.tolist())


def prepare_data(data_dir: PathLike | None, train_subset: int | None, val_size: int, seed: int, *,
                 with_test: bool = False, test_subset: int | None = None, image_size: int | None = None,
                 cache_dir: PathLike | None = None, use_cache: bool = True, workers: int | None = None,
                 progress: bool | None = None, options: DataOptions | None = None) -> ProxyData:
    """Load the training split, hold out a stratified ``val_size`` validation split, keep a stratified
    ``train_subset`` of the rest (``None``: all of it) and, with ``with_test``, the test split
    (``test_subset`` of it). ``seed`` fixes all three selections, each from its own stream, so the
    validation split does not depend on ``train_subset``. Images are normalised with the mean and
    standard deviation of the whole training split (:func:`channel_stats`)."""
    options = options or DataOptions()
    root = resolve_data_dir(data_dir, cache_dir=cache_dir)
    opts = {"image_size": image_size, "cache_dir": cache_dir, "use_cache": use_cache, "workers": workers,
            "progress": progress, "test_fraction": options.test_fraction, "skip_bad": options.skip_bad}
    train = load_dataset(root, "train", **opts)
    rest, val = select_train(train.labels, val_size, train_subset, seed)
    test_x = test_y = None
    if with_test:
        test = load_dataset(root, "test", **opts)
        if test.classes != train.classes:
            raise ValueError(f"the test split of {root} has classes {test.classes}, train has {train.classes}")
        keep = select_test(test.labels, test_subset, seed)
        test_x, test_y = test.images[keep].contiguous(), test.labels[keep].contiguous()
    val_x, val_y = (train.images[val], train.labels[val]) if val is not None else (train.images[:0], train.labels[:0])
    mean, std = channel_stats(train.images)
    return ProxyData(train.images[rest], train.labels[rest], val_x, val_y, test_x, test_y, train.classes, mean, std,
                     train.skipped)


def select_train(labels: torch.Tensor, val_size: int, train_subset: int | None, seed: int
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Indices of the training subset and of the validation split (None when ``val_size`` is 0):
    a stratified ``val_size`` held out first, then a stratified ``train_subset`` of the rest (None:
    all of it), each from its own stream of ``seed``, so the validation split does not depend on
    ``train_subset``. The proxy and full training both select with this."""
    n = len(labels)
    check_int("--val-size", val_size, 0, n - 1, f"; the data set has {n} training images")
    if val_size > 0:
        rest, val = train_val_split(labels, val_size, seed)
    else:
        rest, val = torch.arange(n), None
    if train_subset is not None:
        check_int("--train-subset", train_subset, 1, len(rest), f"; {len(rest)} images are left after --val-size"
                  f" {val_size}")
        rest = rest[stratified_subset(labels[rest], train_subset, derive_seed(seed, 1))]
    return rest, val


def select_test(labels: torch.Tensor, test_subset: int | None, seed: int) -> torch.Tensor:
    """Indices of the test images kept: all, or a stratified ``test_subset``."""
    if test_subset is None:
        return torch.arange(len(labels))
    check_int("--test-subset", test_subset, 1, len(labels), f"; the test split has {len(labels)} images")
    return stratified_subset(labels, test_subset, derive_seed(seed, 2))
