"""Type-check the installed ``aligngate`` namespace with mypy (``make lint`` runs this).

``checks/``, ``datasets_curation/``, ``flows/`` and ``policies/`` install as ``aligngate.checks``,
``aligngate.curation``, ``aligngate.flows`` and ``aligngate.policies`` through setuptools' ``package-dir``
(pyproject.toml). mypy cannot read
that mapping, and the editable install resolves it with an import hook mypy does not run. So this script lays out the
package as it installs, as a tree of symlinks under ``build/typecheck/`` built from ``[tool.setuptools.package-dir]``,
runs mypy on ``-p aligngate`` there (settings in ``[tool.mypy]``) and prints every path in mypy's output as the path in
the checkout (``build/typecheck/aligngate/checks/run.py`` -> ``checks/run.py``).

Usage: ``python tools/typecheck.py [extra mypy arguments]``; the exit status is mypy's (0 clean, 1 errors, 2 crash).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_dirs(pyproject: Path) -> dict[str, str]:
    """``[tool.setuptools.package-dir]``: import name -> folder in the checkout."""
    with pyproject.open("rb") as f:
        data = tomllib.load(f)
    mapping = data["tool"]["setuptools"]["package-dir"]
    if not isinstance(mapping, dict) or "aligngate" not in mapping:
        raise SystemExit(f"{pyproject}: [tool.setuptools.package-dir] must map 'aligngate'")
    return {str(k): str(v) for k, v in mapping.items()}


def build_tree(mapping: dict[str, str]) -> dict[Path, Path]:
    """Symlink the checkout's folders into ``build/typecheck`` as the wheel lays them out.

    Returns shadow folder -> real folder, longest first, for mapping mypy's paths back."""
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    back: dict[Path, Path] = {}
    root_src = ROOT / mapping["aligngate"]
    root_dst = TREE / "aligngate"
    root_dst.mkdir()
    subpackages = {name.split(".", 1)[1]: ROOT / src for name, src in mapping.items() if name != "aligngate"}
    for name in subpackages:
        if "." in name:
            raise SystemExit(f"package-dir entry aligngate.{name}: only direct subpackages are supported here")
    for entry in sorted(root_src.iterdir()):
        if entry.name == "__pycache__" or entry.name in subpackages:
            continue
        (root_dst / entry.name).symlink_to(entry)
    for name, src in subpackages.items():
        if not src.is_dir():
            raise SystemExit(f"package-dir entry aligngate.{name}: folder {src} does not exist")
        (root_dst / name).symlink_to(src, target_is_directory=True)
        back[root_dst / name] = src
    back[root_dst] = root_src
    return dict(sorted(back.items(), key=lambda kv: -len(str(kv[0]))))


def to_checkout_paths(text: str, back: dict[Path, Path]) -> str:
    """Rewrite shadow-tree paths in mypy's output to checkout paths (relative to the repository root)."""
    for shadow, real in back.items():
        text = re.sub(rf"(?m)^{re.escape(os.path.relpath(shadow, TREE))}/", os.path.relpath(real, ROOT) + "/", text)
    return text


def main(argv: list[str]) -> int:
    back = build_tree(package_dirs(ROOT / "pyproject.toml"))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           "--cache-dir", str(ROOT / "build" / "mypy-cache"), "-p", "aligngate", *argv]
    # Run inside the tree, so that the checkout's own aligngate/ (without checks/ and the rest) is not on the path.
    proc = subprocess.run(cmd, cwd=TREE, capture_output=True, text=True, check=False)
    sys.stdout.write(to_checkout_paths(proc.stdout, back))
    sys.stderr.write(to_checkout_paths(proc.stderr, back))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
