"""Great Expectations suites built in code, one per format, run per chunk on a pandas frame of normalised columns.

Great Expectations is imported lazily (3-5 s) inside :func:`_gx`, never at module import. The context is
ephemeral (nothing written to disk) with progress bars off. Each failed expectation's unexpected rows become the
quarantine reason ``gx:<expectation_type>:<column>``; uniqueness of the row hash is reported only (the
``duplicate`` detector enforces it across chunks and keeps the first occurrence). A broken expectation (one that
raised inside GX: ``exception_info.raised_exception``) is an error, never a silent pass.
"""

from __future__ import annotations

import functools
from typing import Any

from aligngate.errors import DataValidationError

__all__ = ["BAD_CHARS_REGEX", "GXAggregate", "Validator"]

BAD_CHARS_REGEX = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]"
"""Encoding sanity: replacement characters (decoding damage) and C0 control characters other than tab/newline."""

_REPORT_ONLY = {"expect_column_values_to_be_unique"}


@functools.cache
def _gx() -> tuple[Any, Any, Any]:
    """Import GX, register the custom pair expectation, and return (gx, gxe, ExpectColumnPairValuesToNotBeEqual)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnPairMapExpectation
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnPairMapMetricProvider,
        column_pair_condition_partial,
    )

    class ColumnPairValuesNotEqual(ColumnPairMapMetricProvider):
        condition_metric_name = "column_pair_values.not_equal"
        condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser",
                                 "ignore_row_if")
        condition_value_keys = ()

        @column_pair_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column_A: Any, column_B: Any, **kwargs: Any) -> Any:  # noqa: N803 - GX's names
            return column_A != column_B

    class ExpectColumnPairValuesToNotBeEqual(ColumnPairMapExpectation):
        """Chosen and rejected differ (a pair with identical responses teaches nothing, or hides a bug)."""

        map_metric = "column_pair_values.not_equal"
        success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
        args_keys = ("column_A", "column_B")
        ignore_row_if: str = "both_values_are_missing"

    return gx, gxe, ExpectColumnPairValuesToNotBeEqual


def _suite_expectations(kind: str, min_chars: int, max_chars: int) -> list[Any]:
    _, gxe, pair_ne = _gx()
    texts = ["prompt", "response"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    exps: list[Any] = []
    for col in texts:
        exps.append(gxe.ExpectColumnValuesToNotBeNull(column=col))
        exps.append(gxe.ExpectColumnValuesToBeOfType(column=col, type_="str"))
    exps.append(gxe.ExpectColumnValuesToBeBetween(column="min_turn_chars", min_value=min_chars))
    exps.append(gxe.ExpectColumnValuesToBeBetween(column="max_turn_chars", max_value=max_chars))
    exps.append(gxe.ExpectColumnValuesToBeInSet(column="role_order_ok", value_set=[True]))
    exps.append(gxe.ExpectColumnValuesToBeUnique(column="row_hash"))
    for col in [*texts, "context"]:
        exps.append(gxe.ExpectColumnValuesToNotMatchRegex(column=col, regex=BAD_CHARS_REGEX))
    if kind == "dpo":
        exps.append(pair_ne(column_A="chosen", column_B="rejected"))
    return exps


def _line_of(item: Any) -> int:
    """An ``unexpected_index_list`` item (an index label, or a dict of index columns) as an input line."""
    if isinstance(item, dict):
        item = item.get("_line", next(iter(item.values()), -1))
    return int(item)


def _column_of(cfg: dict[str, Any]) -> str:
    kw = cfg.get("kwargs", {})
    if "column" in kw:
        return str(kw["column"])
    if "column_A" in kw:
        return f"{kw['column_A']},{kw['column_B']}"
    return "table"


class Validator:
    """Validates chunks against the suite of one format (``sft`` / ``dpo``)."""

    def __init__(self, kind: str, min_chars: int, max_chars: int) -> None:
        import logging

        gx, _, _ = _gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # "Created temporary directory" noise

        self.kind = kind
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        bd = ctx.data_sources.add_pandas(f"curation_{kind}").add_dataframe_asset("rows") \
            .add_batch_definition_whole_dataframe("chunk")
        suite = ctx.suites.add(gx.ExpectationSuite(name=f"aligngate_{kind}_suite"))
        for exp in _suite_expectations(kind, min_chars, max_chars):
            suite.add_expectation(exp)
        self.suite_name = suite.name
        self._vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"curation_{kind}", data=bd,
                                                                          suite=suite))

    def validate(self, df: Any) -> tuple[dict[int, list[str]], dict[str, Any]]:
        """Validate one chunk (index = input line). Returns (reasons by line, the result's JSON dict)."""
        res = self._vd.run(batch_parameters={"dataframe": df}, result_format={"result_format": "COMPLETE"})
        out = res.to_json_dict()
        reasons: dict[int, list[str]] = {}
        for r in out.get("results", []):
            cfg = r.get("expectation_config", {})
            etype = cfg.get("type", "unknown")
            exc = r.get("exception_info") or {}
            if exc.get("raised_exception"):
                raise DataValidationError(f"Great Expectations could not evaluate {etype} on {_column_of(cfg)}: "
                                          f"{exc.get('exception_message')}")
            if r.get("success") or etype in _REPORT_ONLY:
                continue
            reason = f"gx:{etype}:{_column_of(cfg)}"
            for line in (r.get("result") or {}).get("unexpected_index_list") or []:
                reasons.setdefault(_line_of(line), []).append(reason)
        return reasons, out


class GXAggregate:
    """Condenses the per-chunk validation results into one summary for ``report.json``."""

    def __init__(self, suite_name: str = "") -> None:
        self.suite_name = suite_name
        self.chunks = 0
        self.success = True
        self._rows: dict[str, dict[str, Any]] = {}

    def add(self, res: dict[str, Any], line_offset_examples: int = 5) -> None:
        """Fold one chunk's ``to_json_dict()`` in."""
        self.chunks += 1
        self.success = self.success and bool(res.get("success"))
        self.suite_name = res.get("suite_name") or self.suite_name
        for r in res.get("results", []):
            cfg = r.get("expectation_config", {})
            key = f"{cfg.get('type')}:{_column_of(cfg)}"
            row = self._rows.setdefault(key, {"expectation_type": cfg.get("type"), "column": _column_of(cfg),
                                              "kwargs": {k: v for k, v in (cfg.get("kwargs") or {}).items()
                                                         if k not in ("batch_id",)},
                                              "success": True, "element_count": 0, "unexpected_count": 0,
                                              "unexpected_lines_sample": []})
            result = r.get("result") or {}
            row["success"] = row["success"] and bool(r.get("success"))
            row["element_count"] += int(result.get("element_count") or 0)
            row["unexpected_count"] += int(result.get("unexpected_count") or 0)
            sample = row["unexpected_lines_sample"]
            for line in (result.get("unexpected_index_list") or [])[:line_offset_examples]:
                if len(sample) < 10:
                    sample.append(_line_of(line))

    def to_dict(self) -> dict[str, Any]:
        """The condensed validation result (``to_json_dict()`` keys, unexpected value lists dropped)."""
        results = list(self._rows.values())
        for row in results:
            n = row["element_count"]
            row["unexpected_percent"] = round(100.0 * row["unexpected_count"] / n, 4) if n else 0.0
        ok = sum(1 for r in results if r["success"])
        return {"success": self.success, "suite_name": self.suite_name, "chunks": self.chunks,
                "statistics": {"evaluated_expectations": len(results), "successful_expectations": ok,
                               "unsuccessful_expectations": len(results) - ok,
                               "success_percent": round(100.0 * ok / len(results), 2) if results else None},
                "results": results}
