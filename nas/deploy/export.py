"""``python -m nas.export SOURCE --out DIR``: an architecture, ready for full training and deployment.

SOURCE is a search's results folder (its ``best_arch.json``; its resolution and classes are the
defaults), a preset name, an architecture string or a JSON file. Writes into DIR:

* ``arch.json``: the architecture (``ArchConfig.to_dict()``) with its OPs, MACs, parameters and
  1-bit size at the deployment input, checked against fvcore on the built model;
* ``model.onnx``: the deployment model (eval mode, batch 1, input ``image`` 1x3xRxR, output
  ``logits``). Binary ops are emulated in float: activations are +-1 (``x >= 0`` gives +1) and
  binary conv weights are ``alpha * sign(W)`` in float32, so any ONNX runtime gives the network's
  outputs; a 1-bit runtime would replace those convs with XNOR-popcount;
* ``checkpoint.packed.pt`` (with ``--checkpoint``): the weights, binary ones packed 1 bit each
  plus their scales; loads with ``torch.load(..., weights_only=True)`` (``nas.checkpoint``).

Nothing is written outside DIR: a name there that is a symlink leading out of it is refused.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from search_space import ArchConfig, BuildOptions, analytic_cost, build_model, count_model_ops, deploy_model
from search_space.cli import ArgumentParser, check_out_folder, make_out_folder, resolve_arch, run_cli
from search_space.files import atomic_write

from .checkpoint import (
    checkpoint_defaults,
    checkpoint_sign_bias,
    load_weights,
    read_checkpoint,
    save_packed,
    split_checkpoint,
)

__all__ = ["EMULATION_NOTE", "OUTPUT_FILES", "main"]

OUTPUT_FILES = {"arch": "arch.json", "onnx": "model.onnx", "checkpoint": "checkpoint.packed.pt"}
EMULATION_NOTE = (
    "binary ops are emulated in float in model.onnx: activations are +-1 (x >= 0 -> +1) and binary"
    " conv weights are alpha*sign(W) in float32; a 1-bit runtime would use XNOR-popcount instead"
)
OPSETS = (11, 20)  # AveragePool ceil_mode needs 10+; the TorchScript exporter goes up to 20


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m nas.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("source", help="results folder (best_arch.json), preset name, architecture string or JSON file")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--resolution", type=int, help="input size (default: the checkpoint's, else the search's, else 224)")
    p.add_argument("--num-classes", type=int, help="classes (default: the checkpoint's, else the search's, else 1000)")
    p.add_argument(
        "--checkpoint",
        help="trained weights: a state dict saved by torch.save (nas.train's best.pt or"
        " last.pt included) or a packed checkpoint; written packed as checkpoint.packed.pt",
    )
    p.add_argument("--opset", type=int, default=17, help=f"ONNX opset, {OPSETS[0]}..{OPSETS[1]} (default 17)")
    p.add_argument("--no-onnx", action="store_true", help="do not write model.onnx")
    return p


def resolve_source(text: str) -> tuple[ArchConfig, str, dict[str, Any]]:
    """``(arch, label, settings)`` of SOURCE; ``settings`` holds a results folder's resolution
    and classes."""
    folder = Path(text)
    if folder.is_dir():
        best = folder / "best_arch.json"
        if not best.is_file():
            raise ValueError(f"source: the folder {text!r} has no best_arch.json (not a search's results folder)")
        arch, _ = resolve_arch(str(best))
        data = json.loads(best.read_text(encoding="utf-8"))
        settings = {k: data[k] for k in ("resolution", "num_classes") if isinstance(data.get(k), int)}
        return arch, str(best), settings
    arch, name = resolve_arch(text)
    return arch, name, {}


def prepare_out(text: str, names: list[str]) -> Path:
    """The output folder, created if missing; refuses one that is a file or not writable, and
    output names that are folders or symlinks leading out of it."""
    out = Path(text)
    check_out_folder(out)
    make_out_folder(out)
    root = out.resolve()
    for name in names:
        target = out / name
        if target.is_symlink() and target.resolve().parent != root:
            raise ValueError(f"--out: {str(target)!r} is a symlink leading outside {text!r}; refusing to write it")
        if target.exists() and not target.is_symlink() and not target.is_file():
            raise ValueError(f"--out: {str(target)!r} exists and is not a file")
        if target.resolve().parent != root:
            raise ValueError(f"--out: {name!r} resolves outside {text!r}")
    return root


def _write_bytes(root: Path, name: str, data: bytes) -> Path:
    """Write ``root/name`` atomically (a temporary file in ``root``, then a rename that replaces a
    symlink rather than following it)."""
    target = root / name
    assert target.parent == root and "/" not in name
    try:
        atomic_write(target, lambda f: f.write(data))
    except OSError as exc:
        raise ValueError(f"--out: cannot write {str(target)!r} ({exc.strerror or type(exc).__name__})") from None
    return target


def _check_args(args: argparse.Namespace) -> None:
    if args.resolution < 8:
        raise ValueError(f"--resolution: invalid value {args.resolution} (expected >= 8)")
    if args.num_classes < 1:
        raise ValueError(f"--num-classes: invalid value {args.num_classes} (expected >= 1)")
    if not OPSETS[0] <= args.opset <= OPSETS[1]:
        raise ValueError(f"--opset: invalid value {args.opset} (expected {OPSETS[0]}..{OPSETS[1]})")
    if not args.no_onnx and importlib.util.find_spec("onnx") is None:
        raise ValueError("ONNX export needs the 'onnx' package (pip install onnx); or pass --no-onnx")


def check_ops(
    model: torch.nn.Module, arch: ArchConfig, resolution: int, num_classes: int, options: BuildOptions
) -> dict[str, Any]:
    """The analytic cost of ``arch``, after checking it against fvcore on the built ``model``."""
    cost = analytic_cost(arch, num_classes, resolution, options)
    report = count_model_ops(model, resolution, "bireal", arch.encode())
    pairs = {
        "fp_macs": (cost.fp_macs, report.fp_macs),
        "binary_macs": (cost.binary_macs, report.binary_macs),
        "params": (cost.params, report.params),
        "size_bytes": (cost.size_bytes, report.size_bytes),
    }
    for key, (analytic, counted) in pairs.items():
        if analytic != counted:
            raise RuntimeError(f"{key}: analytic {analytic} != fvcore {counted} for {arch.encode()}")
    return {
        "ops": cost.ops(),
        "fp_macs": cost.fp_macs,
        "binary_macs": cost.binary_macs,
        "params": cost.params,
        "size_bytes": cost.size_bytes,
        "convention": "bireal",
    }


def export_onnx(deployed: torch.nn.Module, resolution: int, opset: int) -> bytes:
    """The deployment model as ONNX bytes (TorchScript exporter: needs only the ``onnx`` package)."""
    x = torch.zeros(1, 3, resolution, resolution)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            deployed,
            (x,),
            buffer,
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            opset_version=opset,
            do_constant_folding=True,
        )
    data = buffer.getvalue()
    import onnx

    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data


def onnxruntime_check(data: bytes, deployed: torch.nn.Module, resolution: int, seed: int = 0) -> dict[str, Any] | None:
    """Run the ONNX model with onnxruntime (when installed) and compare with PyTorch.

    A binary network can amplify float rounding: an activation within rounding error of 0 takes
    either sign, and the flip travels on. When the outputs differ visibly, PyTorch in float64 is
    compared too: ONNX Runtime as close to it as PyTorch float32 is means rounding, not a bad export.
    """
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import copy

    import onnxruntime as ort

    x = torch.randn(1, 3, resolution, resolution, generator=torch.Generator().manual_seed(seed))
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(["logits"], {"image": x.numpy()})[0])
    with torch.no_grad():
        want = deployed(x)
    result: dict[str, Any] = {
        "max_abs_diff": float((got - want).abs().max()),
        "same_top1": bool(got.argmax() == want.argmax()),
    }
    if result["max_abs_diff"] > 1e-4:
        with torch.no_grad():
            ref = copy.deepcopy(deployed).double()(x.double())
        result["float64_vs_float32"] = float((ref - want).abs().max())
        result["float64_vs_onnxruntime"] = float((ref - got).abs().max())
    return result


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    arch, label, settings = resolve_source(args.source)
    ckpt = read_checkpoint(args.checkpoint) if args.checkpoint else None
    if ckpt is not None:  # the trained model's own input and classes come before the search's
        settings |= checkpoint_defaults(ckpt)
    if isinstance(ckpt, dict) and isinstance(ckpt.get("arch"), str) and ckpt["arch"] != arch.encode():
        raise ValueError(f"--checkpoint: trained for {ckpt['arch']!r}, not {arch.encode()!r}")
    args.resolution = args.resolution if args.resolution is not None else settings.get("resolution", 224)
    args.num_classes = args.num_classes if args.num_classes is not None else settings.get("num_classes", 1000)
    _check_args(args)
    names = [OUTPUT_FILES["arch"]] + ([] if args.no_onnx else [OUTPUT_FILES["onnx"]])
    names += [OUTPUT_FILES["checkpoint"]] if args.checkpoint else []
    root = prepare_out(args.out, names)
    options = BuildOptions(sign_bias=checkpoint_sign_bias(ckpt) if ckpt is not None else False)
    model = build_model(arch, args.num_classes, args.resolution, options).eval()
    meta: dict[str, Any] = {}
    deployed = None
    if ckpt is not None:
        deployed, meta = load_weights(ckpt, model, deploy=True)
    cost = check_ops(model, arch, args.resolution, args.num_classes, options)
    deployed = deployed if deployed is not None else deploy_model(model)
    written: list[Path] = []
    info: dict[str, Any] = (
        arch.to_dict()
        | cost
        | {
            "resolution": args.resolution,
            "num_classes": args.num_classes,
            "source": label or args.source,
            "sign_bias": options.sign_bias,
        }
    )
    if not args.no_onnx:
        data = export_onnx(deployed, args.resolution, args.opset)
        ort_check = onnxruntime_check(data, deployed, args.resolution)
        written.append(_write_bytes(root, OUTPUT_FILES["onnx"], data))
        info["onnx"] = {
            "file": OUTPUT_FILES["onnx"],
            "opset": args.opset,
            "exporter": "torch.onnx (TorchScript)",
            "input": f"image 1x3x{args.resolution}x{args.resolution}",
            "output": "logits",
            "binary_emulation": EMULATION_NOTE,
            "onnxruntime_check": ort_check,
        }
    if ckpt is not None:
        keep = {k: v for k, v in meta.items() if k not in ("arch", "num_classes", "input_size", "options")}
        packed, _ = split_checkpoint(ckpt)  # a packed checkpoint is re-saved as it is, not packed again
        written.append(
            save_packed(
                model, root / OUTPUT_FILES["checkpoint"], keep | {"source": str(args.checkpoint)}, packed=packed
            )
        )
        info["checkpoint"] = OUTPUT_FILES["checkpoint"]
    written.insert(0, _write_bytes(root, OUTPUT_FILES["arch"], (json.dumps(info, indent=2) + "\n").encode()))
    print(f"{label + ' = ' if label else ''}{arch.encode()}")
    print(
        f"  builds: yes   OPs {cost['ops'] / 1e6:.2f}M at {args.resolution}x{args.resolution}, {args.num_classes}"
        f" classes (FP MACs {cost['fp_macs'] / 1e6:.2f}M + binary MACs {cost['binary_macs'] / 1e6:.2f}M / 64;"
        " fvcore agrees)"
    )
    print(f"  parameters {cost['params'] / 1e6:.2f}M   1-bit size {cost['size_bytes'] / 2**20:.2f} MiB")
    if not args.no_onnx:
        print(f"  note: {EMULATION_NOTE}")
        check = info["onnx"]["onnxruntime_check"]
        if check is not None:
            line = f"  onnxruntime vs PyTorch: max |logit diff| {check['max_abs_diff']:.2e}"
            if "float64_vs_float32" in check:
                line += (
                    f" (PyTorch float64 vs float32: {check['float64_vs_float32']:.2e}, vs onnxruntime:"
                    f" {check['float64_vs_onnxruntime']:.2e}; binary activations near 0 flip with rounding)"
                )
            print(line)
    for path in written:
        print(f"  wrote {path} ({path.stat().st_size / 2**20:.2f} MiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line (bad input: one line on stderr, exit code 2)."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
