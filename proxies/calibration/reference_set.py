"""Which architectures make the reference set: the seed papers' models and a stratified sample.

The sample covers the space evenly rather than as uniform draws under a budget would (those
favour cheap choices): candidates are drawn under ``max_ops`` from the uniform space (all stages
alike) and the per-stage space, and picked greedily, each time the candidate whose choices are
rarest among those already picked (every width, depth, topology, placement, low/high K,
activation, expansion and binary scope). Same seed, same set.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from search_space import PRESETS, SEED_PRESETS, ArchConfig, SearchSpace, analytic_cost

__all__ = ["TABLE7_PRESETS", "arch_features", "reference_presets", "stratified_sample"]

TABLE7_PRESETS = tuple(f"bin_mobilenet_sp_w{w}_d{d}"
                       for w, d in ((0.5, 1), (0.75, 1), (1.0, 1), (2.0, 1), (1.0, 2), (0.7, 2)))
BINARY_SCOPES = ("pw", "all")


def _k_level(k: int) -> str:
    return "low" if k <= 1 else "high" if k >= 3 else "mid"


def arch_features(arch: ArchConfig) -> set[str]:
    """The choice values an architecture exercises (any stage), as ``choice=value`` strings."""
    feats = {f"width={arch.width:g}", f"depth={arch.depth}", f"uniform={arch.is_uniform}"}
    for s in arch.stages:
        feats |= {f"topology={s.topology}", f"placement={s.placement}", f"k={_k_level(s.k)}",
                  f"activation={s.activation}", f"binary_scope={s.binary_scope}"}
        if s.expansion is not None:
            feats.add(f"expansion={s.expansion}")
    return feats


def reference_presets(max_ops: float) -> list[tuple[str, ArchConfig]]:
    """The seed presets within ``max_ops`` and every Sp Table 7 width/depth preset (any OPs),
    one name per distinct architecture."""
    names = [n for n in SEED_PRESETS if analytic_cost(PRESETS[n].arch).ops() <= max_ops]
    out: dict[ArchConfig, str] = {}
    for name in (*names, *TABLE7_PRESETS):
        out.setdefault(PRESETS[name].arch, name)
    return [(name, arch) for arch, name in out.items()]


def _pool(space: SearchSpace, rng: np.random.Generator, size: int, max_ops: float,
          exclude: set[ArchConfig]) -> list[ArchConfig]:
    seen: dict[ArchConfig, None] = {}
    for _ in range(50 * size):
        arch = space.sample(rng)
        if arch not in exclude and analytic_cost(arch).ops() <= max_ops:
            seen[arch] = None
            if len(seen) >= size:
                break
    return list(seen)


def stratified_sample(n_uniform: int, n_per_stage: int, *, max_ops: float = 60e6, seed: int = 0,
                      pool: int = 3000, counts: Counter | None = None,
                      exclude: set[ArchConfig] | None = None) -> list[tuple[str, ArchConfig]]:
    """``n_uniform`` uniform and ``n_per_stage`` per-stage architectures under ``max_ops``, each
    picked as the pooled candidate whose features are rarest so far (``counts``, updated in
    place, may start from the presets' features); returned as ``(origin, arch)``, alternating."""
    rng = np.random.default_rng(seed)
    counts = Counter() if counts is None else counts
    exclude = set(exclude or ())
    pools = {origin: _pool(SearchSpace(binary_scopes=BINARY_SCOPES, per_stage=per_stage), rng, pool,
                           max_ops, exclude)
             for origin, per_stage in (("uniform", False), ("per-stage", True))}
    wanted = {"uniform": n_uniform, "per-stage": n_per_stage}
    for origin, cands in pools.items():
        if len(cands) < wanted[origin]:
            raise ValueError(f"max_ops: only {len(cands)} {origin} architectures found under {max_ops:g} OPs")
    picked: list[tuple[str, ArchConfig]] = []
    turn = [o for i in range(max(wanted.values())) for o in wanted if i < wanted[o]]
    for origin in turn:
        cands = pools[origin]
        best = max(range(len(cands)), key=lambda i: sum(1.0 / (1 + counts[f]) ** 2
                                                          for f in arch_features(cands[i])))
        arch = cands.pop(best)
        counts.update(arch_features(arch))
        picked.append((origin, arch))
    return picked
