"""SARIF 2.1.0 from a report: one result per finding that has a location, for GitHub code scanning (``upload-sarif``).

    doc = build_sarif(report)                      # a dict, valid against the OASIS SARIF 2.1.0 schema
    write_sarif(report, "gate.sarif")              # written atomically

What becomes a result:

* an adapter-audit finding (``details.findings`` of ``adapter.audit``): rule = the finding id, location = the file in
  the adapter directory, the tensor (when the finding names one) as a logical location;
* a quarantined tuning-data row (``curate``'s ``quarantine.jsonl``): rule = ``data.quarantine.<reason>``, location =
  the input data file and its line (``_line``);
* a policy error (``file:line: key '...': ...`` in ``errors``): rule ``policy.invalid``, location = the policy file
  and line;
* a check that failed or errored and has no file of its own (``refusal.harmful_refusal_rate`` below its
  threshold): rule = the registered check id, located at the line of the policy that declares it (the threshold that
  failed), or the policy's first line for a registered default.

Errors without a location (a missing model, a crash) are ``toolExecutionNotifications`` of the invocation, whose
``executionSuccessful`` is false for exit 2. Rule ids are registered check ids and finding ids, with their
registered descriptions and help URIs into the README. Paths under ``root`` (default: the working directory, the
repository root in CI) are written relative to it, as GitHub expects; others as absolute ``file://`` URIs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aligngate.fileio import atomic_write_text

__all__ = ["HELP_URI", "MAX_RESULTS", "SARIF_SCHEMA_URI", "build_sarif", "write_sarif"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://github.com/aligngate/aligngate/blob/main/README.md"
"""The README that documents every check and finding (``aligngate checks`` prints the same)."""
MAX_RESULTS = 5000
"""Results per run beyond this are counted in the run's properties, not listed (GitHub shows 5,000 per upload)."""

_LOCATED_ERROR = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+): (?:key '(?P<key>[^']*)': )?(?P<msg>.*)$", re.S)
_HELP_ANCHOR = {"policy.": "#policy-files"}
_POLICY_RULE = ("policy.invalid", "the policy file is invalid (unknown or duplicate key, wrong type, unknown check "
                "id): nothing is decided, exit 2")


def _level_of_check(check: Any) -> str:
    if check.status == "error" or (check.severity == "block" and check.mode == "enforce"):
        return "error"
    return "warning"


def _finding_level(severity: str) -> str:
    return "warning" if severity == "warn" else "error"


