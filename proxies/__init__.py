"""How good an architecture is, cheaply: data, short training, zero-cost scores and their
calibration against the seed papers. Imports ``search_space``, never ``nas``."""

from .data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGE_EXTENSIONS,
    BatchLoader,
    ImageSet,
    ProxyData,
    default_cache_dir,
    load_dataset,
    prepare_data,
    resolve_data_dir,
    stratified_subset,
    train_val_split,
)

# The CLI module proxies/evaluate.py shares its name with the training proxy's function:
# import the module first, then bind the name to the function, so `proxies.evaluate` is the
# function (a later `import proxies.evaluate` finds the module loaded and rebinds nothing).
from .evaluate import PROXIES, run_proxy  # noqa: I001
from .fidelity import FIDELITIES, Fidelity, get_fidelity
from .train import ProxyResult, TrainRecipe, evaluate, proxy_arch, select_device, set_threads
from .zero_cost import ZERO_COST, float_twin, register_zero_cost, zero_cost_score

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "FIDELITIES",
    "PROXIES",
    "IMAGE_EXTENSIONS",
    "ZERO_COST",
    "BatchLoader",
    "Fidelity",
    "ImageSet",
    "ProxyData",
    "ProxyResult",
    "TrainRecipe",
    "default_cache_dir",
    "evaluate",
    "float_twin",
    "get_fidelity",
    "load_dataset",
    "prepare_data",
    "proxy_arch",
    "register_zero_cost",
    "resolve_data_dir",
    "run_proxy",
    "select_device",
    "set_threads",
    "stratified_subset",
    "train_val_split",
    "zero_cost_score",
]
