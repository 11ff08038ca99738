"""Named architectures: MobileNet V1 and every configuration of the seed papers.

* MobileNet-Sp paper (Zuo et al., ICIG 2021): ``mobilenet_v1`` (= MobileNet-L, full
  precision), ``mobilenet_sp_fp``, ``mobilenet_ls_fp``, binarized MobileNet-L with the 1x1
  convs (``bin_mobilenet_l``) or every conv (``bin_mobilenet_l_all``) binary, binarized
  MobileNet-Sp with each expansion (``bin_mobilenet_sp_{copy,crelu,2xdw}``; plain
  ``bin_mobilenet_sp`` is the paper's 2xdw default), ``bin_mobilenet_ls`` and the width /
  depth variants of its Table 7 (``bin_mobilenet_sp_w<W>_d<D>``).
* MoBiNet paper (Phan et al., WACV 2020): ``mobinet_<none|pre|mid|post>_k<0..4>_<relu|prelu>``,
  cascade blocks with every conv but the stem and classifier binary.

:data:`PAPER_ROWS` maps each row ``name`` of ``paper_tables.csv`` to its preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..arch import ACTIVATIONS, KS, PLACEMENTS, ArchConfig, StageConfig

__all__ = [
    "PAPER_ROWS",
    "PRESETS",
    "SEED_PRESETS",
    "Preset",
    "get_preset",
    "preset_for_paper_row",
    "register_preset",
]


@dataclass(frozen=True)
class Preset:
    name: str
    arch: ArchConfig
    description: str
    source: str  # "mobilenet", "sp" or "mobinet"


_REGISTRY: dict[str, Preset] = {}
PRESETS: Mapping[str, Preset] = MappingProxyType(_REGISTRY)


def register_preset(name: str, arch: ArchConfig, description: str, source: str = "") -> Preset:
    """Add a named architecture to the registry (names are unique)."""
    if name in _REGISTRY:
        raise ValueError(f"preset: name {name!r} is already registered")
    preset = Preset(name, arch, description, source)
    _REGISTRY[name] = preset
    return preset


def get_preset(name: str) -> Preset:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"preset: unknown name {name!r} (see python -m search_space.presets)") from None


def _sp(topology: str, expansion: str | None, scope: str, width: float = 1.0, depth: int = 1):
    return ArchConfig.uniform(StageConfig(topology, "none", 0, expansion, "relu", scope), width, depth)


def _register_sp() -> None:
    register_preset("mobilenet_v1", _sp("cascade", None, "none"),
                    "MobileNet V1 1.0-224, full precision (MobileNet-L)", "mobilenet")
    register_preset("mobilenet_sp_fp", _sp("parallel", "2xdw", "none"),
                    "MobileNet-Sp, full precision (Sp Table 3)", "sp")
    register_preset("mobilenet_ls_fp", _sp("both", "2xdw", "none"),
                    "MobileNet-LS, full precision (Sp Table 3)", "sp")
    register_preset("bin_mobilenet_l", _sp("cascade", None, "pw"),
                    "Binarized MobileNet-L, 1x1 convs binary (Sp Tables 2, 4)", "sp")
    register_preset("bin_mobilenet_l_all", _sp("cascade", None, "all"),
                    "MobileNet-L with every conv but stem and classifier binary (Sp Table 2)", "sp")
    register_preset("bin_mobilenet_sp", _sp("parallel", "2xdw", "pw"),
                    "Binarized MobileNet-Sp, 2xDW expansion (Sp Tables 4, 5, 8)", "sp")
    for exp in ("copy", "crelu", "2xdw"):
        register_preset(f"bin_mobilenet_sp_{exp}", _sp("parallel", exp, "pw"),
                        f"Binarized MobileNet-Sp, {exp} expansion (Sp Table 6)", "sp")
    register_preset("bin_mobilenet_ls", _sp("both", "2xdw", "pw"),
                    "Binarized MobileNet-LS, 1x1 convs binary (not in the paper's tables)", "sp")
    for width, depth in ((0.5, 1), (0.75, 1), (1.0, 1), (2.0, 1), (1.0, 2), (0.7, 2)):
        register_preset(f"bin_mobilenet_sp_w{width}_d{depth}",
                        _sp("parallel", "2xdw", "pw", width, depth),
                        f"Binarized MobileNet-Sp, width {width}, depth {depth} (Sp Table 7)", "sp")


def _register_mobinet() -> None:
    for placement in PLACEMENTS:
        for k in KS:
            for act in ACTIVATIONS:
                stage = StageConfig("cascade", placement, k, None, act, "all")
                block = "no extra block" if placement == "none" else f"{placement}-block"
                register_preset(f"mobinet_{placement}_k{k}_{act}", ArchConfig.uniform(stage),
                                f"MoBiNet, {block}, K={k}, {act}", "mobinet")


_register_sp()
_register_mobinet()


def _paper_rows() -> dict[str, str]:
    rows = {
        "mobilenet_fp_reproduced": "mobilenet_v1",
        "binary_all_layers": "bin_mobilenet_l_all",
        "binary_1x1": "bin_mobilenet_l",
        "mobilenet_l_fp": "mobilenet_v1",
        "mobilenet_sp_fp": "mobilenet_sp_fp",
        "mobilenet_ls_fp": "mobilenet_ls_fp",
        "bin_mobilenet_l": "bin_mobilenet_l",
        "bin_mobilenet_sp": "bin_mobilenet_sp",
        "bin_mobilenet_sp_e200": "bin_mobilenet_sp",
        "bin_mobilenet_sp_e450": "bin_mobilenet_sp",
        "no_block_k0": "mobinet_none_k0_prelu",
        "pre_block_k0": "mobinet_pre_k0_prelu",
    }
    for exp in ("copy", "crelu", "2xdw"):
        rows[f"bin_mobilenet_sp_{exp}"] = f"bin_mobilenet_sp_{exp}"
    for w, d in ((0.5, 1), (0.75, 1), (1.0, 1), (2.0, 1), (1.0, 2), (0.7, 2)):
        rows[f"bin_mobilenet_sp_w{w}_d{d}"] = f"bin_mobilenet_sp_w{w}_d{d}"
    for k in range(4):  # MoBiNet Tables 2 and 3 report K = 0..3
        rows[f"mid_k{k}_relu"] = f"mobinet_mid_k{k}_relu"
        for placement in ("pre", "mid", "post"):
            rows[f"{placement}_k{k}"] = f"mobinet_{placement}_k{k}_prelu"
    rows["mid_k4"] = "mobinet_mid_k4_prelu"  # Table 4
    return rows


PAPER_ROWS: Mapping[str, str] = MappingProxyType(_paper_rows())


# The models each seed paper proposes (not its ablations): what a search starts from and
# is measured against. MobileNet-Sp: the binary-1x1 cascade baseline L, its parallel Sp
# (Table 4) and LS; MoBiNet: the best K of each block position (Tables 3 and 4, PReLU).
SEED_PRESETS: tuple[str, ...] = (
    "bin_mobilenet_l",
    "bin_mobilenet_sp",
    "bin_mobilenet_ls",
    "mobinet_pre_k3_prelu",
    "mobinet_mid_k4_prelu",
    "mobinet_post_k3_prelu",
)


def preset_for_paper_row(name: str) -> Preset:
    """The preset of a ``paper_tables.csv`` row, by the row's ``name``."""
    if name not in PAPER_ROWS:
        raise ValueError(f"paper row: unknown name {name!r}")
    return get_preset(PAPER_ROWS[name])
