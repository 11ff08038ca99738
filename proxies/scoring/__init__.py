"""Scoring an architecture cheaply: the fidelity (epochs, images, resolution), the short training run
(:func:`proxies.scoring.train.evaluate`), the zero-cost scores, ``run_proxy`` that runs any of them,
and Pareto places. ``python -m proxies.evaluate`` is its command line. ``throughput`` (binary network
against its float twin) and ``memory_format`` (NCHW against NHWC) time its training step
(``benchmarks/proxy_throughput.py``, ``benchmarks/memory_format.py``)."""

from .fidelity import FIDELITIES, Fidelity, get_fidelity
from .pareto import crowding_distances, domination_counts, places
from .run import PROXIES, run_proxy
from .train import ProxyResult, TrainRecipe, param_groups, proxy_arch
from .zero_cost import ZERO_COST, float_twin, register_zero_cost, zero_cost_score

__all__ = [
    "FIDELITIES",
    "PROXIES",
    "ZERO_COST",
    "Fidelity",
    "ProxyResult",
    "TrainRecipe",
    "crowding_distances",
    "domination_counts",
    "float_twin",
    "get_fidelity",
    "param_groups",
    "places",
    "proxy_arch",
    "register_zero_cost",
    "run_proxy",
    "zero_cost_score",
]
