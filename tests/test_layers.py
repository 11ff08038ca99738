"""The layers stay layered: search_space <- proxies <- nas, and nas.deploy imports no Optuna or Ray."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "search_space": ("proxies", "nas", "optuna", "ray"),
    "proxies": ("nas", "optuna", "ray"),
    "nas/deploy": ("optuna", "ray", "sqlalchemy", "nas.backends", "nas.report", "nas.study", "nas.objective"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_goes_up_a_layer(package):
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_layer_check_sees_a_forbidden_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom nas.study import open_study\nfrom . import sibling\n")
    assert _imports(probe) == {"os", "nas.study"}


def test_importing_deploy_and_its_clis_loads_no_optuna_or_ray():
    code = ("import sys, nas.deploy, nas.deploy.export, nas.deploy.train, nas.export, nas.train; "
            "print(sorted(m for m in ('optuna', 'ray', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
