"""JUnit XML from a report: one test case per check, so that any CI's test-report view shows the gate.

    xml_text = build_junit(report)
    write_junit(report, "gate-junit.xml")          # written atomically

Mapping (one ``<testsuite name="aligngate.<command>">`` inside ``<testsuites>``):

* a check that passed: a plain ``<testcase>``;
* a check that failed and blocks (severity ``block``, mode ``enforce``): ``<failure>`` with the measured value and
  the threshold;
* a check that failed but only warns (severity ``warn`` or mode ``audit``): passes, the failure written to its
  ``<system-out>`` (it does not block, so it must not turn the build red);
* a check in error: ``<error>`` (distinct from a failure: nothing could be measured);
* a skipped check: ``<skipped>`` (an error too, as the run's own case, when the policy required it);
* errors of the run itself (an invalid policy, a missing model): one ``<testcase name="run">`` with an ``<error>``
  per message.

Every case carries the check's status, severity, mode, value, threshold and sample size as ``<properties>``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from aligngate.fileio import atomic_write_text

__all__ = ["build_junit", "write_junit"]

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: Any) -> str:
    """``text`` as a string XML 1.0 can hold (control characters replaced)."""
    return _BAD_XML.sub("\ufffd", str(text))


def _describe(check: Any) -> str:
    parts = [check.message or f"{check.id}: {check.status}"]
    if check.value is not None:
        parts.append(f"value {check.value:g}")
    if check.threshold is not None:
        parts.append(f"threshold {check.threshold.op} {check.threshold.value:g} ({check.threshold.bound})")
    if check.ci95:
        parts.append(f"95% CI [{check.ci95[0]:g}, {check.ci95[1]:g}]")
    if check.n is not None:
        parts.append(f"n {check.n}")
    return "; ".join(parts)


def _properties(case: ET.Element, check: Any) -> None:
    props = ET.SubElement(case, "properties")
    values = {"status": check.status, "severity": check.severity, "mode": check.mode, "required": check.required,
              "value": check.value, "n": check.n,
              "threshold": (f"{check.threshold.op} {check.threshold.value:g}" if check.threshold else None)}
    for k, v in values.items():
        if v is not None:
            ET.SubElement(props, "property", name=k, value=_clean(v))


def build_junit(report: Any) -> str:
    """The JUnit XML document of ``report`` (a :class:`~aligngate.verdict.Report`); see the module doc."""
    suite_name = f"aligngate.{report.command}"
    root = ET.Element("testsuites", name="aligngate")
    suite = ET.SubElement(root, "testsuite", name=suite_name, timestamp=_clean(report.started_at or ""))
    sprops = ET.SubElement(suite, "properties")
    for k, v in (("verdict", report.verdict), ("exit_code", report.exit_code),
                 ("policy", (report.policy or {}).get("path")), ("policy_sha256", (report.policy or {}).get("sha256"))):
        if v is not None:
            ET.SubElement(sprops, "property", name=k, value=_clean(v))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check in report.checks:
        counts["tests"] += 1
        file = (check.details or {}).get("file")  # validate-policy: one case per policy file
        name = f"{check.id} [{file}]" if isinstance(file, str) else check.id
        case = ET.SubElement(suite, "testcase", name=_clean(name), classname=suite_name)
        _properties(case, check)
        text = _clean(_describe(check))
        if check.status == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=text, type="error").text = text
        elif check.status == "fail" and check.severity == "block" and check.mode == "enforce":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=text, type="block").text = text
        elif check.status == "fail":
            ET.SubElement(case, "system-out").text = f"failed, reported only ({check.severity}, {check.mode}): {text}"
        elif check.status == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=text + (" (required)" if check.required else ""))
    if report.errors:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", name="run", classname=suite_name)
        for err in report.errors:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=_clean(err), type="run-error").text = _clean(err)
    for el in (suite, root):
        for k, v in counts.items():
            el.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: Any, path: str | os.PathLike[str]) -> None:
    """Write :func:`build_junit` of ``report`` to ``path`` atomically."""
    atomic_write_text(path, build_junit(report))
