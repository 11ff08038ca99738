"""How trials run: the Optuna worker loop (one process or ``--workers N``), the Ray Tune
backend (``nas.backends.ray_tune``, imported on use), and stale-trial recovery; ``nas.backends.chaos``
(``benchmarks/chaos.py``) counts what killing a search at random moments loses."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(
        ("LoopConfig", "claim_slot", "count_trained", "graceful_stop", "run_worker", "run_workers", "set_target"),
        "loop",
    ),
    **dict.fromkeys(("HEARTBEAT_S", "Heartbeat", "mark_owner", "owner_id", "queue_again", "recover_stale"), "stale"),
    "run_ray": "ray_tune",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
