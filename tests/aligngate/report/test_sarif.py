"""``--sarif``: SARIF 2.1.0 validated against the official OASIS schema (tests/schemas/sarif-2.1.0) for an adapter
audit with findings, a curation with quarantines, a broken policy (validate-policy and gate) and a failed gate
check; locations relative to the working directory; a writer error is exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "sarif-2.1.0" / "sarif-schema-2.1.0.json"

BROKEN_POLICY = """\
apiVersion: aligngate.dev/v1
kind: GatePolicy
metadata: {name: broken}
spec:
  checks:
    - id: adapter.audit
      severity: block
      threshhold: {op: "<=", value: 0}
"""


def _valid(path: Path) -> dict[str, Any]:
    import jsonschema

    doc = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for res in run["results"]:  # every result names a rule the driver describes, at its index
        assert rules[res["ruleIndex"]] == res["ruleId"]
    return doc


def _where(res: dict[str, Any]) -> tuple[str, int | None]:
    phys = res["locations"][0]["physicalLocation"]
    return phys["artifactLocation"]["uri"], phys.get("region", {}).get("startLine")


def test_schema_rejects_a_broken_log() -> None:
    """The validation below can fail: the schema rejects a log without a tool or with a bad level."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    bad = {"version": "2.1.0", "runs": [{"results": [{"message": {"text": "x"}, "level": "fatal"}]}]}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad))


def test_audit_findings_with_files_and_tensors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               ci_adapter: Callable[..., Path],
                                               run_cli: Callable[..., tuple[int, str, str]]) -> None:
    from aligngate.audit.findings import CATALOGUE

    monkeypatch.chdir(tmp_path)
    adapter = ci_adapter("bad-adapter", nan=True, code_file=True)
    code, _, _ = run_cli("audit-adapter", adapter, "--out", "audit", "--sarif", "out/audit.sarif")
    assert code == 1
    doc = _valid(tmp_path / "out" / "audit.sarif")
    run = doc["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert {"adapter.code_file", "adapter.nonfinite_weights"} <= set(by_rule)
    assert set(by_rule) <= set(CATALOGUE)
    assert _where(by_rule["adapter.code_file"]) == ("bad-adapter/helper.py", None)
    assert by_rule["adapter.code_file"]["level"] == "error"
    nan = by_rule["adapter.nonfinite_weights"]
    assert _where(nan) == ("bad-adapter/adapter_model.safetensors", None)
    assert nan["locations"][0]["logicalLocations"][0]["name"] == "model.layers.1.self_attn.v_proj"
    assert by_rule["adapter.unsigned"]["level"] == "warning"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["adapter.code_file"]["shortDescription"]["text"] == CATALOGUE["adapter.code_file"][1]
    assert rules["adapter.code_file"]["helpUri"].startswith("https://") and "#" in rules["adapter.code_file"]["helpUri"]
    assert run["invocations"][0]["exitCode"] == 1 and run["invocations"][0]["executionSuccessful"] is True
    assert run["automationDetails"]["id"] == "aligngate/audit-adapter/"


def test_curation_quarantines_at_their_input_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   run_cli: Callable[..., tuple[int, str, str]]) -> None:
    """A real curate run (the minilm judge) over 30 embedded rows plus two broken lines."""
    from aligngate.embedded import model as _  # noqa: F401 - the package holds the embedded data

    src = Path(_.__file__).resolve().parent / "data" / "sft.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()[:30]
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data" / "train.jsonl"
    data.parent.mkdir()
    data.write_text("\n".join([*lines[:10], "{not json", *lines[10:], "also } not json"]) + "\n", encoding="utf-8")
    code, _out, _err = run_cli("curate", "--kind", "sft", "--input", data, "--out", "cur", "--no-progress",
                               "--sarif", "cur.sarif", "--output", "json")
    assert code in (0, 1)
    doc = _valid(tmp_path / "cur.sarif")
    results = doc["runs"][0]["results"]
    quarantine = [json.loads(x) for x in (tmp_path / "cur" / "quarantine.jsonl").read_text().splitlines()]
    located = [r for r in results if r["ruleId"].startswith("data.quarantine.")]
    assert len(located) == sum(len(q["_reasons"]) or 1 for q in quarantine) >= 2
    assert {(_where(r)[0], _where(r)[1]) for r in located} == {("data/train.jsonl", q["_line"]) for q in quarantine}
    unparseable = [r for r in located if r["ruleId"] == "data.quarantine.unparseable"]
    assert sorted(_where(r)[1] for r in unparseable) == [11, 32]


