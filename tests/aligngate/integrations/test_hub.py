"""``gate --push-to-hub REPO --dry-run``: the plan (files, sizes, sha256) and model card, only after a pass."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest


def test_dry_run_after_a_pass_lists_every_file(tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                                               audit_only_policy: Path,
                                               run_cli: Callable[..., tuple[int, str, str]]) -> None:
    adapter = ci_adapter("clean")
    (adapter / "README.md").write_text("---\nlicense: mit\n---\n# My adapter\nTrained on support tickets.\n")
    code, _, err = run_cli("gate", "--policy", audit_only_policy, "--candidate", ci_base, "--adapter", adapter,
                           "--out", tmp_path / "g", "--push-to-hub", "acme/support-lora", "--dry-run")
    assert code == 0
    plan = json.loads((tmp_path / "g" / "hub" / "plan.json").read_text())
    files = {f["path_in_repo"]: f for f in plan["files"]}
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors", "README.md", "aligngate_report.json"}
    for f in files.values():
        data = Path(f["local"]).read_bytes()
        assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
        assert f"{f['path_in_repo']}" in err and f["sha256"] in err  # printed on stderr
    assert "would upload 4 files" in err and "acme/support-lora" in err
    card = Path(files["README.md"]["local"]).read_text()
    assert card.startswith("---\nlibrary_name: peft") and "# My adapter" in card and "license: mit" not in card
    assert "<!-- aligngate:model-card -->" in card and "Verdict **pass**" in card
    assert json.loads(Path(files["aligngate_report.json"]["local"]).read_text())["verdict"] == "pass"


def test_no_plan_after_a_block(tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                               audit_only_policy: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = run_cli("gate", "--policy", audit_only_policy, "--candidate", ci_base, "--adapter",
                           ci_adapter("bad", nan=True), "--out", tmp_path / "g", "--push-to-hub", "acme/x",
                           "--dry-run")
    assert code == 1 and not (tmp_path / "g" / "hub").exists() and "would upload" not in err


def test_plan_refuses_a_blocked_report_and_a_bad_repo(tmp_path: Path, ci_adapter: Callable[..., Path]) -> None:
    from aligngate.errors import InputError
    from aligngate.integrations.hub import hub_plan, push_to_hub
    from aligngate.verdict import CheckResult, Report

    blocked = Report(checks=[CheckResult(id="adapter.audit", status="fail", value=1.0)]).finalize()
    with pytest.raises(InputError, match="only a passing adapter"):
        hub_plan(blocked, ci_adapter("a"), tmp_path)
    with pytest.raises(InputError, match="OWNER/NAME"):
        push_to_hub({"files": []}, "no-slash", dry_run=True)


def test_real_push_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aligngate.errors import InputError
    from aligngate.integrations.hub import push_to_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(InputError, match="HF_TOKEN"):
        push_to_hub({"files": []}, "acme/x", dry_run=False)
