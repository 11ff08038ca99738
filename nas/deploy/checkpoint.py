"""Packed checkpoints: binary weights 1 bit each plus their scales, everything else float.

A packed checkpoint is ``{"format": "binas-checkpoint/1", "meta": {...}, "packed": ...}``
where ``packed`` is :func:`search_space.deploy.pack_binary_state`'s dict and ``meta`` holds the
architecture string, classes, input size and build options (so :func:`load_packed` can build
the model itself) plus the caller's own keys. Only tensors, ints, floats, strings, lists and
dicts: it loads with ``torch.load(path, weights_only=True)``, and nothing else is ever used.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from search_space import ArchConfig, BuildOptions, build_model
from search_space.checks import is_int
from search_space.deploy import PACKED_FORMAT, model_spec, pack_binary_state, unpack_binary_state
from search_space.files import atomic_write

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

CHECKPOINT_FORMAT = "binas-checkpoint/1"
_MODEL_KEYS = ("arch", "num_classes", "input_size", "options")
_STATE_KEYS = ("state_dict", "model", "model_state_dict")  # common wrappers of a state dict


def _check_meta(value: Any, where: str = "meta") -> Any:
    """``value`` as plain data (dicts with string keys, lists, str, int, float, bool, None)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_check_meta(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, got {k!r}")
            out[k] = _check_meta(v, f"{where}.{k}")
        return out
    raise ValueError(f"{where}: {type(value).__name__} is not plain data (str, int, float, bool, list, dict)")


def save_packed(
    model: nn.Module,
    path: str | os.PathLike,
    meta: Mapping[str, Any] | None = None,
    packed: dict[str, Any] | None = None,
) -> Path:
    """Save ``model`` (a MobileNetBNN) packed to ``path``, atomically; returns the path.

    ``meta`` is the caller's plain data (epochs, accuracy, ...); the model's own keys
    (``arch``, ``num_classes``, ``input_size``, ``options``) are added and may not disagree.
    ``packed``: ``model``'s state already packed (re-saving a loaded packed checkpoint keeps its
    scales bit for bit; packing the loaded model again may move some by a few float ulps).
    """
    spec = model_spec(model)
    user = _check_meta(dict(meta or {}))
    for key in _MODEL_KEYS:
        if key in user and user[key] != spec[key]:
            raise ValueError(f"meta: {key}={user[key]!r} disagrees with the model ({spec[key]!r})")
    payload = {"format": CHECKPOINT_FORMAT, "meta": {**user, **spec}, "packed": packed or pack_binary_state(model)}
    path = Path(path)
    atomic_write(path, lambda f: torch.save(payload, f))
    return path


def read_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; unreadable or unsafe files raise
    ``ValueError`` (one line)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint: {str(path)!r} does not exist or is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, AttributeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"checkpoint: cannot load {str(path)!r} with weights_only=True ({first})") from None


def split_checkpoint(data: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(packed dict or None, meta) of a loaded checkpoint."""
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        meta, packed = data.get("meta"), data.get("packed")
        if not isinstance(meta, dict) or not isinstance(packed, dict):
            raise ValueError("checkpoint: 'meta' or 'packed' missing")
        return packed, meta
    if isinstance(data, dict) and data.get("format") == PACKED_FORMAT:
        meta = data.get("model")
        return data, dict(meta) if isinstance(meta, dict) else {}
    return None, {}


def _build_from_meta(meta: dict[str, Any], arch: ArchConfig | str | None) -> nn.Module:
    if arch is None:
        if not isinstance(meta.get("arch"), str):
            raise ValueError("checkpoint: no architecture recorded; pass arch")
        arch = meta["arch"]
    arch = ArchConfig.decode(arch) if isinstance(arch, str) else arch
    if isinstance(meta.get("arch"), str) and meta["arch"] != arch.encode():
        raise ValueError(f"checkpoint: saved for {meta['arch']!r}, not {arch.encode()!r}")
    opts = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    options = BuildOptions(
        sign_bias=bool(opts.get("sign_bias", False)), stem_stride=opts.get("stem_stride"), order=opts.get("order")
    )
    return build_model(arch, meta.get("num_classes", 1000), meta.get("input_size", 224), options)


def load_packed(
    path: str | os.PathLike, arch: ArchConfig | str | None = None, deploy: bool = False
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model a packed checkpoint was saved from and load it: ``(model, meta)``.

    ``arch`` (optional) must agree with the recorded one. The model is in eval mode; with
    ``deploy=True`` it is the :func:`search_space.deploy.deploy_model` form, whose outputs are
    those of the saved model bit for bit (the training form recomputes ``alpha``, a few float
    ulps off in some channels).
    """
    packed, meta = split_checkpoint(read_checkpoint(path))
    if packed is None:
        raise ValueError(f"checkpoint: {str(path)!r} is not a packed checkpoint ({CHECKPOINT_FORMAT})")
    model = _build_from_meta(meta, arch)
    return unpack_binary_state(packed, model, deploy=deploy).eval(), meta


def _state_dict(data: Any) -> dict[str, torch.Tensor]:
    if isinstance(data, dict):
        for key in _STATE_KEYS:
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ValueError("checkpoint: neither a packed checkpoint nor a state dict of tensors")
    return data


def checkpoint_defaults(data: Any) -> dict[str, int]:
    """The ``resolution`` and ``num_classes`` a loaded checkpoint records (packed meta, or
    nas.train's ``settings``), when it does."""
    packed, meta = split_checkpoint(data)
    if packed is not None:
        found = {"resolution": meta.get("input_size"), "num_classes": meta.get("num_classes")}
    else:
        settings = data.get("settings") if isinstance(data, dict) else None
        settings = settings if isinstance(settings, dict) else {}
        classes = settings.get("classes")
        found = {
            "resolution": settings.get("resolution"),
            "num_classes": len(classes) if isinstance(classes, list) else settings.get("num_classes"),
        }
    return {k: v for k, v in found.items() if is_int(v)}


def checkpoint_sign_bias(data: Any) -> bool:
    """Whether a loaded checkpoint has learnable sign biases (built with ``sign_bias=True``)."""
    packed, meta = split_checkpoint(data)
    if packed is not None:
        return bool((meta.get("options") or {}).get("sign_bias", False))
    return any(k.endswith("sign.bias") for k in _state_dict(data))


def load_weights(data: Any, model: nn.Module, deploy: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint already read by :func:`read_checkpoint` (packed, or a plain state dict
    saved by ``torch.save``, possibly under ``"state_dict"``/``"model"``) into ``model``.

    Returns ``(model or its deploy form, meta)``; a checkpoint of another architecture or
    class count raises ``ValueError``.
    """
    packed, meta = split_checkpoint(data)
    if packed is not None:
        recorded = meta.get("arch")
        arch = getattr(model, "arch", None)
        if isinstance(recorded, str) and arch is not None and recorded != arch.encode():
            raise ValueError(f"checkpoint: saved for {recorded!r}, not {arch.encode()!r}")
        return unpack_binary_state(packed, model, deploy=deploy), meta
    try:
        model.load_state_dict(_state_dict(data), strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines()]
        raise ValueError(f"checkpoint: does not fit the model ({' '.join(lines[:2])[:300]})") from None
    if deploy:
        from search_space.deploy import deploy_model

        return deploy_model(model), meta
    return model, meta
