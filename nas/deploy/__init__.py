"""From a found architecture to a deployable network: export (arch.json, ONNX that emulates the
binary ops, 1-bit packed checkpoints) and the full training recipe. Imports no Optuna, Ray or
SQLAlchemy, so ``python -m nas.export`` and ``python -m nas.train`` start fast."""

from .checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_defaults,
    checkpoint_sign_bias,
    load_packed,
    load_weights,
    read_checkpoint,
    save_packed,
    split_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_defaults",
    "checkpoint_sign_bias",
    "load_packed",
    "load_weights",
    "read_checkpoint",
    "save_packed",
    "split_checkpoint",
]
