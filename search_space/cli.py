"""Shared command-line plumbing: resolve an ARCH argument, turn bad input into exit 2."""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .arch import ArchConfig
from .presets import PRESETS

__all__ = ["ArgumentParser", "check_ours", "check_out_folder", "choice", "int_at_least", "make_out_folder",
           "resolve_arch", "run_cli"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are ``ValueError``: :func:`run_cli` prints them as one line
    and exits 2 (argparse itself prints the usage text too)."""

    def error(self, message: str):  # type: ignore[override]
        raise ValueError(message.removeprefix("argument "))  # "--flag: ..." as every other message


def choice(values: Sequence[str], noun: str = "value") -> Callable[[str], str]:
    """An argparse ``type=`` that accepts one of ``values``; the error reads
    ``--flag: unknown value 'x' (choose from a, b)`` (argparse puts the flag in front)."""
    def parse(text: str) -> str:
        if text not in values:
            raise argparse.ArgumentTypeError(f"unknown {noun} {text!r} (choose from {', '.join(values)})")
        return text
    parse.__name__ = noun  # argparse names the type in some messages
    return parse


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer >= ``lo``; the error reads ``--flag: invalid value 0
    (expected an integer >= 1)``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected an integer >= {lo})") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"invalid value {value} (expected an integer >= {lo})")
        return value
    parse.__name__ = "integer"
    return parse


def check_out_folder(path: Path, option: str = "--out") -> None:
    """Refuse ``path`` as an output folder unless it is a writable folder or can be created as
    one; creates nothing (the probe is an unnamed temporary file)."""
    try:
        _check_out_folder(path, option)
    except OSError as exc:  # e.g. a parent folder we may not even look into
        raise ValueError(f"{option}: cannot use {str(path)!r} ({exc.strerror or type(exc).__name__})") from None


def check_ours(path: Path, *, header: list[str] | None = None, marker: str | None = None,
               option: str = "--out") -> None:
    """Refuse to overwrite ``path`` unless it is absent or one of this tool's outputs: a CSV whose
    header starts with ``header``, or a file holding ``marker`` in its first 64 KiB (a plot's
    metadata, a report's title). Reads nothing else, writes nothing."""
    if not path.exists():
        return
    if not path.is_file():
        raise ValueError(f"{option}: {str(path)!r} exists and is not a file")
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError as exc:
        raise ValueError(f"{option}: cannot read {str(path)!r} ({exc.strerror})") from None
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    ours = ((header is None or first[:len(header)] == header)
            and (marker is None or marker.encode() in head))
    if not ours:
        raise ValueError(f"{option}: {str(path)!r} exists and is not an output of this command (not overwritten;"
                         f" move it, or pass another {option})")


def make_out_folder(path: Path, option: str = "--out") -> None:
    """Create the output folder ``path`` (checked by :func:`check_out_folder`); a failure is
    one line naming it, not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{option}: cannot create {str(path)!r} ({exc.strerror or type(exc).__name__})") from None


def _check_out_folder(path: Path, option: str) -> None:
    text = str(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option}: {text!r} exists and is not a folder")
    probe = path
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # mkdir would fail on it
            raise ValueError(f"{option}: {str(probe)!r} is a symbolic link to nothing")
        probe = probe.parent  # the nearest existing folder, where it would be created
    if not probe.is_dir():
        raise ValueError(f"{option}: cannot create {text!r} ({str(probe)!r} is a file)")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        where = "" if probe == path else f" (in {str(probe)!r})"
        raise ValueError(f"{option}: {text!r} is not writable{where}: {exc.strerror or type(exc).__name__}") from None


def resolve_arch(text: str) -> tuple[ArchConfig, str]:
    """``text`` is a preset name, an architecture string or a JSON file; returns the
    architecture and the preset name (or "")."""
    if text in PRESETS:
        return PRESETS[text].arch, text
    try:
        return _resolve(text)
    except (OSError, RecursionError) as exc:  # e.g. a name too long for a path, absurd nesting
        raise ValueError(f"architecture: cannot use {text[:80]!r} ({type(exc).__name__})") from None


def _resolve(text: str) -> tuple[ArchConfig, str]:
    if text.endswith(".json") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"architecture file: {text!r} does not exist or is not a file")
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"architecture file: cannot read {text!r} ({exc})") from None
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"architecture file: {text!r} is not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        return ArchConfig.from_dict(data), ""
    if ":" not in text:
        raise ValueError(
            f"architecture: {text!r} is neither a preset name, an architecture string"
            " nor a JSON file (python -m search_space.presets lists the presets)"
        )
    return ArchConfig.decode(text), ""


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main``; a ``ValueError`` becomes one line on stderr and exit code 2, Ctrl-C exit code 130.

    A command a script started in the background (``cmd &``) inherits SIGINT ignored, and would
    then run on through ``kill -INT``: SIGINT interrupts it as in a terminal."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return main(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe broke: a real error
        # `| head` closed the pipe: stop quietly (the Python docs' recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (True when that cannot be told)."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poll.poll(0))
    except (AttributeError, OSError, ValueError):
        return True
