"""What an architecture is: binary layers, blocks, ArchConfig, builder, presets, the search
space and OPs counting. Imports neither ``proxies`` nor ``nas``. ``ops_vs_paper`` (the papers' published
OPs next to ours) and ``ops_speed`` (the analytic counter's speed) measure the counting
(``benchmarks/ops_vs_paper.py``, ``benchmarks/analytic_ops_speed.py``)."""

from .arch import (
    ACTIVATIONS,
    EXPANSIONS,
    KS,
    NUM_STAGES,
    PLACEMENTS,
    SCOPES,
    TOPOLOGIES,
    ArchConfig,
    StageConfig,
    decode,
    encode,
)
from .binary import BinaryActivation, BinaryConv2d, binarize_weight, sign
from .blocks import Block, BlockOptions, block_cost
from .builder import BuildOptions, MobileNetBNN, analytic_cost, build_model
from .cli import resolve_arch
from .cost import Cost, dw_groups
from .deploy import (
    PACKED_FORMAT,
    DeploySign,
    deploy_model,
    model_spec,
    pack_binary_state,
    unpack_binary_state,
)
from .named import SPACE_HELP, SPACES, get_space, space_name
from .ops import CONVENTIONS, OpsReport, count_model_ops, count_ops
from .presets import PAPER_ROWS, PRESETS, SEED_PRESETS, Preset, get_preset, preset_for_paper_row
from .skeleton import make_divisible, skeleton
from .space import SearchSpace

__all__ = [
    "ACTIVATIONS",
    "CONVENTIONS",
    "EXPANSIONS",
    "KS",
    "NUM_STAGES",
    "PACKED_FORMAT",
    "PAPER_ROWS",
    "PLACEMENTS",
    "PRESETS",
    "SCOPES",
    "SEED_PRESETS",
    "SPACES",
    "SPACE_HELP",
    "TOPOLOGIES",
    "ArchConfig",
    "BinaryActivation",
    "BinaryConv2d",
    "Block",
    "BlockOptions",
    "BuildOptions",
    "Cost",
    "DeploySign",
    "MobileNetBNN",
    "OpsReport",
    "Preset",
    "SearchSpace",
    "StageConfig",
    "analytic_cost",
    "binarize_weight",
    "block_cost",
    "build_model",
    "count_model_ops",
    "count_ops",
    "decode",
    "deploy_model",
    "dw_groups",
    "encode",
    "get_preset",
    "get_space",
    "make_divisible",
    "model_spec",
    "pack_binary_state",
    "preset_for_paper_row",
    "resolve_arch",
    "sign",
    "skeleton",
    "space_name",
    "unpack_binary_state",
]
