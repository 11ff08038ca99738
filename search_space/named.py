"""Named search spaces: the spaces binas searches and each seed paper's own design space.

* ``per-stage`` (the default): every choice of the space, each stage its own block;
* ``uniform``: the same choices, one block for all five stages (as every seed model has);
* ``sp``: MobileNet-Sp's choices (Zuo et al., ICIG 2021): cascade, parallel or both DW/PW; expansion
  copy, CReLU or 2xDW; the 1x1 convs binary or every conv binary; its Table 7's widths and depths;
  no MoBiNet block, K 0, ReLU. The paper varies width and depth in six pairs; a space is a product, so
  this one holds every pair of those widths and depths.
* ``mobinet``: MoBiNet's choices (Phan et al., WACV 2020): the cascade block with no, a Pre, Mid or Post
  extra block, K 0..4 (its Tables 3 and 4), ReLU or PReLU; every conv binary but the stem and the
  classifier; MobileNet 1.0-224's width and depth (the paper varies neither).

The two paper spaces tie the stages together, as the papers do, and are small enough to list in full
(:meth:`SearchSpace.enumerate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .arch import ACTIVATIONS, EXPANSIONS, KS, PLACEMENTS, TOPOLOGIES
from .builder import analytic_cost
from .space import SearchSpace

__all__ = ["LISTED", "SPACES", "SPACE_HELP", "get_space", "space_name", "space_summary"]

SPACES: Mapping[str, SearchSpace] = MappingProxyType({
    "per-stage": SearchSpace(),
    "uniform": SearchSpace(per_stage=False),
    "sp": SearchSpace(
        topologies=TOPOLOGIES,
        placements=("none",),
        ks=(0,),
        expansions=EXPANSIONS,
        activations=("relu",),
        binary_scopes=("pw", "all"),
        widths=(0.5, 0.7, 0.75, 1.0, 2.0),
        depths=(1, 2),
        per_stage=False,
    ),
    "mobinet": SearchSpace(
        topologies=("cascade",),
        placements=PLACEMENTS,
        ks=KS,
        expansions=("copy",),  # a cascade block has none: the choice is never asked
        activations=ACTIVATIONS,
        binary_scopes=("all",),
        widths=(1.0,),
        depths=(1,),
        per_stage=False,
    ),
})

SPACE_HELP = {
    "per-stage": "each stage chooses its own block (the default)",
    "uniform": "one block choice for all five stages, as every seed model has",
    "sp": "MobileNet-Sp's own design space (topology, expansion, binary scope, its widths and depths)",
    "mobinet": "MoBiNet's own design space (extra block position, K, activation; width and depth 1)",
}


def get_space(name: str, option: str = "--space") -> SearchSpace:
    """The space named ``name``; a one-line error naming ``option`` otherwise."""
    try:
        return SPACES[name]
    except KeyError:
        raise ValueError(f"{option}: unknown value {name!r} (choose from {', '.join(SPACES)})") from None


def space_name(space: SearchSpace) -> str | None:
    """The name of ``space`` when it is one of :data:`SPACES` (compared by its choices), else None."""
    for name, named in SPACES.items():
        if named.choices() == space.choices() and named.per_stage == space.per_stage:
            return name
    return None


LISTED = 1000  # a space of at most this many architectures is counted whole within a budget
DRAWS = 4_000  # random draws behind the share of a larger space within a budget


def space_summary(name: str, budget: float | None = None, num_classes: int = 1000, resolution: int = 224,
                  with_bn: bool = False) -> dict:
    """A named space's size, and within ``budget`` (OPs): how many architectures fit (a small space,
    listed whole: ``in_budget``) or what share of uniform draws fit (a larger one: ``in_budget_share``,
    from :data:`DRAWS` seeded draws)."""
    space = get_space(name)
    out: dict = {"space": name, "size": space.size(), "per_stage": space.per_stage, "budget": budget,
                 "in_budget": None, "in_budget_share": None}
    if budget is None:
        return out

    def fits(arch) -> bool:
        return analytic_cost(arch, num_classes, resolution).ops(with_bn=with_bn) <= budget

    if space.size() <= LISTED:
        out["in_budget"] = sum(fits(a) for a in space.enumerate(LISTED))
        out["in_budget_share"] = out["in_budget"] / space.size()
    else:
        rng = np.random.default_rng(0)
        out["in_budget_share"] = sum(fits(space.sample(rng)) for _ in range(DRAWS)) / DRAWS
    return out
