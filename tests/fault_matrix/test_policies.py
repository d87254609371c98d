"""Fault matrix, class ``policy``: hostile and careless policy files, through validate-policy and the gate."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fm_build import PAYLOAD_FILE, REFUSAL, copy_dir, policy, stale_pass
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

HEAD = "apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: hostile}\nspec:\n"


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail (instead of hanging the suite) if the command blocks for 20 s: SIGALRM interrupts a blocked open()."""

    def ring(signum: int, frame: Any) -> None:
        raise TimeoutError("the command blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _alias_bomb(path: Path) -> Path:
    text = HEAD.replace("spec:\n", "") + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 9):  # 9^9 = 387 million strings if expanded
        prev = chr(96 + i)
        text += f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    text += "spec: {checks: *i}\n"
    path.write_text(text)
    return path


@fault(Case("policy", "YAML alias bomb (9 levels of 9 aliases)", "validate-policy", 2, None,
            ("bomb.yaml:4", "anchors ('&a')"), also="answers within 10 s, no MemoryError"))
def test_alias_bomb(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    t0 = time.monotonic()
    res = cli("validate-policy", _alias_bomb(tmp_path / "bomb.yaml"))
    assert time.monotonic() - t0 < 10
    check(case, res)


@fault(Case("policy", "!!python/object/apply:os.system tag (payload)", "validate-policy", 2, None,
            ("tag.yaml:6", "key 'spec.checks.0.id'", "!!python/object/apply:os.system"), no_payload=True))
def test_tag_payload(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    marker = tmp_path / PAYLOAD_FILE
    p = tmp_path / "tag.yaml"
    p.write_text(HEAD + f"  checks:\n    - id: !!python/object/apply:os.system ['touch {marker}']\n")
    check(case, cli("validate-policy", p), marker=marker)


@fault(Case("policy", "threshold .nan", "validate-policy", 2, None,
            ("nan.yaml:15", "spec.checks.0.threshold.value", "non-finite number '.nan'")),
       Case("policy", "threshold -.inf", "validate-policy", 2, None,
            ("nan.yaml:15", "spec.checks.0.threshold.value", "non-finite number '-.inf'")))
def test_non_finite_threshold(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    value = ".nan" if "nan" in case.name else "-.inf"
    p = policy(tmp_path / "nan.yaml",
               f"    - {{id: refusal.harmful_refusal_rate, threshold: {{op: '>=', value: {value}}}}}\n")
    check(case, cli("validate-policy", p))


@fault(Case("policy", "policy path is a FIFO", "validate-policy", 2, None, ("fifo.yaml", "FIFO (named pipe)"),
            also="returns at once (a 20 s alarm would fail the test)"))
def test_fifo(case: Case, cli: Callable[..., Result], tmp_path: Path, no_hang: None) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    check(case, cli("validate-policy", tmp_path / "fifo.yaml"))


@fault(Case("policy", "2 MiB policy file", "validate-policy", 2, None, ("huge.yaml", "too large")))
def test_huge_file(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    p = policy(tmp_path / "huge.yaml")
    with p.open("a") as fh:
        fh.write(("# padding " + "x" * 1000 + "\n") * 2100)
    check(case, cli("validate-policy", p))


@fault(Case("policy", "unknown check id (typo)", "validate-policy", 2, None,
            ("typo.yaml:15", "unknown check 'refusal.harmful_refusal_ratee'")),
       Case("policy", "unknown key (typo 'chekcs')", "validate-policy", 2, None, ("typo.yaml:14", "spec.chekcs")),
       Case("policy", "duplicate key", "validate-policy", 2, None, ("typo.yaml:16", "duplicate key")),
       Case("policy", "nesting 200 levels deep", "validate-policy", 2, None, ("typo.yaml", "deeper than 64")),
       Case("policy", "invalid UTF-8 byte", "validate-policy", 2, None, ("typo.yaml:16", "not valid UTF-8")))
def test_invalid_policy_text(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    p = policy(tmp_path / "typo.yaml", REFUSAL % "")
    text = p.read_text()
    if "check id" in case.name:
        text = text.replace("refusal.harmful_refusal_rate", "refusal.harmful_refusal_ratee")
    elif "chekcs" in case.name:
        text = text.replace("  checks:", "  chekcs:")
    elif "duplicate" in case.name:
        text += "  checks: []\n"
    elif "nesting" in case.name:
        text += "  extra: " + "[" * 200 + "]" * 200 + "\n"
    if "UTF-8" in case.name:
        p.write_bytes(text.encode() + b"# caf\xe9\n")
    else:
        p.write_text(text)
    check(case, cli("validate-policy", p))


@fault(Case("policy", "empty check list", "gate", 2, "block", ("empty.yaml", "spec.checks is empty"),
            no_promotion=True, no_stale_pass=True, also="validate-policy accepts it (curate needs no checks)"))
def test_empty_checks(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    p = policy(tmp_path / "empty.yaml", "    []\n")
    assert cli("validate-policy", p).code == 0
    out = stale_pass(tmp_path / "out")
    res = cli("gate", "--policy", p, "--candidate", assets.model, "--out", out, "--registry", tmp_path / "reg",
              out=out)
    check(case, res, registry=tmp_path / "reg", stale_out=out)


@fault(Case("policy", "all checks required: false, subjects absent (vacuous)", "gate", 2, "block",
            ("nothing to decide on",), no_promotion=True, also="both checks skipped; nothing measured"))
def test_vacuous(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    checks = ("    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.1}, required: false}\n"
              "    - {id: drift.harmful_refusal_delta, threshold: {op: '>=', value: -0.1}, required: false}\n")
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "vacuous.yaml", checks), "--candidate", assets.model,
              "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
    assert [c["status"] for c in res.report["checks"]] == ["skipped", "skipped"]


@fault(Case("policy", "mode: audit check that errors (unreadable candidate)", "gate", 2, "block",
            ("config.json", "check(s) in error: refusal.harmful_refusal_rate"), no_promotion=True))
def test_audit_mode_error(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    cand = copy_dir(assets.model, tmp_path / "cand")
    (cand / "config.json").write_text("{not json")
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "audit.yaml", REFUSAL % ", mode: audit"), "--candidate", cand,
              "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")


@fault(Case("policy", "warn-only policy, its check measured and passed", "gate", 2, "block",
            ("no enforced check of severity block measured anything",), no_promotion=True),
       Case("policy", "audit-mode-only policy, its check measured and passed", "gate", 2, "block",
            ("no enforced check of severity block measured anything",), no_promotion=True))
def test_nothing_enforced(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    extra = ", severity: warn" if "warn" in case.name else ", mode: audit"
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", REFUSAL % extra), "--candidate", assets.model,
              "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
    assert res.report["checks"][0]["status"] == "pass"


@fault(Case("policy", "invalid policy given to the gate (bad op '=>')", "gate", 2, "block",
            ("op.yaml:15", "spec.checks.0.threshold.op"), no_promotion=True, no_stale_pass=True))
def test_gate_invalid_policy(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    p = policy(tmp_path / "op.yaml", "    - {id: refusal.harmful_refusal_rate, threshold: {op: '=>', value: 0.5}}\n")
    out = stale_pass(tmp_path / "out")
    res = cli("gate", "--policy", p, "--candidate", assets.model, "--out", out, "--registry", tmp_path / "reg",
              out=out)
    check(case, res, registry=tmp_path / "reg", stale_out=out)


@fault(Case("policy", "suite option limit=abc", "gate", 2, "block", ("embedded-harmful@limit=abc", "whole number >= 1"),
            no_promotion=True, was="'unexpected ValueError: invalid literal for int()', no suite named"),
       Case("policy", "suite option limit=-3 (silently dropped prompts)", "gate", 2, "block",
            ("embedded-harmful@limit=-3", "whole number >= 1"), no_promotion=True,
            was="exit 0, pass, promoted: the gate ran on all but the last 3 prompts"))
def test_suite_option(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    spec = "embedded-harmful@limit=abc" if "abc" in case.name else "embedded-harmful@limit=-3"
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", harmful=spec), "--candidate", assets.model,
              "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")


@fault(Case("policy", "suite smaller than min_samples", "gate", 2, "block", ("fewer than", "min_samples=4"),
            no_promotion=True, also="inconclusive, not a pass on 2 prompts"))
def test_min_samples(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", harmful="embedded-harmful@limit=2"),
              "--candidate", assets.model, "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
