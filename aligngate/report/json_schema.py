"""The published JSON Schema of ``report.json`` (``aligngate/report/schema/report.v1.json``), generated from
:class:`aligngate.verdict.Report`; ``tests/aligngate/report/test_schema.py`` keeps the file equal to the model.

Regenerate after changing the model::

    python -m aligngate.report.json_schema > aligngate/report/schema/report.v1.json
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_ID", "published_schema", "report_json_schema"]

SCHEMA_ID = "https://aligngate.dev/schema/report.v1.json"


def report_json_schema() -> str:
    """The JSON Schema of :class:`~aligngate.verdict.Report`, as it is published (sorted keys, trailing newline)."""
    from aligngate.verdict import Report

    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def published_schema() -> dict[str, Any]:
    """The packaged ``report.v1.json`` (read with importlib.resources: works from a wheel too)."""
    text = files("aligngate.report").joinpath("schema", "report.v1.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


if __name__ == "__main__":
    import sys

    sys.stdout.write(report_json_schema())
