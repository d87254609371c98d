"""Contract of every registered check (in the manner of garak's plugin tests): a check added to the registry
without meeting it fails here.

Each shipped check: a description; needs drawn from the known subjects; typed against the ``Check`` protocol
(``(ctx: CheckContext, spec: CheckSpec) -> Measurement``); on the shipped test seam (``FakeContext``) it returns a
``Measurement`` with a finite value or its own ``passed``, its ``details`` JSON; its default (if any) is a valid
policy spec; ``aligngate checks`` lists it; its needs, when not given, make it ``skipped``, never a crash.
"""

from __future__ import annotations

import inspect
import json
import math
import typing
from typing import Any

import pytest

from aligngate.checks import CheckDef, shipped
from aligngate.checks.run import run_check
from aligngate.checks.testing import FakeContext
from aligngate.checks.types import SUBJECTS, CheckContext
from aligngate.policy import CheckSpec, Threshold, parse_policy_text
from aligngate.verdict import Measurement

CHECKS = shipped()
IDS = sorted(CHECKS)


def _spec(cdef: CheckDef) -> CheckSpec:
    """The check's registered default, or (no default) a threshold every finite value meets."""
    return cdef.default_spec() or CheckSpec(id=cdef.id, threshold=Threshold(op=">=", value=-1e12))


def test_the_registry_is_not_empty_and_ids_are_namespaced() -> None:
    assert len(CHECKS) >= 25
    for cid in IDS:
        group, _, rest = cid.partition(".")
        assert group and rest, f"check id {cid!r} must be <group>.<name>"


@pytest.mark.parametrize("cid", IDS)
def test_has_a_description_and_known_needs(cid: str) -> None:
    cdef = CHECKS[cid]
    assert len(cdef.description.strip()) >= 20, f"{cid}: give the check a docstring saying what it measures"
    assert cdef.needs, f"{cid}: declare what the check needs (needs=...)"
    assert set(cdef.needs) <= set(SUBJECTS), f"{cid}: unknown subject in {cdef.needs}"
    for key, meaning in cdef.params.items():
        assert key and meaning, f"{cid}: document param {key!r}"


@pytest.mark.parametrize("cid", IDS)
def test_is_typed_against_the_check_protocol(cid: str) -> None:
    fn = CHECKS[cid].fn
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)
    assert len(params) == 2, f"{cid}: a check takes (ctx, spec)"
    assert hints[params[0]] is CheckContext, f"{cid}: ctx must be typed CheckContext, not {hints[params[0]]}"
    assert hints[params[1]] is CheckSpec, f"{cid}: spec must be typed CheckSpec"
    assert hints["return"] is Measurement, f"{cid}: a check returns a Measurement"


@pytest.mark.parametrize("cid", IDS)
def test_measures_on_the_fake_context(cid: str) -> None:
    cdef = CHECKS[cid]
    m = cdef.fn(FakeContext(), _spec(cdef))
    assert isinstance(m, Measurement), f"{cid} returned {type(m).__name__}"
    assert (m.value is not None and math.isfinite(m.value)) or m.passed is not None, \
        f"{cid}: a measurement needs a finite value or its own passed flag"
    if m.ci95 is not None:
        assert all(math.isfinite(x) for x in m.ci95) and m.ci95[0] <= m.ci95[1]
    json.dumps(m.details, allow_nan=False)  # details stay JSON
    result = run_check(FakeContext(), _spec(cdef))
    assert result.status in ("pass", "fail"), f"{cid}: {result.status}: {result.message}"


@pytest.mark.parametrize("cid", IDS)
def test_is_skipped_without_its_subjects(cid: str) -> None:
    empty = FakeContext(records=None, paired=None, kl=None, capability=None, budget=None, audit=None, reward=None,
                        data=None)
    result = run_check(empty, _spec(CHECKS[cid]))
    assert result.status == "skipped" and "needs" in result.message


@pytest.mark.parametrize("cid", [c for c in IDS if CHECKS[c].default is not None])
def test_default_is_a_valid_policy_spec(cid: str) -> None:
    d = CHECKS[cid].default
    assert d is not None
    threshold = f", threshold: {{op: '{d.op}', value: {d.value}}}" if d.op is not None else ""
    text = (f"apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {{name: c}}\nspec:\n  checks:\n"
            f"    - {{id: {cid}, severity: {d.severity}, required: {str(d.required).lower()}{threshold}}}\n")
    [spec] = parse_policy_text(text).spec.checks
    assert spec == CHECKS[cid].default_spec().model_copy(update={"description": None})  # type: ignore[union-attr]


def test_aligngate_checks_lists_every_check_and_the_catalogues(capsys: pytest.CaptureFixture[str]) -> None:
    from aligngate.audit.findings import CATALOGUE
    from aligngate.cli import main
    from aligngate.curation.config import DETECTORS

    assert main(["checks", "--output", "json"]) == 0
    listed: dict[str, Any] = {c["id"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert set(IDS) <= set(listed)
    for cid in IDS:
        assert listed[cid]["description"] == CHECKS[cid].description
    assert {f["id"] for f in listed["adapter.audit"]["catalogue"]} == set(CATALOGUE)
    assert {f["id"] for f in listed["data.quarantine_fraction"]["catalogue"]} == set(DETECTORS)
    assert main(["checks"]) == 0
    text = capsys.readouterr().out
    assert all(cid in text for cid in IDS) and "adapter.probe_behaviour_change" in text


def test_every_check_id_a_stage_report_can_contain_is_registered() -> None:
    """The stages that decide on their own report only registered ids (their whole group, both kinds of data)."""
    from aligngate.audit.findings import make
    from aligngate.audit.runner import fill_report
    from aligngate.checks.testing import fake_audit, fake_data, fake_reward
    from aligngate.curation.report import decide_data
    from aligngate.rewardtest.gatecheck import decide_reward, reward_specs
    from aligngate.verdict import Report

    seen: set[str] = set()
    for kind in ("sft", "dpo"):
        rep = Report(command="curate")
        decide_data(rep, fake_data(kind), policy=None)
        seen |= {c.id for c in rep.checks}
    rep = Report(command="audit-adapter")
    fill_report(rep, fake_audit([make("adapter.code_file", "x.py", "code"), make("adapter.unsigned", ".", "no")]))
    assert [c.id for c in rep.checks] == ["adapter.audit"]
    assert {f["id"] for f in rep.checks[0].details["findings"]} == {"adapter.code_file", "adapter.unsigned"}
    seen |= {c.id for c in rep.checks}
    seen |= {c.id for c in decide_reward(reward_specs(None, hh_given=True, pairs_given=True),
                                         fake_reward(hh_rlhf=0.7, preference=0.8))}
    assert seen <= set(CHECKS)
    assert {c for c in IDS if c.startswith("data.")} <= seen
