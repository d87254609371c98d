"""Property tests of the verdict core: no combination of policy and check outcomes talks the gate into a pass.

Thousands of generated policies (check specs with every severity, mode, required flag, threshold op and bound)
and outcomes (measured values including NaN and infinities, errors, skips) go through the same two functions the
gate uses: :func:`aligngate.verdict.to_check_result` and :func:`aligngate.verdict.decide`.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aligngate.policy import CheckSpec, Threshold
from aligngate.verdict import CheckResult, Measurement, Report, decide, enforced_blocking, measured, to_check_result

STATUSES = ("pass", "fail", "error", "skipped")

values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1))
check_results = st.builds(
    CheckResult, id=st.sampled_from(["a", "b", "c", "refusal.harmful_refusal_rate"]),
    status=st.sampled_from(STATUSES), severity=st.sampled_from(["block", "warn"]),
    mode=st.sampled_from(["enforce", "audit"]), required=st.booleans(),
    value=st.one_of(st.none(), st.floats(0, 1)), n=st.one_of(st.none(), st.integers(0, 500)))
errors = st.lists(st.text(min_size=1, max_size=5), max_size=2)


@settings(max_examples=3000, deadline=None)
@given(st.lists(check_results, max_size=8), errors)
def test_decide_invariants(checks: list[CheckResult], errs: list[str]) -> None:
    verdict, code = decide(checks, errs)
    assert (verdict == "pass") == (code == 0)
    assert code in (0, 1, 2)
    any_error = bool(errs) or any(c.status == "error" for c in checks)
    if any_error:  # an error blocks whatever its mode or severity
        assert code == 2
    if any(c.status == "skipped" and c.required for c in checks):
        assert code == 2
    if code == 0:
        assert any(c.status == "pass" and enforced_blocking(c) and measured(c) for c in checks)
        assert not any(c.status == "fail" and enforced_blocking(c) for c in checks)
    if code == 1:
        assert any(c.status == "fail" and enforced_blocking(c) for c in checks) and not any_error


@settings(max_examples=2000, deadline=None)
@given(st.lists(check_results, max_size=6), errors, check_results)
def test_adding_a_check_never_turns_a_block_into_a_pass_unless_it_measures(
        checks: list[CheckResult], errs: list[str], extra: CheckResult) -> None:
    before = decide(checks, errs)
    after = decide([*checks, extra], errs)
    if before[0] == "block" and after[0] == "pass":
        # the only way: the new check is the first enforced blocking check that measured and passed
        assert before[1] == 2 and extra.status == "pass" and enforced_blocking(extra) and measured(extra)
    if extra.status == "error":
        assert after == ("block", 2)


@settings(max_examples=2000, deadline=None)
@given(st.lists(check_results, max_size=6), errors)
def test_audit_and_warn_failures_never_change_a_verdict(checks: list[CheckResult], errs: list[str]) -> None:
    soft = [c for c in checks if not enforced_blocking(c) and c.status == "pass"]
    flipped = [c.model_copy(update={"status": "fail"}) if c in soft else c for c in checks]
    assert decide(flipped, errs) == decide(checks, errs)


specs = st.builds(
    CheckSpec, id=st.sampled_from(["refusal.harmful_refusal_rate", "drift.kl_mean", "adapter.audit"]),
    threshold=st.one_of(st.none(), st.builds(Threshold, op=st.sampled_from([">=", ">", "<=", "<", "=="]),
                                             value=st.floats(-1, 2), bound=st.sampled_from(
                                                 ["point", "ci_lower", "ci_upper"]))),
    severity=st.sampled_from(["block", "warn"]), mode=st.sampled_from(["enforce", "audit"]),
    required=st.booleans())
measurements = st.one_of(
    st.none(),
    st.builds(Measurement, value=values, n=st.one_of(st.none(), st.integers(0, 500)),
              ci95=st.one_of(st.none(), st.tuples(values.filter(lambda v: v is not None),
                                                  values.filter(lambda v: v is not None))),
              passed=st.one_of(st.none(), st.booleans())))
outcomes = st.tuples(specs, measurements, st.sampled_from(["measure", "error", "skip"]))


def _result(spec: CheckSpec, m: Measurement | None, how: str) -> CheckResult:
    if how == "error":
        return to_check_result(spec, None, error="boom")
    if how == "skip":
        return to_check_result(spec, None, skipped_reason="needs baseline")
    return to_check_result(spec, m)


@settings(max_examples=4000, deadline=None)
@given(st.lists(outcomes, min_size=0, max_size=8))
def test_generated_policies_and_outcomes(items: list[tuple[CheckSpec, Measurement | None, str]]) -> None:
    results = [_result(*item) for item in items]
    for (spec, m, how), r in zip(items, results, strict=True):
        assert r.severity == spec.severity and r.mode == spec.mode and r.required == spec.required
        if how == "error":
            assert r.status == "error"
        if how == "measure" and m is not None and m.value is not None and not math.isfinite(m.value):
            assert r.status == "error"  # a NaN or infinite measurement is never a pass or a fail
        if r.status == "pass" and spec.threshold is not None:
            assert r.value is not None and math.isfinite(r.value)
    report = Report(checks=results).finalize()
    assert (report.verdict == "pass") == (report.exit_code == 0)
    if report.exit_code == 0:
        assert any(how == "measure" and s.severity == "block" and s.mode == "enforce" for s, _, how in items)
    if any(how == "error" for _, _, how in items):
        assert report.exit_code == 2 and report.errors
    if report.exit_code == 2:
        assert report.errors  # an inconclusive run always says why