def test_broken_policy_at_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        run_cli: Callable[..., tuple[int, str, str]]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "broken.yaml").write_text(BROKEN_POLICY)
    code, _, err = run_cli("validate-policy", "policies/broken.yaml", "--sarif", "v.sarif")
    assert code == 2 and "broken.yaml:8" in err
    doc = _valid(tmp_path / "v.sarif")
    (res,) = doc["runs"][0]["results"]
    assert res["ruleId"] == "policy.valid" and res["level"] == "error"
    assert _where(res) == ("policies/broken.yaml", 8) and "threshhold" in res["message"]["text"]
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False

    # the same policy given to the gate: the run's error is located at the policy line, rule policy.invalid
    code, _, _ = run_cli("gate", "--policy", "policies/broken.yaml", "--candidate", "no-such-model",
                         "--out", "g", "--sarif", "g.sarif")
    assert code == 2
    doc = _valid(tmp_path / "g.sarif")
    (res,) = doc["runs"][0]["results"]
    assert res["ruleId"] == "policy.invalid" and _where(res) == ("policies/broken.yaml", 8)


def test_failed_gate_check_points_at_its_policy_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     ci_base: Path, ci_adapter: Callable[..., Path],
                                                     run_cli: Callable[..., tuple[int, str, str]]) -> None:
    """A check without a file of its own (here the audit is clean but a threshold fails) is located at the line of
    the policy that declares it; the gate's adapter findings keep their files."""
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "p.yaml"
    policy.write_text(BROKEN_POLICY.replace("threshhold", "threshold").replace('value: 0}', 'value: -1}')
                      .replace("metadata: {name: broken}", "metadata: {name: strict-audit}"))
    adapter = ci_adapter("a")
    code, _, _ = run_cli("gate", "--policy", policy, "--candidate", ci_base, "--adapter", adapter, "--out", "g",
                         "--sarif", "g.sarif")
    assert code == 1
    doc = _valid(tmp_path / "g.sarif")
    res = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "adapter.audit"]
    assert len(res) == 1 and _where(res[0]) == ("p.yaml", 6) and "threshold <= -1" in res[0]["message"]["text"]


def test_sarif_path_that_cannot_be_written_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     ci_adapter: Callable[..., Path],
                                                     run_cli: Callable[..., tuple[int, str, str]]) -> None:
    monkeypatch.chdir(tmp_path)
    adapter = ci_adapter("a")
    (tmp_path / "adir").mkdir()
    code, _, err = run_cli("audit-adapter", adapter, "--sarif", "adir")
    assert code == 2 and "--sarif" in err and "adir" in err
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("audit-adapter", adapter, "--junit", "afile/x.xml")
    assert code == 2 and "--junit" in err


def test_writer_error_after_the_run_blocks_and_rewrites_the_report(tmp_path: Path, ci_adapter: Callable[..., Path]
                                                                   ) -> None:
    """A SARIF writer failing after the decision (disk gone, path replaced) turns a pass into exit 2, in report.json
    too."""
    import argparse

    from aligngate.commands._common import write_ci_outputs
    from aligngate.report import read_report
    from aligngate.stages.audit import audit_adapter

    report = audit_adapter(ci_adapter("a"), out=tmp_path / "audit")
    assert report.exit_code == 0
    (tmp_path / "blocker").write_text("a file where a directory should be")
    args = argparse.Namespace(sarif=str(tmp_path / "blocker" / "x.sarif"), junit=str(tmp_path / "ok.xml"))
    assert write_ci_outputs(args, report, tmp_path / "audit") == 2
    again = read_report(tmp_path / "audit" / "report.json")
    assert again.verdict == "block" and again.exit_code == 2 and any("--sarif" in e for e in again.errors)
    assert 'errors="1"' in (tmp_path / "ok.xml").read_text()  # the JUnit file written after says so too


def test_help_uris_point_at_readme_sections() -> None:
    """Every rule's help URI anchor is a heading of the README (GitHub's slug)."""
    import re

    from aligngate.report.sarif import HELP_URI, _registered_rules, _rule

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    slugs = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    known = _registered_rules()
    anchors = {_rule(r, known)["helpUri"].removeprefix(HELP_URI) for r in [*known, "policy.invalid"]}
    assert anchors and {a.lstrip("#") for a in anchors} <= slugs
