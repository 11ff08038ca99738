"""The layers stay layered, and no module imports itself through others.

Between packages: search_space <- proxies <- nas. Inside proxies: data <- scoring <- calibration, and
priors (the surrogate) stands apart from the three. Inside nas: ``nas.deploy`` imports no controller
(and no Optuna or Ray), ``nas.report`` no backend, ``nas.backends`` no report. A rule holds for a
module's own imports and for those of every project module it imports, directly or through others,
so a forbidden import cannot hide one module away.

The module graph is read from the source (``ast``): every import in a module, at its top or inside a
function (a lazy import still loads the module when it runs), relative ones resolved against the
module's package; imports under ``if TYPE_CHECKING:`` are left out, as they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("search_space", "proxies", "nas")

CONTROLLER = ("nas.backends", "nas.report", "nas.study", "nas.objective", "nas.search", "nas.samplers")
FORBIDDEN = {  # a package (dotted) -> the modules it may not import (each with its submodules)
    "search_space": ("proxies", "nas", "optuna", "ray"),
    "proxies": ("nas", "optuna", "ray"),
    "proxies.data": ("proxies.scoring", "proxies.calibration", "proxies.priors"),
    "proxies.scoring": ("proxies.calibration", "proxies.priors"),
    "proxies.priors": ("proxies.data", "proxies.scoring", "proxies.calibration"),
    "nas.deploy": ("optuna", "ray", "sqlalchemy", *CONTROLLER),
    "nas.report": ("nas.backends",),
    "nas.backends": ("nas.report",),
}


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (its ``else`` runs, and is kept)."""
    for child in ast.iter_child_nodes(tree):
        if _type_checking(child):
            for node in child.orelse:
                yield node
                yield from _nodes(node)
            continue
        yield child
        yield from _nodes(child)


def _imports(path: Path, root: Path = REPO) -> set[str]:
    """The absolute names ``path`` imports: ``import m`` gives m; ``from m import x`` gives m and m.x
    (x may be a submodule); a relative import is resolved against the module's package under ``root``."""
    module = module_name(path, root).split(".")
    package = module if path.name == "__init__.py" else module[:-1]
    names = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > len(package):
                    raise ValueError(f"{path}: relative import beyond the top-level package")
                base = package[:len(package) - node.level + 1] + ([node.module] if node.module else [])
            else:
                base = [node.module]
            names.add(".".join(base))
            names.update(".".join([*base, alias.name]) for alias in node.names if alias.name != "*")
    return names


def project(root: Path = REPO, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Every module of ``packages`` under ``root`` -> the names it imports."""
    return {module_name(p, root): _imports(p, root) for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _local(name: str, modules: dict) -> str | None:
    """The project module that importing ``name`` names (its longest prefix that is one); None if none."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or None


def edges(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (not itself)."""
    return {m: {d for n in names if (d := _local(n, modules)) and d != m} for m, names in modules.items()}


def _reached(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for d in graph[stack.pop()] - seen:
            seen.add(d)
            stack.append(d)
    return seen


def violations(modules: dict[str, set[str]], package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``module imports name`` (``through`` the module that does) for each forbidden import of ``package``."""
    graph, bad = edges(modules), []
    for m in sorted(x for x in modules if _within(x, (package,))):
        for via in sorted(_reached(m, graph)):
            hits = {name for name in modules[via] if _within(name, forbidden)}
            bad += [f"{m} imports {name}" + ("" if via == m else f" (through {via})")
                    for name in sorted(hits) if not _within(name, tuple(hits - {name}))]  # m, not also m.x
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as [a, b, ..., a] (depth-first search), [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return [*path[path.index(d):], d]
            if d not in state and (cycle := visit(d)):
                return cycle
        state[m] = 2
        path.pop()
        return []

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_goes_up_a_layer(package):
    bad = violations(project(), package, FORBIDDEN[package])
    assert not bad, "\n".join(bad)


def test_no_import_cycle_among_the_project_modules():
    modules = project()
    assert {"search_space.arch", "nas.report.presets", "nas.backends.loop"} <= set(modules)  # the graph is read
    cycle = find_cycle(edges(modules))
    assert not cycle, " -> ".join(cycle)


def _probe(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return project(root, ("pkg",))


def test_the_layer_check_resolves_and_flags_a_relative_import(tmp_path):
    modules = _probe(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/high.py": "import os\n",
        "pkg/low/__init__.py": "",
        "pkg/low/mod.py": ("import os\nfrom nas.study import open_study\nfrom ..high import thing\n"
                           "from . import sibling\n"),
        "pkg/low/sibling.py": "def f():\n    from .. import high\n",
        "pkg/low/clean.py": "from .sibling import f\n",
    })
    assert modules["pkg.low.mod"] == {"os", "nas.study", "nas.study.open_study", "pkg.high", "pkg.high.thing",
                                      "pkg.low", "pkg.low.sibling"}
    assert violations(modules, "pkg.low", ("pkg.high",)) == [
        "pkg.low.clean imports pkg.high (through pkg.low.sibling)",  # sibling imports it lazily, clean imports sibling
        "pkg.low.mod imports pkg.high",
        "pkg.low.mod imports pkg.high (through pkg.low.sibling)",
        "pkg.low.sibling imports pkg.high",
    ]
    assert violations(modules, "pkg.low", ("nas",)) == ["pkg.low.mod imports nas.study"]
    assert violations(modules, "pkg.high", ("pkg.low",)) == []


def test_the_cycle_check_finds_a_cycle_and_skips_type_checking_imports(tmp_path):
    modules = _probe(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import g\n",
        "pkg/b.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n"
                     "else:\n    import json\n"),
    })
    assert modules["pkg.b"] == {"typing", "typing.TYPE_CHECKING", "json"}
    assert find_cycle(edges(modules)) == []
    (tmp_path / "pkg/b.py").write_text("def g():\n    from . import c\n")
    (tmp_path / "pkg/c.py").write_text("import pkg.a\n")
    assert find_cycle(edges(project(tmp_path, ("pkg",)))) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_importing_deploy_and_its_clis_loads_no_optuna_or_ray():
    code = ("import sys, nas.deploy, nas.deploy.export, nas.deploy.train, nas.export, nas.train; "
            "print(sorted(m for m in ('optuna', 'ray', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_every_rule_flags_each_arrow_it_forbids(package):
    """Each rule, on a graph with one module of ``package`` that imports one forbidden module."""
    for target in FORBIDDEN[package]:
        modules = {f"{package}.probe": {target}, target: set()}
        assert violations(modules, package, FORBIDDEN[package]) == [f"{package}.probe imports {target}"], target
