"""Nothing unreachable: every module the wheel installs under ``aligngate`` is imported, directly or through other
modules, from a root a user can reach -- a CLI command, a Prefect flow, a registered check, the public API of
``aligngate/__init__.py`` or one of the few documented entry points listed in ``ENTRY_POINTS`` below.

How it is checked (statically, without importing torch): the installed module list comes from pyproject.toml
(``[tool.setuptools] packages`` mapped through ``package-dir``, the same table the wheel is built from); each module's
source is parsed and its imports collected -- module-level and function-level (aligngate imports heavy things lazily),
``from X import name`` where ``X.name`` is a module, and string literals naming an aligngate module
(``importlib.import_module`` targets, the lazy ``_EXPORTS`` table, the check registry's ``_MODULES``). Imports under
``if TYPE_CHECKING:`` do not count (they never run). Importing ``a.b.c`` runs ``a/__init__`` and ``a.b/__init__``, so a
module also reaches its parent packages. A module no root reaches fails the test: wire it in, document it as an entry
point here with the reason, or delete it.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Documented entry points that no command, flow or check imports, each with where it is documented.
ENTRY_POINTS: dict[str, str] = {
    "aligngate.__main__": "`python -m aligngate` (README, ARCHITECTURE.md)",
    "aligngate.report.json_schema": "`python -m aligngate.report.json_schema` regenerates report/schema/report.v1.json "
                                    "(its docstring; tests/aligngate/report keeps the file in sync)",
    "aligngate.checks.testing": "the test seam for check authors: FakeContext (ARCHITECTURE.md, 'Adding a check')",
}


def _installed_modules() -> dict[str, Path]:
    """Installed module name -> source file, from pyproject's package list and package-dir mapping."""
    with (REPO / "pyproject.toml").open("rb") as f:
        st = tomllib.load(f)["tool"]["setuptools"]
    mapping: dict[str, str] = st["package-dir"]
    out: dict[str, Path] = {}
    for pkg in st["packages"]:
        base = max((k for k in mapping if pkg == k or pkg.startswith(k + ".")), key=len)
        folder = REPO / mapping[base] / Path(*pkg[len(base):].lstrip(".").split(".")) if pkg != base \
            else REPO / mapping[base]
        for py in sorted(folder.glob("*.py")):
            out[pkg if py.stem == "__init__" else f"{pkg}.{py.stem}"] = py
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The aligngate modules that ``name`` (at ``path``) imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.stem == "__init__"
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the TYPE_CHECKING body never runs
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".") if is_pkg else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                mod = ".".join([*parts, node.module] if node.module else parts)
            else:
                mod = node.module or ""
            yield mod
            for a in node.names:
                if f"{mod}.{a.name}" in known:
                    yield f"{mod}.{a.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
            yield node.value
        stack.extend(ast.iter_child_nodes(node))


def _parents(mod: str) -> Iterator[str]:
    parts = mod.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def _roots(known: set[str]) -> dict[str, str]:
    """Root module -> why it is a root."""
    from aligngate.commands import COMMANDS

    roots = {"aligngate.cli": "console script `aligngate` (pyproject [project.scripts])",
             "aligngate": "the public API (aligngate.__all__)"}
    roots |= {f"aligngate.commands.{c}": "a CLI command (aligngate.commands.COMMANDS)" for c in COMMANDS}
    roots |= {m: "a Prefect flow module" for m in known if m.startswith("aligngate.flows.")}
    import aligngate.checks as registry

    roots |= {m: "a registered check module" for m in registry._MODULES}
    roots |= ENTRY_POINTS
    return roots


def test_every_installed_module_is_reachable() -> None:
    modules = _installed_modules()
    known = set(modules)
    graph = {m: {i for i in _imports(m, p, known) if i in known} | set(_parents(m)) for m, p in modules.items()}
    roots = _roots(known)
    assert set(roots) <= known, f"roots that are not installed modules: {sorted(set(roots) - known)}"
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m] - seen)
    unreachable = sorted(known - seen)
    assert not unreachable, (
        f"{len(unreachable)} installed module(s) no command, flow, registered check or documented entry point "
        f"imports: {unreachable}. Wire each in, list it in ENTRY_POINTS with where it is documented, or delete it.")


def test_the_checker_sees_lazy_imports_and_ignores_type_checking(tmp_path: Path) -> None:
    """The graph builder counts function-level and string imports and skips TYPE_CHECKING blocks."""
    src = tmp_path / "mod.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from aligngate.c import X\n"
        "def f():\n    from aligngate import a\n    import aligngate.b\n"
        "TABLE = {'x': 'aligngate.d'}\n"
        "from . import e\n", encoding="utf-8")
    known = {"aligngate.a", "aligngate.b", "aligngate.c", "aligngate.d", "aligngate.pkg.e"}
    found = set(_imports("aligngate.pkg.mod", src, known)) & known
    assert found == {"aligngate.a", "aligngate.b", "aligngate.d", "aligngate.pkg.e"}


@pytest.mark.parametrize("mod", sorted(ENTRY_POINTS))
def test_entry_points_exist(mod: str) -> None:
    assert mod in _installed_modules(), f"ENTRY_POINTS names {mod}, which the wheel does not install"
