"""The search space: which values each choice may take, and how to move in it.

Choices are per stage (topology, placement, K, expansion, activation, binary scope) plus
a global width and depth multiplier. The default space contains every preset, the seed
papers' models included (a seed model is the point where all stages agree).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import product
from math import prod
from typing import Any

import numpy as np

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
)

__all__ = ["STAGE_CHOICES", "SearchSpace"]

STAGE_CHOICES = ("topology", "placement", "k", "expansion", "activation", "binary_scope")


@dataclass(frozen=True)
class SearchSpace:
    """Finite sets of values for every choice.

    ``per_stage=False`` ties the five stages together (the seed papers' way), so the
    space only holds uniform architectures.
    """

    topologies: tuple[str, ...] = TOPOLOGIES
    placements: tuple[str, ...] = PLACEMENTS
    ks: tuple[int, ...] = KS
    expansions: tuple[str, ...] = EXPANSIONS
    activations: tuple[str, ...] = ACTIVATIONS
    binary_scopes: tuple[str, ...] = SCOPES
    widths: tuple[float, ...] = (0.5, 0.7, 0.75, 1.0, 1.25, 1.5, 2.0)
    depths: tuple[int, ...] = (1, 2, 3)
    per_stage: bool = True

    def __post_init__(self) -> None:
        template = StageConfig()
        for f in fields(self):
            values = getattr(self, f.name)
            if f.name == "per_stage":
                continue
            if not isinstance(values, tuple | list) or not values:
                raise ValueError(f"{f.name}: expected a non-empty list of values, got {values!r}")
            object.__setattr__(self, f.name, tuple(dict.fromkeys(values)))
        # Validate each value through the dataclasses that own it.
        for t in self.topologies:
            replace(template, topology=t, expansion="copy")
        for name, attr in (("placements", "placement"), ("ks", "k"),
                           ("activations", "activation"), ("binary_scopes", "binary_scope")):
            for v in getattr(self, name):
                replace(template, **{attr: v})
        for e in self.expansions:
            StageConfig("parallel", expansion=e)
        base = StageConfig("cascade")
        for w in self.widths:
            ArchConfig.uniform(base, width=w)
        for d in self.depths:
            ArchConfig.uniform(base, depth=d)

    # -- choices -------------------------------------------------------------------------
    def _stage_values(self) -> dict[str, tuple]:
        return {
            "topology": self.topologies,
            "placement": self.placements,
            "k": self.ks,
            "expansion": self.expansions,
            "activation": self.activations,
            "binary_scope": self.binary_scopes,
        }

    def choices(self) -> dict[str, tuple]:
        """Every choice and its values, with stage choices named ``s<i>.<choice>``."""
        out: dict[str, tuple] = {"width": self.widths, "depth": self.depths}
        prefixes = [f"s{i}." for i in range(NUM_STAGES)] if self.per_stage else ["all."]
        for p in prefixes:
            out.update({p + name: values for name, values in self._stage_values().items()})
        return out

    def size(self) -> int:
        """Number of distinct architectures (expansion counts only for non-cascade)."""
        v = self._stage_values()
        n_cascade = int("cascade" in self.topologies)
        other = len(self.topologies) - n_cascade
        per_stage = (
            (n_cascade + other * len(self.expansions))
            * prod(len(v[c]) for c in ("placement", "k", "activation", "binary_scope"))
        )
        stages = per_stage**NUM_STAGES if self.per_stage else per_stage
        return len(self.widths) * len(self.depths) * stages

    @classmethod
    def from_choices(cls, choices: Mapping[str, Sequence]) -> SearchSpace:
        """The space whose :meth:`choices` are ``choices`` (as a study stores them)."""
        per_stage = any(name.startswith("s0.") for name in choices)
        prefix = "s0." if per_stage else "all."
        fields_of = {"topology": "topologies", "placement": "placements", "k": "ks", "expansion": "expansions",
                     "activation": "activations", "binary_scope": "binary_scopes"}
        try:
            kw = {field: tuple(choices[prefix + name]) for name, field in fields_of.items()}
            return cls(**kw, widths=tuple(choices["width"]), depths=tuple(choices["depth"]), per_stage=per_stage)
        except KeyError as exc:
            raise ValueError(f"search space: the stored choices lack {exc.args[0]!r}") from None

    def enumerate(self, limit: int = 100_000) -> Iterator[ArchConfig]:
        """Every distinct architecture of the space, in a fixed order (a space of more than ``limit``
        architectures is refused: the per-stage space holds billions)."""
        if self.size() > limit:
            raise ValueError(
                f"search space: {self.size():,} architectures are too many to list (at most {limit:,})"
            )
        values = self._stage_values()
        blocks: dict[StageConfig, None] = {}
        for combo in product(*values.values()):
            stage = dict(zip(values, combo, strict=True))
            if stage["topology"] == "cascade":
                stage["expansion"] = None
            blocks.setdefault(StageConfig(**stage))
        seen: set[ArchConfig] = set()
        stage_sets = product(blocks, repeat=NUM_STAGES) if self.per_stage else ((b,) * NUM_STAGES for b in blocks)
        for width, depth, stages in product(self.widths, self.depths, list(stage_sets)):
            arch = ArchConfig(tuple(stages), width, depth) if self.per_stage else ArchConfig.uniform(
                stages[0], width, depth)
            if arch not in seen:
                seen.add(arch)
                yield arch

    # -- moves ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> ArchConfig:
        """A uniformly random architecture (each choice drawn independently)."""
        values = list(self._stage_values().items())
        n_stages = NUM_STAGES if self.per_stage else 1
        sizes = [len(self.widths), len(self.depths)] + [len(v) for _, v in values] * n_stages
        idx = rng.integers(0, sizes).tolist()
        stages = []
        for i in range(n_stages):
            row = idx[2 + i * len(values): 2 + (i + 1) * len(values)]
            stages.append(StageConfig(**{name: vals[j] for (name, vals), j in zip(values, row, strict=False)}))
        if not self.per_stage:
            stages *= NUM_STAGES
        return ArchConfig(tuple(stages), self.widths[idx[0]], self.depths[idx[1]])

    @staticmethod
    def _source(arch: ArchConfig) -> StageConfig:
        """The stage a uniform architecture repeats (K may be lowered in narrow stages)."""
        return max(arch.stages, key=lambda s: s.k)

    def _uniform(self, arch: ArchConfig) -> bool:
        return ArchConfig.uniform(self._source(arch), arch.width, arch.depth) == arch

    def contains(self, arch: ArchConfig) -> bool:
        if arch.width not in self.widths or arch.depth not in self.depths:
            return False
        if not self.per_stage and not self._uniform(arch):
            return False
        values = self._stage_values()
        for s in arch.stages if self.per_stage else [self._source(arch)]:
            for name in STAGE_CHOICES:
                v = getattr(s, name)
                if v is None and name == "expansion":
                    continue
                if v not in values[name]:
                    return False
        return True

    def _alternatives(self, arch: ArchConfig) -> list[tuple[str, Any, tuple]]:
        moves: list[tuple[str, Any, tuple]] = []
        if len(self.widths) > 1:
            moves.append(("width", None, tuple(w for w in self.widths if w != arch.width)))
        if len(self.depths) > 1:
            moves.append(("depth", None, tuple(d for d in self.depths if d != arch.depth)))
        stage_ids = range(NUM_STAGES) if self.per_stage else [None]
        for i in stage_ids:
            s = self._source(arch) if i is None else arch.stages[i]
            for name, vals in self._stage_values().items():
                if name == "expansion" and s.topology == "cascade":
                    continue
                others = tuple(v for v in vals if v != getattr(s, name))
                if others:
                    moves.append((name, i, others))
        return moves

    def _move(self, arch: ArchConfig, rng: np.random.Generator, moves: list) -> ArchConfig:
        name, stage, others = moves[rng.integers(len(moves))]
        value = others[rng.integers(len(others))]
        value = value.item() if isinstance(value, np.generic) else value
        if name in ("width", "depth"):
            return replace(arch, **{name: value})
        changes: dict[str, Any] = {name: value}
        current = self._source(arch) if stage is None else arch.stages[stage]
        if name == "topology" and current.topology == "cascade":
            changes["expansion"] = self.expansions[rng.integers(len(self.expansions))]
        if stage is None:
            return ArchConfig.uniform(replace(current, **changes), arch.width, arch.depth)
        return arch.with_stage(stage, **changes)

    def mutate(self, arch: ArchConfig, rng: np.random.Generator, attempts: int = 100) -> ArchConfig:
        """Change exactly one choice of ``arch`` (distance 1), staying in the space.

        A move that normalisation undoes (K above what a narrow stage can use) or that drags
        a second choice with it (a width whose channels lower a stage's K) is drawn again.
        """
        moves = self._alternatives(arch)
        if not moves:
            raise ValueError("search space: every choice has a single value, nothing to mutate")
        new = arch
        for _ in range(attempts):
            new = self._move(arch, rng, moves)
            if new != arch and self.distance(arch, new) == 1:
                return new
        if new == arch:
            raise ValueError(f"search space: found no change to {arch.encode()!r} in {attempts} draws")
        return new

    def distance(self, a: ArchConfig, b: ArchConfig) -> int:
        """Number of differing choices. Expansion counts only where both stages have one
        (a cascade block has none), so one :meth:`mutate` step is distance 1. In a space
        with ``per_stage=False`` a stage choice counts once, not once per stage."""
        d = int(a.width != b.width) + int(a.depth != b.depth)
        pairs = list(zip(a.stages, b.stages, strict=True))
        if not self.per_stage and self._uniform(a) and self._uniform(b):
            pairs = [(self._source(a), self._source(b))]
        for sa, sb in pairs:
            for name in STAGE_CHOICES:
                va, vb = getattr(sa, name), getattr(sb, name)
                if name == "expansion" and (va is None or vb is None):
                    continue
                d += int(va != vb)
        return d
