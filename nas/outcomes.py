"""What happened to a trial, and the names of the facts a trial records (Optuna user attributes).

An :class:`Outcome` is a ``str``: it is stored as its value, compares equal to it, and reads
back from a study as a plain string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["COUNTED", "EVALUATED", "WASTED", "Attr", "Outcome"]


class Outcome(StrEnum):
    TRAINED = "trained"  # trained at full fidelity: a point of the front
    PRUNED = "pruned"  # stopped at a rung; its last score stands
    OVER_BUDGET = "over_budget"  # rejected on its analytic OPs, nothing built
    DUPLICATE = "duplicate"  # drawn again: the earlier trial's score is reused
    DIVERGED = "diverged"  # NaN or infinite loss
    ERROR = "error"  # an exception (or --trial-timeout) while training
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM; queued again
    STALE = "stale"  # its owner died; queued again
    WITHDRAWN = "withdrawn"  # another trial has the architecture, or the target was taken
    SCREENED = "screened"  # a near-free score ranked it below the other proposals: not trained


EVALUATED = frozenset({Outcome.TRAINED, Outcome.PRUNED})  # has a score
COUNTED = frozenset({*EVALUATED, Outcome.DIVERGED, Outcome.ERROR})  # spent training time: counts to --trials
WASTED = frozenset({Outcome.OVER_BUDGET, Outcome.DUPLICATE, Outcome.WITHDRAWN, Outcome.SCREENED})  # trained nothing


class Attr(StrEnum):
    """User-attribute keys of a trial."""

    OUTCOME = "outcome"
    ARCH = "arch"  # canonical architecture string
    FIDELITY = "fidelity"  # Fidelity.key() it is trained at
    SEED_PRESET = "seed_preset"
    FAIL_REASON = "fail_reason"
    TRACEBACK = "traceback"
    DUPLICATE_OF = "duplicate_of"
    CURVE = "curve"  # validation top-1 after each epoch
    EPOCHS_DONE = "epochs_done"
    SECONDS = "seconds"
    MACHINE = "machine"  # where it trained (device, CPU threads, torch): the same seed repeats only there
    NODE = "node"  # with --backend ray: the Ray node it trained on (its last attempt's)
    VAL_LOSS = "val_loss"
    IMAGES_PER_S = "images_per_s"
    OPS = "ops"
    SEEDED = "seeded"  # the seed preset this trial trains, if any
    OWNER = "owner"  # host:pid:start time of the process running it
    HEARTBEAT = "heartbeat"
    TRAINING = "training"  # the architecture is being trained (in-flight dedup)
    RETRIES = "retries"
    RETRY_OF = "retry_of"
    TOP1_SEEDS = "top1_seeds"  # --seeds N: the validation top-1 of each seed (top1 is their mean)
    TOP1_SD = "top1_sd"  # their standard deviation (ddof 1)
    SCREEN_SCORE = "screen_score"  # the screening proxy's score (None: not finite)
    SCREEN_BY = "screen_by"  # the screening proxy's name
    SCREEN_PLACE = "screen_place"  # "p/n": its place among the n proposals it was compared with
    SCREEN_SECONDS = "screen_seconds"  # CPU seconds the score took
    SCREEN_PRIOR = "screen_prior"  # the shipped prior's architectures the surrogate fitted besides the study's
    SCREEN_ERROR = "screen_error"  # the screening score failed (the proposal was then trained)