class _Locator:
    """Turns file paths into SARIF artifact locations relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def location(self, path: str | os.PathLike[str], line: int | None = None, *,
                 logical: str | None = None) -> dict[str, Any]:
        p = Path(path)
        absolute = (p if p.is_absolute() else Path.cwd() / p).resolve()
        try:
            art: dict[str, Any] = {"uri": absolute.relative_to(self.root).as_posix() or ".",
                                   "uriBaseId": "SRCROOT"}
        except ValueError:
            art = {"uri": absolute.as_uri()}
        phys: dict[str, Any] = {"artifactLocation": art}
        if line is not None and line >= 1:
            phys["region"] = {"startLine": int(line)}
        loc: dict[str, Any] = {"physicalLocation": phys}
        if logical:
            loc["logicalLocations"] = [{"name": logical, "kind": "member"}]
        return loc


def _registered_rules() -> dict[str, str]:
    """Every registered check id and every finding / quarantine reason a check reports on -> its description."""
    from aligngate.checks import registered

    rules: dict[str, str] = {}
    for cid, d in registered().items():
        rules[cid] = d.description.split("\n", 1)[0]
        if d.catalogue is not None:
            for fid, (_cls, meaning) in d.catalogue().items():
                key = fid if fid.startswith("adapter.") else f"data.quarantine.{fid}"
                rules[key] = meaning
    rules[_POLICY_RULE[0]] = _POLICY_RULE[1]
    rules["policy.valid"] = ("validate-policy: the policy file parses and validates against policy.v1.json (unknown "
                             "or duplicate keys, types, registered check ids)")
    return rules


def _rule(rule_id: str, known: dict[str, str]) -> dict[str, Any]:
    text = known.get(rule_id) or known.get(rule_id.split(":", 1)[0]) or rule_id
    anchor = next((a for p, a in _HELP_ANCHOR.items() if rule_id.startswith(p)), "#check-and-finding-ids")
    return {"id": rule_id, "name": rule_id, "shortDescription": {"text": text[:1000]},
            "fullDescription": {"text": text}, "helpUri": HELP_URI + anchor,
            "help": {"text": f"{rule_id}: {text}. `aligngate checks` lists every check and finding."}}


def _policy_line(policy_path: str | None, check_id: str) -> int | None:
    """The line of ``id: <check_id>`` in the policy file (None when the file is unreadable or does not list it)."""
    if not policy_path:
        return None
    try:
        text = Path(policy_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pat = re.compile(r"^\s*(?:-\s*)?id:\s*['\"]?" + re.escape(check_id) + r"['\"]?\s*(?:#.*)?$")
    for i, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return i
    return None


def _adapter_dir(report: Any) -> str | None:
    subj = report.subjects or {}
    for key in ("adapter", "candidate"):
        s = subj.get(key) or {}
        path = s.get("path") if key == "adapter" else s.get("adapter")
        if isinstance(path, str) and path:
            return path
    return None


def _finding_results(report: Any, loc: _Locator) -> Iterator[tuple[str, dict[str, Any]]]:
    adapter = _adapter_dir(report)
    for check in report.checks:
        for f in (check.details or {}).get("findings") or []:
            if not isinstance(f, dict) or not f.get("id") or adapter is None:
                continue
            file = str(f.get("file") or ".")
            where = Path(adapter) if file in (".", "") else Path(adapter) / file
            details = f.get("details") or {}
            tensor = details.get("tensor") or details.get("module")
            text = f"{f['id']}: {f.get('explanation', '')}" + (f" (tensor {tensor})" if tensor else "")
            yield f["id"], {"level": _finding_level(str(f.get("severity", "block"))), "message": {"text": text},
                            "locations": [loc.location(where, logical=str(tensor) if tensor else None)],
                            "properties": {"severity": f.get("severity"), "check": check.id}}


def _quarantine_results(report: Any, loc: _Locator) -> Iterator[tuple[str, dict[str, Any]]]:
    data = (report.subjects or {}).get("data") or {}
    src, out_dir = data.get("path"), data.get("out_dir")
    if report.command != "curate" or not src or not out_dir:
        return
    qfile = Path(out_dir) / "quarantine.jsonl"
    if not qfile.is_file():
        return
    with qfile.open(encoding="utf-8") as fh:
        for raw in fh:
            try:
                row = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(row, dict):
                continue
            line = row.get("_line") if isinstance(row.get("_line"), int) else None
            for reason in row.get("_reasons") or ["unparseable"]:
                head = str(reason).split(":", 1)[0]
                yield f"data.quarantine.{head}", {
                    "level": "error", "message": {"text": f"quarantined: {reason}"},
                    "locations": [loc.location(src, line)],
                    "properties": {"reason": str(reason), "quarantine_file": str(qfile)}}


def _check_results(report: Any, loc: _Locator) -> Iterator[tuple[str, dict[str, Any]]]:
    policy_path = (report.policy or {}).get("path")
    for check in report.checks:
        if check.status not in ("fail", "error"):
            continue
        findings = (check.details or {}).get("findings") or []
        if any(isinstance(f, dict) and f.get("severity") in ("block", "unsafe") for f in findings):
            continue  # its blocking findings are the results, each at its own file
        details = check.details or {}
        file, line = (details.get("file"), details.get("line")) if details.get("file") else (policy_path, None)
        line = line if isinstance(line, int) else _policy_line(file, check.id)
        msg = check.message or f"{check.id} {check.status}"
        if check.threshold is not None and check.value is not None:
            msg += f" (value {check.value:g}, threshold {check.threshold.op} {check.threshold.value:g})"
        result: dict[str, Any] = {"level": _level_of_check(check), "message": {"text": msg},
                                  "properties": {"status": check.status, "severity": check.severity,
                                                 "mode": check.mode, "value": check.value}}
        if file and Path(file).is_file():
            result["locations"] = [loc.location(file, line or 1)]
        yield check.id, result


def _error_results(report: Any, loc: _Locator) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    located, unlocated = [], []
    for err in report.errors:
        m = _LOCATED_ERROR.match(err)
        if m and Path(m["file"]).is_file():
            key = f" (key {m['key']})" if m["key"] else ""
            located.append((_POLICY_RULE[0], {"level": "error", "message": {"text": err},
                                              "locations": [loc.location(m["file"], int(m["line"]))],
                                              "properties": {"key": m["key"], "detail": m["msg"] + key}}))
        else:
            unlocated.append(err)
    return located, unlocated


def build_sarif(report: Any, *, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``report`` (a :class:`~aligngate.verdict.Report`); see the module doc."""
    from aligngate import __version__

    loc = _Locator(Path(root) if root is not None else Path.cwd())
    located_errors, unlocated = _error_results(report, loc)
    pairs = [*located_errors, *_finding_results(report, loc), *_quarantine_results(report, loc),
             *_check_results(report, loc)]
    known = _registered_rules()
    rule_ids = list(dict.fromkeys(rid for rid, _ in pairs))
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = []
    for rid, res in pairs[:MAX_RESULTS]:
        results.append({"ruleId": rid, "ruleIndex": index[rid], **res})
    invocation: dict[str, Any] = {"executionSuccessful": report.exit_code != 2, "exitCode": report.exit_code,
                                  "toolExecutionNotifications": [
                                      {"level": "error", "message": {"text": e}} for e in unlocated]}
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "aligngate", "version": __version__, "informationUri": HELP_URI,
                            "rules": [_rule(r, known) for r in rule_ids]}},
        "automationDetails": {"id": f"aligngate/{report.command}/"},
        "originalUriBaseIds": {"SRCROOT": {"uri": loc.root.as_uri() + "/"}},
        "invocations": [invocation],
        "results": results,
        "properties": {"verdict": report.verdict, "exit_code": report.exit_code,
                       "policy": report.policy, "results_total": len(pairs),
                       "results_omitted": max(0, len(pairs) - MAX_RESULTS)},
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write_sarif(report: Any, path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> None:
    """Write :func:`build_sarif` of ``report`` to ``path`` atomically."""
    atomic_write_text(path, json.dumps(build_sarif(report, root=root), indent=2, ensure_ascii=False,
                                       default=str) + "\n")
