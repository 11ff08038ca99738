"""``manifest.json``: what made a results folder, written by the tool that made it.

It records the command line, the git commit of the code (``+dirty`` when the work tree had
uncommitted changes), the binas version, the machine line (:func:`proxies.data.runtime.machine_tag`),
start and end time, wall and CPU seconds (children included), and the data's identity (a folder and
what was read from it, or the input files and their SHA-256). A resumed run keeps the first start
time, adds its own wall and CPU seconds to the earlier runs' (``runs`` counts them) and its command
to ``commands``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from search_space.files import atomic_write_text

from .data.runtime import machine_tag

__all__ = ["MANIFEST", "Manifest", "binas_version", "file_identity", "git_commit"]

MANIFEST = "manifest.json"


def git_commit(where: Path | None = None) -> str:
    """The commit of the repository holding this code (``+dirty`` with uncommitted changes), or "unknown"."""
    root = where or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        # results/ changes while runs go on: only the code counts
        code = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"]
        dirty = subprocess.run(code, cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def file_identity(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Each file's path and SHA-256: the identity of a tool's input files."""
    return [{"path": str(p), "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in sorted(paths)]


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes (workers, Ray's local trials)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def binas_version() -> str:
    """The installed binas version (``unknown`` when binas runs from a source tree it was not installed from)."""
    try:
        return metadata.version("binas")
    except metadata.PackageNotFoundError:
        return "unknown"


class Manifest:
    """Start it when a tool starts; :meth:`write` it (again) whenever the folder's files are written."""

    def __init__(self, folder: Path, tool: str, data: Any = None, argv: list[str] | None = None,
                 device: str | None = None) -> None:
        """``tool``: how it is invoked, e.g. ``python -m nas.search`` or ``python benchmarks/fidelity.py``;
        ``argv``: its arguments (default: this process's)."""
        self.folder = Path(folder)
        self.data = data
        self._wall0, self._cpu0 = time.perf_counter(), _cpu()
        args = sys.argv[1:] if argv is None else argv
        self.record: dict[str, Any] = {"tool": tool, "command": " ".join([tool, *args]),
                                       "commit": git_commit(), "binas_version": binas_version(),
                                       "machine": machine_tag(device), "started": _now()}
        earlier = self._read()
        self._before = (float(earlier.get("wall_seconds", 0.0)), float(earlier.get("cpu_seconds", 0.0)),
                        int(earlier.get("runs", 0)))
        if earlier.get("started"):
            self.record["started"] = earlier["started"]
        self.record["commands"] = [*earlier.get("commands", [earlier["command"]] if "command" in earlier else []),
                                   self.record["command"]]  # every invocation that wrote the folder, in order

    def _read(self) -> dict:
        try:
            return json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def write(self) -> Path:
        wall, cpu, runs = self._before
        self.record.update(ended=_now(), wall_seconds=round(wall + time.perf_counter() - self._wall0, 1),
                           cpu_seconds=round(cpu + _cpu() - self._cpu0, 1), runs=runs + 1,
                           data=self.data)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / MANIFEST
        atomic_write_text(path, json.dumps(self.record, indent=2, default=str) + "\n")
        return path
