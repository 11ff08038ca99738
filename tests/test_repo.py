"""The README's commands are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_cmd = next(line.strip() for line in readme.splitlines() if "python -m pytest" in line)
    assert test_cmd in ci.splitlines()
