"""The gate runner: skips, errors and failures map to the contract's verdicts, whatever a check does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aligngate.checks import check
from aligngate.gate import GateInputs, run_gate
from aligngate.policy import LoadedPolicy, parse_policy_text
from aligngate.verdict import Measurement


@check("test.value", needs=("candidate",))
def _value(ctx: Any, spec: Any) -> Measurement:
    return Measurement(value=float(spec.params["v"]), n=10)


@check("test.crash", needs=("candidate",))
def _crash(ctx: Any, spec: Any) -> Measurement:
    raise RuntimeError("kaboom")


@check("test.value2", needs=("candidate",))
def _value2(ctx: Any, spec: Any) -> Measurement:
    return Measurement(value=float(spec.params["v"]), n=10)


@check("test.needs_baseline", needs=("candidate", "baseline"))
def _needs(ctx: Any, spec: Any) -> Measurement:
    return Measurement(value=1.0)


def _policy(checks: str) -> LoadedPolicy:
    text = f"apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {{name: t}}\nspec:\n  checks:\n{checks}"
    return LoadedPolicy(policy=parse_policy_text(text), path="t.yaml", sha256="0" * 64)


@pytest.fixture()
def model_dir(tmp_path: Path) -> str:
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text("{}")
    return str(d)


def test_pass_fail_warn(model_dir: str) -> None:
    pol = _policy("    - {id: test.value, params: {v: 0.9}, threshold: {op: '>=', value: 0.8}}\n")
    rep = run_gate(pol, GateInputs(candidate=model_dir))
    assert (rep.verdict, rep.exit_code) == ("pass", 0)
    assert rep.subjects["candidate"]["sha256"]["model/config.json"]
    pol = _policy("    - {id: test.value, params: {v: 0.5}, threshold: {op: '>=', value: 0.8}}\n")
    assert run_gate(pol, GateInputs(candidate=model_dir)).exit_code == 1
    ok = "    - {id: test.value, params: {v: 0.9}, threshold: {op: '>=', value: 0.8}}\n"
    pol = _policy(ok + "    - {id: test.crash, threshold: {op: '>=', value: 0}, severity: warn, required: false}\n")
    assert run_gate(pol, GateInputs(candidate=model_dir)).exit_code == 2  # an error blocks at any severity
    pol = _policy(ok.replace("0.9", "0.5").replace("}}", "}, severity: warn}"))
    assert run_gate(pol, GateInputs(candidate=model_dir)).exit_code == 2  # only a warn check: nothing decided
    pol = _policy(ok + "    - {id: test.value, params: {v: 0.5}, threshold: {op: '>=', value: 0.8}, severity: warn}\n"
                  .replace("test.value", "test.value2"))
    assert run_gate(pol, GateInputs(candidate=model_dir)).exit_code == 0
    pol = _policy(ok + "    - {id: test.value2, params: {v: 0.5}, threshold: {op: '>=', value: 0.8}, mode: audit}\n")
    rep = run_gate(pol, GateInputs(candidate=model_dir))
    assert rep.exit_code == 0 and rep.checks[1].status == "fail" and rep.checks[1].mode == "audit"


def test_audit_mode_error_blocks(model_dir: str) -> None:
    """issue 17: a check in audit mode that errors is an error (exit 2), never a warning that lets a pass through."""
    pol = _policy("    - {id: test.value, params: {v: 0.9}, threshold: {op: '>=', value: 0.8}, mode: audit}\n"
                  "    - {id: test.crash, threshold: {op: '>=', value: 0}, mode: audit}\n")
    rep = run_gate(pol, GateInputs(candidate=model_dir))
    assert (rep.verdict, rep.exit_code) == ("block", 2) and rep.checks[1].status == "error"


def test_vacuous_policy_never_passes(model_dir: str) -> None:
    """issue 17: every check optional and skipped for lack of its subject -> nothing measured -> exit 2."""
    pol = _policy("    - {id: test.needs_baseline, threshold: {op: '>=', value: 0}, required: false}\n")
    rep = run_gate(pol, GateInputs(candidate=model_dir))
    assert (rep.verdict, rep.exit_code) == ("block", 2) and "nothing to decide" in " ".join(rep.errors)


def test_crash_and_missing_subject_block_with_exit_2(model_dir: str) -> None:
    rep = run_gate(_policy("    - {id: test.crash, threshold: {op: '>=', value: 0}}\n"),
                   GateInputs(candidate=model_dir))
    assert rep.exit_code == 2 and "kaboom" in rep.checks[0].message
    rep = run_gate(_policy("    - {id: test.needs_baseline, threshold: {op: '>=', value: 0}}\n"),
                   GateInputs(candidate=model_dir))
    assert rep.exit_code == 2 and rep.checks[0].status == "skipped"
    rep = run_gate(_policy("    - {id: test.needs_baseline, threshold: {op: '>=', value: 0}, required: false}\n"
                           "    - {id: test.value, params: {v: 1}, threshold: {op: '>=', value: 0}}\n"),
                   GateInputs(candidate=model_dir))
    assert rep.exit_code == 0


def test_empty_policy_and_missing_model_fail_closed(tmp_path: Path) -> None:
    rep = run_gate(_policy("    []\n"), GateInputs(candidate=str(tmp_path)))
    assert rep.exit_code == 2 and "nothing to decide" in rep.errors[0]
    rep = run_gate(_policy("    - {id: test.value, params: {v: 1}, threshold: {op: '>=', value: 0}}\n"),
                   GateInputs(candidate=str(tmp_path / "gone")))
    assert rep.exit_code == 2 and "not found" in rep.errors[0]
