"""``--junit``: one test case per check, failures and errors distinct, parsed back with ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest


def _suite(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")}
    return suite


def test_gate_pass_and_block(tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path], audit_only_policy: Path,
                             run_cli: Callable[..., tuple[int, str, str]]) -> None:
    for name, nan, want in (("clean", False, 0), ("nan", True, 1)):
        adapter = ci_adapter(name, nan=nan)
        code, _, _ = run_cli("gate", "--policy", audit_only_policy, "--candidate", ci_base, "--adapter", adapter,
                             "--out", tmp_path / f"g-{name}", "--junit", tmp_path / f"{name}.xml")
        assert code == want
        suite = _suite(tmp_path / f"{name}.xml")
        assert suite.get("name") == "aligngate.gate"
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == ["adapter.audit"]
        props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
        assert props["verdict"] == ("pass" if want == 0 else "block") and props["exit_code"] == str(want)
        failure = cases[0].find("failure")
        if want == 0:
            assert failure is None and suite.get("failures") == "0" and suite.get("errors") == "0"
        else:
            assert failure is not None and failure.get("type") == "block"
            assert "adapter.nonfinite_weights" in (failure.get("message") or "")
            assert suite.get("failures") == "1" and suite.get("errors") == "0"


def test_errors_are_not_failures(tmp_path: Path, audit_only_policy: Path,
                                 run_cli: Callable[..., tuple[int, str, str]]) -> None:
    """A missing adapter is an error (exit 2): an <error>, never a <failure>."""
    code, _, _ = run_cli("gate", "--policy", audit_only_policy, "--candidate", tmp_path / "nothing", "--adapter",
                         tmp_path / "missing-adapter", "--out", tmp_path / "g", "--junit", tmp_path / "j.xml")
    assert code == 2
    suite = _suite(tmp_path / "j.xml")
    assert suite.get("failures") == "0" and int(suite.get("errors") or 0) >= 1
    assert suite.findall(".//failure") == [] and suite.findall(".//error")


def test_every_status_maps_to_its_element() -> None:
    """pass / blocking fail / warn-only fail / error / skipped, from a report built with the verdict core."""
    from aligngate.report.junit import build_junit
    from aligngate.verdict import CheckResult, Report, ThresholdOut

    thr = ThresholdOut(op=">=", value=0.9)
    report = Report(command="gate", checks=[
        CheckResult(id="refusal.harmful_refusal_rate", status="pass", value=0.95, n=100, threshold=thr),
        CheckResult(id="refusal.over_refusal_rate", status="fail", value=0.4, n=80, ci95=[0.3, 0.5],
                    threshold=ThresholdOut(op="<=", value=0.2)),
        CheckResult(id="drift.kl_mean", status="fail", severity="warn", value=3.0, threshold=thr),
        CheckResult(id="drift.capability_delta", status="error", message="lm-eval crashed \x07"),
        CheckResult(id="reward.hh_rlhf_accuracy", status="skipped", required=False, message="no data"),
    ], errors=["model x: not found"]).finalize()
    root = ET.fromstring(build_junit(report).encode())
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["refusal.harmful_refusal_rate", "refusal.over_refusal_rate", "drift.kl_mean",
                           "drift.capability_delta", "reward.hh_rlhf_accuracy", "run"]
    assert len(cases["refusal.harmful_refusal_rate"]) == 1  # properties only
    fail = cases["refusal.over_refusal_rate"].find("failure")
    assert fail is not None and "value 0.4" in (fail.text or "") and "threshold <= 0.2" in (fail.text or "")
    assert cases["drift.kl_mean"].find("failure") is None
    assert "reported only" in (cases["drift.kl_mean"].findtext("system-out") or "")
    err = cases["drift.capability_delta"].find("error")
    assert err is not None and "\x07" not in (err.get("message") or "")
    assert cases["reward.hh_rlhf_accuracy"].find("skipped") is not None
    assert cases["run"].find("error") is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        ("6", "1", "2", "1")


@pytest.mark.parametrize("command", ["audit-adapter", "curate", "test-reward-model", "validate-policy", "gate"])
def test_every_deciding_command_takes_the_flags(command: str) -> None:
    from aligngate.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices[command]  # type: ignore[attr-defined]
    flags = {o for a in parser._actions for o in a.option_strings}
    assert {"--sarif", "--junit"} <= flags
