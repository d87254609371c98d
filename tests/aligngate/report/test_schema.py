"""The published report format (``aligngate/report/schema/report.v1.json``) and the one reader of reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.report import read_report
from aligngate.report.json_schema import SCHEMA_ID, published_schema, report_json_schema
from aligngate.verdict import CheckResult, Report, ThresholdOut, write_report

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "aligngate" / "report" / "schema" / "report.v1.json"


def _report() -> Report:
    return Report(policy={"path": "p.yaml", "sha256": "ab" * 32}, subjects={"candidate": {"model": "m"}},
                  checks=[CheckResult(id="refusal.harmful_refusal_rate", status="pass", value=0.97, n=80,
                                      ci95=[0.91, 0.99], threshold=ThresholdOut(op=">=", value=0.9))],
                  started_at="2025-01-01T00:00:00+00:00", versions={"aligngate": "0.1.0"}).finalize()


def test_published_schema_is_the_models_schema() -> None:
    """Regenerate with ``python -m aligngate.report.json_schema > aligngate/report/schema/report.v1.json``."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == report_json_schema()
    assert published_schema() == json.loads(report_json_schema())  # the packaged copy, via importlib.resources
    assert published_schema()["$id"] == SCHEMA_ID


def test_every_report_field_is_described() -> None:
    schema = published_schema()
    for model in (schema, *schema["$defs"].values()):
        assert model.get("description"), model["title"]
        undocumented = [k for k, v in model["properties"].items() if not v.get("description")]
        assert not undocumented, f"{model['title']}: {undocumented}"


def test_written_reports_validate_against_the_schema(tmp_path: Path) -> None:
    """What the guard writes (the in-progress marker and the finished report) is valid under report.v1.json."""
    import jsonschema

    from aligngate.guard import mark_in_progress, run_guarded

    validator = jsonschema.Draft202012Validator(published_schema())
    (tmp_path / "m").mkdir()
    mark_in_progress(tmp_path / "m", _report())
    validator.validate(json.loads((tmp_path / "m" / "report.json").read_text()))

    def body(report: Report) -> None:
        report.checks = _report().checks
        raise InputError("a named failure")

    written = run_guarded("gate", tmp_path / "g", body)
    on_disk = json.loads((tmp_path / "g" / "report.json").read_text())
    validator.validate(on_disk)
    assert on_disk == written.model_dump(mode="json")
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**on_disk, "verdict": "maybe"})


def test_read_report_round_trips(tmp_path: Path) -> None:
    report = _report()
    write_report(report, tmp_path)
    assert read_report(tmp_path) == report  # a directory: its report.json
    assert read_report(tmp_path / "report.json") == report
    extra = {**report.model_dump(mode="json"), "a_key_from_a_newer_version": 1}
    (tmp_path / "newer.json").write_text(json.dumps(extra))
    assert read_report(tmp_path / "newer.json") == report  # the format only grows: unknown keys are ignored


@pytest.mark.parametrize(("content", "says"), [
    (None, "report not found"),
    (b"", "invalid JSON"),
    (b"{\"verdict\": \"pass\", ", "invalid JSON"),
    (b"\xff\xfe not text", "not UTF-8"),
    (b"[1, 2]", "a JSON object is needed, got list"),
    (b'{"verdict": "maybe"}', "key 'verdict'"),
    (b'{"exit_code": "zero"}', "key 'exit_code'"),
    (b'{"checks": [{"id": "x"}]}', "key 'checks.0.status'"),
])
def test_read_report_names_the_file_on_anything_wrong(tmp_path: Path, content: bytes | None, says: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_report(path)
    assert str(path) in str(err.value) and says in str(err.value)
