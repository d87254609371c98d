"""The fault matrix's cases: what each one expects, and the one assertion helper every case goes through.

A test declares its case(s) with :func:`fault`; the test receives the :class:`Case` as its ``case`` argument and
ends with :func:`check`, which asserts everything the case declares:

* the exit code (0 / 1 / 2);
* where the command writes a ``report.json``: its ``verdict`` and that its ``exit_code`` equals the exit code
  (``verdict=None``: the command writes no report there, and none is expected);
* that every ``says`` string appears in what the user sees (stderr, stdout, the report's errors and check
  messages): the file, line, key or endpoint the fault is about;
* each flag the case sets (``no_promotion``, ``no_payload``, ``lineage``, ``no_stale_pass``), with the evidence
  :func:`check` must be given for it -- a flag without its evidence, or evidence without its flag, fails the test,
  so ``docs/FAULTS.md`` (generated from these cases by ``table.py``) never claims more or less than is asserted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Case", "Result", "check", "fault", "rows_in_out"]


@dataclass(frozen=True)
class Case:
    """One row of the fault matrix."""

    cls: str
    """Fault class (policy, model, adapter, data, output, process, reward model, judge, train, ...)."""
    name: str
    """The hostile or faulty input, in a few words."""
    command: str
    """The ``aligngate`` command it is thrown at."""
    exit: int
    """Expected exit code (negative: killed by that signal, e.g. -9 for SIGKILL)."""
    verdict: str | None
    """Expected ``report.json`` verdict, or None where the command writes no report (then none may exist)."""
    says: tuple[str, ...]
    """Strings the message must contain (file, line, key, endpoint, finding id)."""
    no_promotion: bool = False
    """The run had a registry: nothing (or, for concurrency, nothing but the passes) may be promoted."""
    no_payload: bool = False
    """A payload (pickle ``__reduce__``, tag, code file) would create a marker file: it must not exist."""
    lineage: bool = False
    """curate: every input line ends in exactly one of curated.jsonl / quarantine.jsonl (none lost)."""
    no_stale_pass: bool = False
    """The output directory held a previous ``pass`` report: it must not survive the failed run."""
    also: str = ""
    """Anything else the test asserts, in words (shown in the table)."""
    was: str = ""
    """For a defect fixed with this case: what happened before the fix (shown in the table)."""

    @property
    def id(self) -> str:
        """A pytest id: command and case name."""
        return re.sub(r"[^a-z0-9]+", "-", f"{self.command} {self.name}".lower()).strip("-")


def fault(*cases: Case) -> Callable[[Callable[..., Any]], Any]:
    """Declare the case(s) a test runs: it is parametrised over them (argument ``case``) and they are kept on the
    function (``fault_cases``) for the table."""

    def deco(fn: Callable[..., Any]) -> Any:
        fn.fault_cases = list(cases)  # type: ignore[attr-defined]
        return pytest.mark.parametrize("case", list(cases), ids=[c.id for c in cases])(fn)

    return deco


@dataclass
class Result:
    """What one command run gave: exit code, stdout, stderr, and the report.json it should have written."""

    code: int
    stdout: str = ""
    stderr: str = ""
    report_path: Path | None = None
    report: dict[str, Any] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.report_path is not None and self.report_path.is_file():
            self.report = json.loads(self.report_path.read_text(encoding="utf-8"))

    def text(self) -> str:
        """Everything a user is shown: stderr, stdout, report errors and check messages."""
        parts = [self.stderr, self.stdout]
        if self.report:
            parts += list(self.report.get("errors") or [])
            parts += [f"{c.get('id')}: {c.get('message')}" for c in self.report.get("checks") or []]
        return "\n".join(parts)


def _registry_events(registry: Path) -> list[dict[str, Any]]:
    from aligngate.promotion import events

    if not registry.is_dir():
        return []
    return events(registry)


def rows_in_out(data: Path, out: Path) -> tuple[int, int, int]:
    """(input lines, curated rows, quarantined rows); asserts that every input line ends in exactly one output.

    Quarantined rows carry their ``_line``; curated rows carry the original row (and their ``_line``, with empty
    ``_reasons``), so each is matched to the input line holding exactly that row (each line used once)."""
    import gzip

    raw = gzip.decompress(data.read_bytes()) if data.name.endswith(".gz") else data.read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    curated = [json.loads(x) for x in (out / "curated.jsonl").read_text(encoding="utf-8").splitlines()]
    quarantined = [json.loads(x) for x in (out / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()]
    q_lines = [int(r["_line"]) for r in quarantined]
    assert len(q_lines) == len(set(q_lines)), "a line was quarantined twice"
    assert all(1 <= n <= len(lines) for n in q_lines), "a quarantined _line is outside the input"
    assert all(isinstance(r["_reasons"], list) and r["_reasons"] for r in quarantined), "quarantine without reason"
    free: dict[str, list[int]] = {}
    for n, line in enumerate(lines, start=1):
        if n in set(q_lines):
            continue
        try:
            key = json.dumps(json.loads(line.decode("utf-8")), sort_keys=True)
        except (UnicodeDecodeError, ValueError):
            key = f"<unreadable line {n}>"
        free.setdefault(key, []).append(n)
    for row in curated:
        line = row.pop("_line", None)  # curated rows carry their input line too (CONTRACT: _line, _reasons)
        assert row.pop("_reasons", []) == [], f"curated row with quarantine reasons: {row}"
        key = json.dumps(row, sort_keys=True)
        assert free.get(key), f"curated row matches no remaining input line: {key[:200]}"
        if line is not None:
            assert int(line) in free[key], f"curated row says _line {line}, but that line holds another row"
            free[key].remove(int(line))
        else:
            free[key].pop()
    left = sorted(n for ns in free.values() for n in ns)
    assert not left, f"input line(s) {left[:10]} are in neither curated.jsonl nor quarantine.jsonl (rows lost)"
    assert len(curated) + len(quarantined) == len(lines)
    return len(lines), len(curated), len(quarantined)


def check(case: Case, res: Result, *, registry: Path | None = None, marker: Path | None = None,
          lineage: tuple[Path, Path] | None = None, stale_out: Path | None = None,
          promoted_ok: set[str] | None = None) -> None:
    """Assert everything ``case`` declares about ``res`` (see the module doc).

    ``registry``: the run's registry (with ``no_promotion``); ``promoted_ok``: names that may appear in it
    (concurrent gates that passed), default none. ``marker``: the payload's marker file (``no_payload``).
    ``lineage``: (input file, curate --out) (``lineage``). ``stale_out``: the directory that held a stale pass
    report (``no_stale_pass``)."""
    for flag, evidence in (("no_promotion", registry), ("no_payload", marker), ("lineage", lineage),
                           ("no_stale_pass", stale_out)):
        assert getattr(case, flag) == (evidence is not None), \
            f"case flag {flag}={getattr(case, flag)} but evidence {'given' if evidence is not None else 'missing'}"
    shown = res.text()
    assert res.code == case.exit, f"exit {res.code}, expected {case.exit}\n{shown[-3000:]}"
    if case.verdict is None:
        assert res.report_path is None or res.report is None, f"unexpected report.json: {res.report}"
    else:
        assert res.report is not None, f"no report.json at {res.report_path}\n{shown[-2000:]}"
        assert res.report["verdict"] == case.verdict, res.report
        if res.code < 0:  # killed by a signal it cannot handle: the in-progress marker must be what is left
            assert (res.report["exit_code"], res.report.get("status")) == (2, "running"), res.report
        else:
            assert res.report["exit_code"] == res.code, "report.json exit_code differs from the process exit code"
            # "running": the in-progress marker, left where the final report could not be written (exit 2)
            assert res.report.get("status", "complete") == "complete" or res.code == 2, res.report
        if case.exit == 0:
            assert not res.report.get("errors"), res.report["errors"]
    for s in case.says:
        assert s in shown, f"message does not name {s!r}:\n{shown[-3000:]}"
    if case.exit > 0:
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
    if registry is not None:
        names = {e["name"] for e in _registry_events(registry) if e.get("event") == "promote"}
        assert names <= (promoted_ok or set()), f"promoted despite exit {res.code}: {names - (promoted_ok or set())}"
    if marker is not None:
        assert not marker.exists(), f"the payload ran: {marker} exists"
    if lineage is not None:
        rows_in_out(*lineage)
    if stale_out is not None:
        rep = stale_out / "report.json"
        if rep.exists():
            old = json.loads(rep.read_text(encoding="utf-8"))
            assert (old.get("verdict"), old.get("exit_code")) != ("pass", 0) or case.exit == 0, old
            assert old.get("exit_code") == res.code or old.get("status") == "running", old
        for name in ("report.md", "report.html"):
            if (stale_out / name).exists():
                assert "STALE-PASS" not in (stale_out / name).read_text(encoding="utf-8")
