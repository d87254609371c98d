"""Fault matrix, class ``reward model``: broken and malicious reward models and reward-test policies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import PAYLOAD_FILE, copy_dir, edit_json, edit_tensors, policy, stale_pass, write_evil_pickle
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

VERBOSITY = "    - {id: reward.accuracy.verbosity, threshold: {op: '>=', value: 0.0}%s}\n"
"""Threshold 0: only a measurement that is not one (NaN scores) could still slip through; the check must error."""


def _run(cli: Callable[..., Result], tmp_path: Path, rm: Path, checks: str = VERBOSITY % "",
         out: Path | None = None) -> Result:
    out = out or tmp_path / "out"
    return cli("test-reward-model", "--reward-model", rm, "--policy", policy(tmp_path / "p.yaml", checks),
               "--out", out, out=out)


@fault(Case("reward model", "pickle-only reward model with a payload", "test-reward-model", 2, "block",
            ("rm", "holds only pickle weights"), no_payload=True, no_stale_pass=True))
def test_pickle_reward_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    rm = copy_dir(assets.reward_model, tmp_path / "rm")
    (rm / "model.safetensors").unlink()
    write_evil_pickle(rm / "pytorch_model.bin", marker, key="score.weight")
    out = stale_pass(tmp_path / "out")
    check(case, _run(cli, tmp_path, rm, out=out), marker=marker, stale_out=out)


@fault(Case("reward model", "reward model directory missing", "test-reward-model", 2, "block",
            ("no-such-rm", "does not exist")))
def test_missing_reward_model(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    check(case, _run(cli, tmp_path, tmp_path / "no-such-rm"))


@fault(Case("reward model", "NaN in the score head (every reward NaN)", "test-reward-model", 2, "block",
            ("rm", "non-finite scores"), was="exit 0, pass: NaN scores counted as 0/4 correct, which met >= 0"))
def test_nan_reward_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    rm = copy_dir(assets.reward_model, tmp_path / "rm")
    edit_tensors(rm / "model.safetensors", lambda t: t["score.weight"].fill_(float("nan")))
    check(case, _run(cli, tmp_path, rm))


@fault(Case("reward model", "two outputs (num_labels=2): not a reward model", "test-reward-model", 2, "block",
            ("rm", "cannot load reward model")))
def test_two_label_reward_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    import torch

    rm = copy_dir(assets.reward_model, tmp_path / "rm")
    edit_json(rm / "config.json", num_labels=2, id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1})
    edit_tensors(rm / "model.safetensors", lambda t: t.__setitem__("score.weight", torch.zeros(2, 128)))
    check(case, _run(cli, tmp_path, rm))


@fault(Case("reward model", "policy broken (threshold op '=>')", "test-reward-model", 2, "block",
            ("p.yaml:15", "spec.checks.0.threshold.op"), no_stale_pass=True))
def test_broken_policy(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    out = stale_pass(tmp_path / "out")
    res = _run(cli, tmp_path, assets.reward_model,
               "    - {id: reward.accuracy.verbosity, threshold: {op: '=>', value: 0.7}}\n", out=out)
    check(case, res, stale_out=out)


@fault(Case("reward model", "warn-only reward checks", "test-reward-model", 2, "block",
            ("no enforced check of severity block",)))
def test_warn_only(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    # every block check the test measures (verbosity, the one category; length bias) listed as warn: the
    # registered defaults do not apply to listed checks, so nothing enforced and blocking is measured
    check(case, _run(cli, tmp_path, assets.reward_model, VERBOSITY % ", severity: warn"
                     + "    - {id: reward.length_bias, threshold: {op: '<=', value: 0.3}, severity: warn}\n"))


@fault(Case("reward model", "--pairs file with a broken line", "test-reward-model", 2, "block",
            ("pairs.jsonl:2",)))
def test_broken_pairs(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "p", "chosen": \n')
    out = tmp_path / "out"
    res = cli("test-reward-model", "--reward-model", assets.reward_model, "--policy",
              policy(tmp_path / "p.yaml", VERBOSITY % ""), "--pairs", pairs, "--out", out, out=out)
    check(case, res)


@fault(Case("reward model", "pickle-only reward model given to the gate", "gate", 2, "block",
            ("rm", "holds only pickle weights", "reward.accuracy.verbosity"), no_promotion=True, no_payload=True))
def test_gate_pickle_reward_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    rm = copy_dir(assets.reward_model, tmp_path / "rm")
    (rm / "model.safetensors").unlink()
    write_evil_pickle(rm / "pytorch_model.bin", marker, key="score.weight")
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", VERBOSITY % ""), "--candidate", assets.model,
              "--reward-model", rm, "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg", marker=marker)
