"""Images to tensors: read a data set (CIFAR-10 or any image folder, with or without a split), decode
and cache it, cut the proxy's train/validation/test subsets, batch them, and pick the device and thread
count they run on."""

from .fulldata import FullData, prepare_full_data
from .images import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGE_EXTENSIONS,
    ImageSet,
    default_cache_dir,
    derive_seed,
    load_dataset,
    probe_layout,
    resolve_data_dir,
    stratified_subset,
    train_val_split,
)
from .loader import BatchLoader, DataOptions, ProxyData, channel_stats, prepare_data, select_test, select_train
from .runtime import (
    FORMAT_ENV,
    channels_last,
    check_runtime,
    keep_freed_memory,
    machine_tag,
    select_device,
    set_threads,
    usable_cpus,
)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "FORMAT_ENV",
    "IMAGE_EXTENSIONS",
    "BatchLoader",
    "DataOptions",
    "FullData",
    "ImageSet",
    "ProxyData",
    "channel_stats",
    "channels_last",
    "check_runtime",
    "default_cache_dir",
    "derive_seed",
    "keep_freed_memory",
    "load_dataset",
    "machine_tag",
    "prepare_data",
    "prepare_full_data",
    "probe_layout",
    "resolve_data_dir",
    "select_device",
    "select_test",
    "select_train",
    "set_threads",
    "stratified_subset",
    "train_val_split",
    "usable_cpus",
]
