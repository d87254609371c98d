"""Fault matrix, class ``control``: the same subjects and settings, unbroken, pass. Without these rows a case could
"fail closed" only because the fixture never worked; with them, each fault is what makes its run fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import ADAPTER_AUDIT, REFUSAL, policy, write_rows
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow


@fault(Case("control", "the repository's policies", "validate-policy", 0, None, ("ok:",)))
def test_validate(case: Case, cli: Callable[..., Result], repo_root: Path) -> None:
    check(case, cli("validate-policy", *sorted((repo_root / "policies").glob("*.yaml"))))


@fault(Case("control", "embedded model + clean adapter, refusal and adapter checks", "gate", 0, "pass",
            ("refusal.harmful_refusal_rate", "adapter.audit"),
            also="promoted (one record); peft loaded the adapter after the audit (the spy sees it)"))
def test_gate(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any,
              monkeypatch: pytest.MonkeyPatch) -> None:
    from peft import PeftModel

    from aligngate.promotion import current

    seen: list[str] = []
    real = PeftModel.from_pretrained.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, model: Any, model_id: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(model_id))
        return real(cls, model, model_id, *args, **kwargs)

    monkeypatch.setattr(PeftModel, "from_pretrained", classmethod(spy))
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", REFUSAL % "" + ADAPTER_AUDIT), "--candidate",
              assets.model, "--adapter", assets.adapter, "--out", out, "--registry", tmp_path / "reg",
              "--name", "good", out=out)
    check(case, res)
    assert set(current(tmp_path / "reg")) == {"good"} and seen == [str(assets.adapter.resolve())]


@fault(Case("control", "clean adapter", "audit-adapter", 0, "pass", ("adapter.audit",)))
def test_audit(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "audit"
    check(case, cli("audit-adapter", assets.adapter, "--base", assets.model, "--out", out, "--output", "json",
                    out=out))


@fault(Case("control", "30 clean rows", "curate", 0, "pass", ("data.lineage",), lineage=True))
def test_curate(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "out"
    pol = tmp_path / "c.yaml"
    pol.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                   "  curation: {judge: rules}\n")
    res = cli("curate", "--kind", "sft", "--input", assets.clean_rows, "--policy", pol, "--out", out,
              "--no-progress", out=out)
    check(case, res, lineage=(assets.clean_rows, out))


@fault(Case("control", "reward model with finite scores", "test-reward-model", 0, "pass",
            ("reward.accuracy.verbosity",)))
def test_reward(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "out"
    # the policy measures the verbosity category only (fm_build); reward.length_bias is always measured, so the
    # policy sets it too (else its registered default, <= 0.3 block, decides: the tiny random model's bias is 0.9)
    pol = policy(tmp_path / "p.yaml", "    - {id: reward.accuracy.verbosity, threshold: {op: '>=', value: 0.0}}\n"
                                      "    - {id: reward.length_bias, threshold: {op: '<=', value: 1.0}}\n")
    check(case, cli("test-reward-model", "--reward-model", assets.reward_model, "--policy", pol, "--out", out,
                    out=out))


@fault(Case("control", "embedded model, 4 harmful prompts", "eval", 0, None, ("embedded-harmful@limit=4",),
            also="records.jsonl has 4 records, none empty"))
def test_eval(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = tmp_path / "out"
    check(case, cli("eval", "--model", assets.model, "--suite", "embedded-harmful@limit=4", "--out", out,
                    "--judge", "rules", "--max-new-tokens", "8"))
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["response"].strip() for r in records)


@fault(Case("control", "two well-formed rows", "judge", 0, None, ("judged 2 rows",)))
def test_judge(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl", [{"prompt": "How do I bake bread?", "response": "Knead, then bake."},
                                                {"prompt": "Pick a lock?", "response": "Sorry, I can't help."}])
    check(case, cli("judge", "--input", rows, "--out", tmp_path / "judged.jsonl", "--judge", "rules"))


@fault(Case("control", "2 LoRA SFT steps on the embedded model", "train", 0, None, ("trained sft",),
            also="the trained adapter passes audit-adapter (exit 0)"))
def test_train(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    res = cli("train", "--method", "sft", "--base", assets.model, "--data", assets.clean_rows, "--out",
              tmp_path / "adapter", "--max-steps", "2")
    check(case, res)
    assert cli("audit-adapter", tmp_path / "adapter", "--base", assets.model).code == 0


@fault(Case("control", "cached embedded model", "embedded-model", 0, None, ("embedded-model-",)))
def test_embedded_model(case: Case, cli: Callable[..., Result], assets: Any) -> None:
    res = cli("embedded-model")
    check(case, res)
    assert Path(res.stdout.strip().splitlines()[-1]) == assets.model
