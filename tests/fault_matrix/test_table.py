"""docs/FAULTS.md is the fault matrix's cases, exactly; every matrix test declares its cases; coverage holds."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("fault_matrix_table", Path(__file__).with_name("table.py"))
assert _spec is not None and _spec.loader is not None
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)  # by path: no other module named "table" can stand in for it


def test_doc_is_in_sync_with_the_cases() -> None:
    assert table.DOC.is_file(), "docs/FAULTS.md missing: run python tests/fault_matrix/table.py"
    assert table.DOC.read_text(encoding="utf-8") == table.render(), \
        "docs/FAULTS.md is out of date: run python tests/fault_matrix/table.py"


def test_every_matrix_test_declares_its_cases() -> None:
    here = Path(table.__file__).parent
    modules = sorted(p.stem for p in here.glob("test_*.py") if p.stem != "test_table")
    assert modules == sorted(table.MODULES), "a test module of the matrix is missing from table.MODULES"
    declared = {(m, f) for m, f, _ in table.collect()}
    for m in modules:
        tree = ast.parse((here / f"{m}.py").read_text(encoding="utf-8"))
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        missing = [t for t in tests if (m, t) not in declared]
        assert not missing, f"{m}: tests without @fault cases (not in the table): {missing}"


def test_coverage() -> None:
    cases = [c for _, _, c in table.collect()]
    faults = [c for c in cases if c.cls != "control"]
    assert len(faults) >= 40
    assert len({c.id for c in cases}) == len(cases), "two cases share a name and command"
    assert {c.command.split()[0] for c in faults} >= set(table.COMMANDS)
    from aligngate.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(table.COMMANDS) == set(sub.choices) - {"checks"}  # type: ignore[union-attr]
    for c in faults:
        assert c.exit != 0 or c.says or c.also, c
        assert c.exit in (-9, 0, 1, 2) and (c.verdict is None or c.verdict in ("pass", "block"))
        assert (c.exit == 0) == (c.verdict == "pass") or c.verdict is None
