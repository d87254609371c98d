"""One product namespace: the design card's folders install inside ``aligngate``, with no import cycle.

``checks/``, ``datasets_curation/``, ``flows/`` and ``policies/`` stay at the top of the repository and install as
``aligngate.checks``, ``aligngate.curation``, ``aligngate.flows`` and ``aligngate.policies`` (setuptools
``package-dir``). A wheel built from the checkout holds one top-level import package and runs from outside it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
ROOTS = SETUPTOOLS["package-dir"]
"""Import name -> folder, for each mapped root."""
TOP_LEVEL = {"aligngate": "aligngate", "checks": "aligngate.checks", "datasets_curation": "aligngate.curation",
             "flows": "aligngate.flows", "policies": "aligngate.policies"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO)
    parts = list(rel.with_suffix("").parts)
    parts[0] = TOP_LEVEL[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _product_files() -> list[Path]:
    return [p for top in TOP_LEVEL for p in (REPO / top).rglob("*.py") if "__pycache__" not in p.parts]


def test_package_dir_maps_the_design_card_folders() -> None:
    assert ROOTS == {"aligngate": "aligngate", "aligngate.checks": "checks", "aligngate.curation": "datasets_curation",
                     "aligngate.flows": "flows", "aligngate.policies": "policies"}


def test_every_folder_with_code_or_data_is_packaged() -> None:
    listed = set(SETUPTOOLS["packages"])
    found = set()
    for top, name in TOP_LEVEL.items():
        for d in [REPO / top, *(p for p in (REPO / top).rglob("*") if p.is_dir())]:
            if "__pycache__" in d.parts or not any(f.is_file() for f in d.iterdir()):
                continue
            found.add(".".join([name, *d.relative_to(REPO / top).parts]))
    assert found == listed


def _imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Module-level imports (not inside functions), as absolute names."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return out


def test_no_code_imports_the_old_top_level_names() -> None:
    bad = []
    for path in [*_product_files(), *(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py"),
                 *(REPO / "scripts").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            bad += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names
                    if n.split(".")[0] in ("checks", "datasets_curation", "flows", "policies")]
    assert not bad, "import through the aligngate namespace instead:\n" + "\n".join(bad)


def test_module_level_imports_have_no_cycle() -> None:
    modules = {_module_name(p): p for p in _product_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for imported, _ in _imports(ast.parse(path.read_text(), str(path))):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            # a module's own ancestors are already being imported when it runs: not an edge
            if imported and imported != name and not name.startswith(imported + "."):
                deps.add(imported)
        graph[name] = deps
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


@pytest.mark.slow
def test_wheel_has_one_top_level_package_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True)
    (wheel,) = wheels.glob("aligngate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.startswith("aligngate-")} == {"aligngate"}
    assert "aligngate/policies/default.yaml" in names and "aligngate/checks/refusal.py" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "import sys; from aligngate.cli import main; "
                               "sys.exit(main(sys.argv[1:]))", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=120)

    where = subprocess.run([sys.executable, "-c", "import aligngate.checks as c, aligngate.policy as p; "
                            "print(c.__file__); print(p.DEFAULT_POLICY)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert all(w.startswith(str(target)) for w in where), where
    assert run("--help").returncode == 0
    listed = run("checks")
    assert listed.returncode == 0 and "refusal.harmful_refusal_rate" in listed.stdout
    valid = run("validate-policy", where[1])
    assert valid.returncode == 0, valid.stderr
    assert run("validate-policy", "strict").returncode == 0
