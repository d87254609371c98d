"""Fault matrix, class ``model``: corrupt, lying and malicious model directories, through the gate and eval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import (
    PAYLOAD_FILE,
    REFUSAL,
    copy_dir,
    edit_json,
    edit_tensors,
    policy,
    raw_header,
    write_evil_pickle,
    write_raw,
)
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

WEIGHTS = "model.safetensors"


def _nan(d: Path) -> None:
    edit_tensors(d / WEIGHTS, lambda t: t["model.layers.0.self_attn.q_proj.weight"].__setitem__((0, 0), float("nan")))


def _mute(d: Path) -> None:  # final norm zeroed: every logit is 0, greedy decoding emits <pad> (decoded: nothing)
    edit_tensors(d / WEIGHTS, lambda t: t["model.norm.weight"].zero_())


def _truncated(d: Path) -> None:
    data = (d / WEIGHTS).read_bytes()
    (d / WEIGHTS).write_bytes(data[: len(data) // 2])


def _lying_sizes(d: Path) -> None:
    header, body = raw_header(d / WEIGHTS)
    header["model.norm.weight"]["data_offsets"][1] += 10**9  # claims 1 GB more than the file holds
    write_raw(d / WEIGHTS, header, body)


def _huge_header(d: Path) -> None:
    header, body = raw_header(d / WEIGHTS)
    write_raw(d / WEIGHTS, header, body, length=2**62)


def _garbage_config(d: Path) -> None:
    (d / "config.json").write_bytes(b"\x00\xff\xfe garbage {")


def _lying_config(d: Path) -> None:
    edit_json(d / "config.json", hidden_size=256)


def _no_tokenizer(d: Path) -> None:
    (d / "tokenizer.json").unlink()
    (d / "tokenizer_config.json").unlink()


def _no_template(d: Path) -> None:
    (d / "chat_template.jinja").unlink()


FAULTS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "one NaN weight (non-finite logits)": (_nan, ("produced non-finite logits", "corrupt weights")),
    "final norm zeroed: every response empty (no output)": (_mute, ("are no output", "measured nothing")),
    "truncated model.safetensors": (_truncated, ("SafetensorError", "incomplete metadata")),
    "safetensors header lying about tensor sizes": (_lying_sizes, ("SafetensorError", "offset")),
    "safetensors header length 2^62": (_huge_header, ("SafetensorError", "header too large")),
    "config.json is binary garbage": (_garbage_config, ("unreadable config.json",)),
    "config.json lies (hidden_size 256)": (_lying_config, ("cannot load causal LM",)),
    "tokenizer files missing": (_no_tokenizer, ("cannot load tokenizer",)),
    "no chat template": (_no_template, ("has no chat template", "prompt_format: raw")),
}


@fault(*[Case("model", name, "gate", 2, "block", ("cand", *says), no_promotion=True,
              also="the check is an error, never a refusal or a pass")
         for name, (_, says) in FAULTS.items()])
def test_gate_on_a_broken_candidate(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    cand = copy_dir(assets.model, tmp_path / "cand")
    FAULTS[case.name][0](cand)
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", cand, "--out", out,
              "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
    assert res.report["checks"][0]["status"] == "error" and res.report["checks"][0]["value"] is None


@fault(Case("model", "one NaN weight (non-finite logits)", "eval", 2, None, ("cand", "non-finite logits")),
       Case("model", "final norm zeroed: every response empty (no output)", "eval", 2, None,
            ("cand", "4 of 4 responses", "no output")))
def test_eval_on_a_broken_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    cand = copy_dir(assets.model, tmp_path / "cand")
    FAULTS[case.name][0](cand)
    res = cli("eval", "--model", cand, "--suite", "embedded-harmful@limit=4", "--out", tmp_path / "out",
              "--judge", "rules", "--max-new-tokens", "8")
    check(case, res)
    assert not (tmp_path / "out" / "metrics.json").exists()


def _pickle_only(src: Path, dst: Path, marker: Path) -> Path:
    d = copy_dir(src, dst)
    (d / WEIGHTS).unlink()
    write_evil_pickle(d / "pytorch_model.bin", marker)
    return d


@fault(Case("model", "pickle-only candidate with a payload", "gate", 2, "block",
            ("cand", "holds only pickle weights (pytorch_model.bin)"), no_promotion=True, no_payload=True))
def test_gate_pickle_candidate(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    cand = _pickle_only(assets.model, tmp_path / "cand", marker)
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", cand, "--out", out,
              "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg", marker=marker)


@fault(Case("model", "pickle-only model with a payload", "eval", 2, None,
            ("cand", "holds only pickle weights (pytorch_model.bin)"), no_payload=True))
def test_eval_pickle_model(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    cand = _pickle_only(assets.model, tmp_path / "cand", marker)
    res = cli("eval", "--model", cand, "--suite", "embedded-harmful@limit=4", "--out", tmp_path / "out",
              "--judge", "rules")
    check(case, res, marker=marker)


@fault(Case("model", "pickle-only baseline with a payload (drift check)", "gate", 2, "block",
            ("base", "holds only pickle weights", "drift.harmful_refusal_delta"), no_promotion=True,
            no_payload=True))
def test_gate_pickle_baseline(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    base = _pickle_only(assets.model, tmp_path / "base", marker)
    checks = REFUSAL % "" + "    - {id: drift.harmful_refusal_delta, threshold: {op: '>=', value: -0.1}}\n"
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", checks), "--candidate", assets.model,
              "--baseline", base, "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg", marker=marker)


@fault(Case("model", "candidate directory missing", "gate", 2, "block", ("missing-model", "not found"),
            no_promotion=True))
def test_gate_missing_candidate(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", tmp_path / "missing-model",
              "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")


@fault(Case("model", "config auto_map naming a code file in the model dir", "gate", 0, "pass",
            ("refusal.harmful_refusal_rate",), no_payload=True,
            also="the code is never imported (no trust_remote_code); the model is gated as plain Llama"))
def test_gate_remote_code_never_runs(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    marker = tmp_path / PAYLOAD_FILE
    cand = copy_dir(assets.model, tmp_path / "cand")
    (cand / "evil.py").write_text(f"open({str(marker)!r}, 'w')\n")
    edit_json(cand / "config.json", auto_map={"AutoModelForCausalLM": "evil.EvilForCausalLM",
                                              "AutoTokenizer": ["evil.EvilTokenizer", None]})
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml"), "--candidate", cand, "--out", out, out=out)
    check(case, res, marker=marker)
