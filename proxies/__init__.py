"""How good an architecture is, cheaply: data, short training, zero-cost scores and their
calibration against the seed papers. Imports ``search_space``, never ``nas``.

The training proxy is ``proxies.train.evaluate(arch, fidelity, data, seed)``; the package does
not re-export it under that name because ``proxies.evaluate`` is its command line
(``python -m proxies.evaluate``). ``run_proxy`` runs any proxy, the training one included."""

from .data import (
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
from .fidelity import FIDELITIES, Fidelity, get_fidelity
from .fulldata import FullData, prepare_full_data
from .loader import BatchLoader, DataOptions, ProxyData, channel_stats, prepare_data, select_test, select_train
from .noise import SEED_NOISE, SeedNoise, pooled_sd, seed_noise
from .run import PROXIES, run_proxy
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
from .surrogate import RidgeSurrogate, arch_features
from .surrogate_prior import PRIOR_FILE, SurrogatePrior, load_prior
from .train import ProxyResult, TrainRecipe, param_groups, proxy_arch
from .zero_cost import ZERO_COST, float_twin, register_zero_cost, zero_cost_score

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "FIDELITIES",
    "PRIOR_FILE",
    "PROXIES",
    "IMAGE_EXTENSIONS",
    "ZERO_COST",
    "BatchLoader",
    "DataOptions",
    "FullData",
    "Fidelity",
    "SEED_NOISE",
    "SeedNoise",
    "ImageSet",
    "ProxyData",
    "ProxyResult",
    "RidgeSurrogate",
    "SurrogatePrior",
    "TrainRecipe",
    "arch_features",
    "channel_stats",
    "default_cache_dir",
    "derive_seed",
    "float_twin",
    "get_fidelity",
    "load_dataset",
    "load_prior",
    "prepare_data",
    "prepare_full_data",
    "probe_layout",
    "param_groups",
    "pooled_sd",
    "proxy_arch",
    "register_zero_cost",
    "resolve_data_dir",
    "run_proxy",
    "select_test",
    "select_train",
    "keep_freed_memory",
    "machine_tag",
    "channels_last",
    "check_runtime",
    "FORMAT_ENV",
    "seed_noise",
    "select_device",
    "set_threads",
    "stratified_subset",
    "train_val_split",
    "usable_cpus",
    "zero_cost_score",
]
