"""End to end: ``train --method reward`` then ``test-reward-model`` on a length-confounded and a clean model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _test(rm: Path, d: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    from aligngate.cli import main

    code = main(["test-reward-model", "--reward-model", str(rm), "--policy", str(d / "policy.yaml"),
                 "--out", str(out), "--output", "json", *extra])
    return code, json.loads((out / "report.json").read_text())


def _status(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def test_length_confounded_reward_model_is_blocked(rm_confounded: Path, rm_workdir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _test(rm_confounded, rm_workdir, tmp_path / "t")
    st = _status(report)
    assert st["reward.accuracy.verbosity"] == "fail" and st["reward.length_bias"] == "fail"
    assert code == 1 and report["exit_code"] == 1 and report["verdict"] == "block"
    assert json.loads(capsys.readouterr().out)["exit_code"] == 1  # stdout is the JSON report alone
    verb = report["summary"]["categories"]["verbosity"]
    assert verb["accuracy"] < 0.3 and verb["n"] == 45
    assert st["reward.hh_rlhf_accuracy"] == "skipped"
    rows = [json.loads(x) for x in (tmp_path / "t" / "pairs.jsonl").read_text().splitlines()]
    assert {"score_chosen", "score_rejected", "margin", "correct", "category"} <= set(rows[0])
    assert report["subjects"]["reward_model"]["sha256"]["model.safetensors"]


def test_clean_reward_model_passes(rm_clean: Path, rm_workdir: Path, tmp_path: Path, shared_data: Path) -> None:
    hh = shared_data / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
    extra = ("--hh-rlhf", str(hh)) if hh.is_file() else ()
    code, report = _test(rm_clean, rm_workdir, tmp_path / "t", *extra)
    st = _status(report)
    assert st["reward.accuracy.verbosity"] == "pass" and st["reward.length_bias"] == "pass", report["checks"]
    assert code == 0 and report["verdict"] == "pass"
    if extra:
        hh_check = next(c for c in report["checks"] if c["id"] == "reward.hh_rlhf_accuracy")
        assert hh_check["n"] == 120 and hh_check["status"] in ("pass", "fail")
    plots = report["summary"]["plots"]
    assert plots and all(p["kind"] == "scatter" and len(p["x"]) == len(p["y"]) > 0 for p in plots)


def test_defaults_when_policy_has_no_reward_checks(rm_confounded: Path, tmp_path: Path) -> None:
    from aligngate.cli import main

    policy = tmp_path / "p.yaml"
    policy.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: none}\n"
                      "spec:\n  reward_test: {pairs_per_category: 12, length_groups: 10, invariance_items: 10}\n")
    code = main(["test-reward-model", "--reward-model", str(rm_confounded), "--policy", str(policy),
                 "--out", str(tmp_path / "t")])
    report = json.loads((tmp_path / "t" / "report.json").read_text())
    assert code == 1 and "defaults" in report["summary"]["notes"][0]
    assert "reward.accuracy.verbosity" in _status(report)


def test_missing_reward_model_is_an_error(rm_workdir: Path, tmp_path: Path) -> None:
    code, report = _test(tmp_path / "nope", rm_workdir, tmp_path / "t")
    assert code == 2 and report["exit_code"] == 2 and report["errors"]


def test_lora_reward_model_loads_for_testing(rm_workdir: Path, tmp_path: Path) -> None:
    from rm_data import preference_sets

    from aligngate.rewardtest import RewardTestConfig, run_reward_test
    from aligngate.training import TrainConfig, train_reward

    out = tmp_path / "lora-rm"
    res = train_reward(rm_workdir / "base", preference_sets()["clean"][:64], out,
                       TrainConfig(max_steps=3, batch_size=8, reward_mode="lora", torch_threads=1))
    assert (out / "adapter_model.safetensors").is_file()
    assert "score" in json.loads((out / "adapter_config.json").read_text())["modules_to_save"]
    assert json.loads(res.manifest.read_text())["kind"] == "reward-lora-adapter"
    result = run_reward_test(out, RewardTestConfig(pairs_per_category=6, length_groups=5, invariance_items=5))
    assert result.metrics["reward.accuracy.verbosity"]["n"] == 6
