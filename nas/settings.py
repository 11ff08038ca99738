"""What a search is: budget, OPs convention, proxy fidelity, space, seed; stored with the study."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from proxies import DataOptions, Fidelity
from search_space import CONVENTIONS, ArchConfig, Cost, SearchSpace, analytic_cost
from search_space.checks import check_int
from search_space.named import LISTED

from .screening import ScreenPolicy

__all__ = ["SearchSettings", "stored_space"]


@dataclass(frozen=True)
class SearchSettings:
    """The settings that define a study; a study resumed with other values is refused."""

    budget: int
    fidelity: Fidelity = field(default_factory=Fidelity)
    fidelity_name: str = "default"
    resolution: int = 224
    num_classes: int = 1000
    convention: str = "bireal"
    space: SearchSpace = field(default_factory=SearchSpace)
    seed: int = 0
    data: DataOptions = field(default_factory=DataOptions)  # --test-fraction, --skip-bad-images
    seeds: int = 1  # --seeds: training seeds per architecture, ranked on their mean
    screen: ScreenPolicy = field(default_factory=ScreenPolicy)  # --screen, --screen-score (not the study's identity)

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise ValueError(f"--ops-convention: unknown value {self.convention!r} (choose from {list(CONVENTIONS)})")
        check_int("--resolution", self.resolution, 32, 1024)
        check_int("--num-classes", self.num_classes, 2)
        check_int("--seeds", self.seeds, 1, 10)

    def cost(self, arch: ArchConfig) -> Cost:
        """The analytic cost of ``arch`` at the deployment input (no model built)."""
        return analytic_cost(arch, self.num_classes, self.resolution)

    def ops(self, arch: ArchConfig) -> float:
        return self.cost(arch).ops(with_bn=self.convention == "with-bn")

    def fits(self, arch: ArchConfig) -> bool:
        return self.ops(arch) <= self.budget

    def in_budget(self, limit: int = LISTED) -> int | None:
        """How many architectures of the space fit the budget, for a space of at most ``limit`` (listed
        whole); None for a larger one."""
        if self.space.size() > limit:
            return None
        return sum(self.fits(a) for a in self.space.enumerate(limit))

    def meta(self) -> dict[str, Any]:
        """The JSON-able identity of the study (compared on resume)."""
        return {
            "budget": self.budget,
            "fidelity": self.fidelity.key(),
            "resolution": self.resolution,
            "num_classes": self.num_classes,
            "convention": self.convention,
            "space": json.dumps({k: list(v) for k, v in self.space.choices().items()}, sort_keys=True),
            "per_stage": self.space.per_stage,
            "test_fraction": self.data.test_fraction,
            "skip_bad_images": self.data.skip_bad,
            "seeds": self.seeds,
            "seed": self.seed,  # the data selection and first training seed: another one mixes data subsets
        }


def stored_space(meta: dict) -> SearchSpace:
    """The space a study searched, from its stored settings (:meth:`SearchSettings.meta`; a study without
    stored choices: the default choices, per stage or tied as it records)."""
    stored = json.loads(meta.get("space") or "{}")
    if stored:
        return SearchSpace.from_choices(stored)
    return SearchSpace(per_stage=bool(meta.get("per_stage")))
