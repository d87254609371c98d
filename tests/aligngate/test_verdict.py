"""The pure verdict core: pass only when nothing blocking failed, errored or was skipped while required."""

from __future__ import annotations

from aligngate.policy import CheckSpec, Threshold
from aligngate.verdict import CheckResult, Measurement, Report, apply_threshold, decide, to_check_result


def _c(status: str, severity: str = "block", required: bool = True, mode: str = "enforce",
       value: float | None = 0.5) -> CheckResult:
    return CheckResult(id="x", status=status, severity=severity, required=required, mode=mode,  # type: ignore[arg-type]
                       value=value)


def test_decide_table() -> None:
    assert decide([_c("pass"), _c("fail", "warn")], []) == ("pass", 0)
    assert decide([_c("pass"), _c("fail")], []) == ("block", 1)
    assert decide([_c("error")], []) == ("block", 2)
    assert decide([_c("fail"), _c("error")], []) == ("block", 2)
    assert decide([_c("pass")], ["boom"]) == ("block", 2)
    assert decide([_c("skipped", required=True)], []) == ("block", 2)
    assert decide([_c("pass"), _c("skipped", required=False)], []) == ("pass", 0)
    # issue 17: an error blocks whatever its severity or mode
    assert decide([_c("pass"), _c("error", "warn")], []) == ("block", 2)
    assert decide([_c("pass"), _c("error", mode="audit")], []) == ("block", 2)
    # audit mode: a failed threshold does not block
    assert decide([_c("pass"), _c("fail", mode="audit")], []) == ("pass", 0)
    # a required check skipped blocks in audit mode too
    assert decide([_c("pass"), _c("skipped", mode="audit")], []) == ("block", 2)


def test_a_run_that_measured_nothing_never_passes() -> None:
    """issue 17: a vacuous pass (all checks optional and skipped, or only warn / audit checks) is inconclusive."""
    assert decide([], []) == ("block", 2)
    assert decide([_c("skipped", required=False), _c("skipped", required=False)], []) == ("block", 2)
    assert decide([_c("pass", "warn")], []) == ("block", 2)
    assert decide([_c("pass", mode="audit")], []) == ("block", 2)
    assert decide([_c("pass", value=None)], []) == ("block", 2)
    assert decide([_c("pass", value=float("nan"))], []) == ("block", 2)
    rep = Report(checks=[_c("skipped", required=False)]).finalize()
    assert rep.exit_code == 2 and "nothing to decide" in rep.errors[0]


def test_apply_threshold_bounds_and_nan() -> None:
    assert apply_threshold(">=", 0.9, 0.95)
    assert not apply_threshold(">=", 0.9, float("nan"))
    assert not apply_threshold(">=", 0.9, None)
    assert not apply_threshold(">=", 0.9, 0.95, (0.85, 0.99), "ci_lower")
    assert apply_threshold("<=", 0.2, 0.1, (0.05, 0.19), "ci_upper")
    assert not apply_threshold(">=", 0.9, 0.95, None, "ci_lower")


def test_to_check_result_modes() -> None:
    spec = CheckSpec(id="refusal.harmful_refusal_rate", threshold=Threshold(op=">=", value=0.9))
    assert to_check_result(spec, Measurement(value=0.95, n=100)).status == "pass"
    r = to_check_result(spec, Measurement(value=0.5, n=100))
    assert r.status == "fail" and r.severity == "block" and "fails" in r.message
    audit = CheckSpec(id="refusal.harmful_refusal_rate", threshold=Threshold(op=">=", value=0.9), mode="audit")
    r = to_check_result(audit, Measurement(value=0.5))
    assert (r.status, r.severity, r.mode) == ("fail", "block", "audit")
    assert to_check_result(audit, None, error="weights unreadable").status == "error"
    for bad in (float("nan"), float("inf"), -float("inf")):
        assert to_check_result(spec, Measurement(value=bad, n=10)).status == "error"
        assert to_check_result(no_thr := CheckSpec(id="adapter.audit"), Measurement(value=bad, passed=True)
                               ).status == "error"
    assert to_check_result(spec, Measurement(value=0.95, n=10, ci95=(float("nan"), 1.0))).status == "error"
    assert to_check_result(spec, None, error="boom").status == "error"
    assert to_check_result(spec, None, skipped_reason="needs baseline").status == "skipped"
    assert to_check_result(spec, Measurement(value=None)).status == "error"
    no_thr = CheckSpec(id="adapter.audit")
    assert to_check_result(no_thr, Measurement(passed=False)).status == "fail"
    assert to_check_result(no_thr, Measurement(value=1.0)).status == "error"


def test_report_finalize_sets_exit_code() -> None:
    rep = Report(checks=[_c("fail")]).finalize()
    assert (rep.verdict, rep.exit_code) == ("block", 1) and rep.finished_at
    assert Report(checks=[_c("pass")]).finalize().verdict == "pass"
    assert Report().finalize().verdict == "block"
