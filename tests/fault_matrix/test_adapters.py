"""Fault matrix, class ``adapter``: hostile LoRA adapter directories, through audit-adapter and the gate.

The gate must audit an adapter before anything loads it: a spy on ``peft.PeftModel.from_pretrained`` (recording,
then calling the real loader) shows that a refused adapter never reaches peft, and that a clean one does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import (
    ADAPTER_AUDIT,
    PAYLOAD_FILE,
    REFUSAL,
    copy_dir,
    edit_json,
    edit_tensors,
    policy,
    raw_header,
    stale_pass,
    write_evil_pickle,
    write_raw,
)
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

W = "adapter_model.safetensors"


def _tensor_names(d: Path) -> list[str]:
    return [k for k in raw_header(d / W)[0] if k != "__metadata__"]


def _truncated(d: Path, tmp: Path) -> None:
    data = (d / W).read_bytes()
    (d / W).write_bytes(data[:-100])


def _huge_length(d: Path, tmp: Path) -> None:
    header, body = raw_header(d / W)
    write_raw(d / W, header, body, length=2**40)


def _overlap(d: Path, tmp: Path) -> None:
    header, body = raw_header(d / W)
    names = _tensor_names(d)
    header[names[1]]["data_offsets"] = list(header[names[0]]["data_offsets"])
    write_raw(d / W, header, body)


def _dtype_f16(d: Path, tmp: Path) -> None:
    header, body = raw_header(d / W)
    header[_tensor_names(d)[0]]["dtype"] = "F16"  # half the bytes the offsets hold
    write_raw(d / W, header, body)


def _dtype_i32(d: Path, tmp: Path) -> None:
    header, body = raw_header(d / W)
    header[_tensor_names(d)[0]]["dtype"] = "I32"  # same size as F32: the header is consistent, the dtype is a lie
    write_raw(d / W, header, body)


def _targets_lie(d: Path, tmp: Path) -> None:
    edit_json(d / "adapter_config.json", target_modules=["q_proj"])  # the file also holds v_proj


def _rank_lie(d: Path, tmp: Path) -> None:
    edit_json(d / "adapter_config.json", r=64, lora_alpha=128)  # the tensors hold rank 4


def _lm_head(d: Path, tmp: Path) -> None:
    import torch

    edit_tensors(d / W, lambda t: t.__setitem__("base_model.model.lm_head.weight", torch.zeros(1024, 128)))


def _symlink(d: Path, tmp: Path) -> None:
    outside = tmp / "outside.safetensors"
    shutil.move(d / W, outside)
    os.symlink(outside, d / W)


def _symlink_etc(d: Path, tmp: Path) -> None:
    os.symlink("../../../../../../etc/passwd", d / "README.txt")


def _hardlink(d: Path, tmp: Path) -> None:
    outside = tmp / "elsewhere.safetensors"
    shutil.move(d / W, outside)
    os.link(outside, d / W)


def _pickle(d: Path, tmp: Path) -> None:
    (d / W).unlink()
    write_evil_pickle(d / "adapter_model.bin", tmp / PAYLOAD_FILE, key="base_model.model.lm_head.weight")


def _other_base(d: Path, tmp: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    other = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                         num_attention_heads=4, num_key_value_heads=2))
    cfg = (d / "adapter_config.json").read_text()
    shutil.rmtree(d)
    get_peft_model(other, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8,
                                     target_modules=["q_proj", "v_proj"])).save_pretrained(d)
    (d / "adapter_config.json").write_text(cfg)  # the config still claims the embedded model


def _declared_base(d: Path, tmp: Path) -> None:
    edit_json(d / "adapter_config.json", base_model_name_or_path="meta-llama/Llama-2-7b-hf")


def _config_garbage(d: Path, tmp: Path) -> None:
    (d / "adapter_config.json").write_text('{"r": 4, "target_modules": [')


def _code(d: Path, tmp: Path) -> None:
    (d / "evil.py").write_text(f"open({str(tmp / PAYLOAD_FILE)!r}, 'w')\n")
    edit_json(d / "adapter_config.json", auto_map={"AutoModel": "evil.Backdoor"})


def _nan(d: Path, tmp: Path) -> None:
    edit_tensors(d / W, lambda t: t[next(iter(t))].__setitem__((0, 0), float("nan")))


ADAPTERS: dict[str, tuple[Callable[[Path, Path], None], int, tuple[str, ...]]] = {
    "truncated adapter_model.safetensors": (_truncated, 2, ("adapter.safetensors_invalid", W)),
    "safetensors header length 2^40": (_huge_length, 2, ("header length 1099511627776",)),
    "tensor offsets overlapping": (_overlap, 2, ("overlaps the previous tensor",)),
    "dtype lie F32 -> F16 (sizes disagree)": (_dtype_f16, 2, ("adapter.safetensors_invalid", W)),
    "dtype lie F32 -> I32 (same size)": (_dtype_i32, 1, ("adapter.non_float_dtype", "has dtype I32")),
    "adapter_config lies about target modules": (_targets_lie, 1, ("adapter.undeclared_module", "v_proj")),
    "adapter_config lies about the rank": (_rank_lie, 1, ("adapter.rank_mismatch", "declares r=64")),
    "lm_head smuggled in as full weights": (_lm_head, 1, ("adapter.undeclared_module", "'lm_head'")),
    "weights are a symlink escaping the dir": (_symlink, 2, ("adapter.symlink_escape", W)),
    "symlink to /etc/passwd": (_symlink_etc, 2, ("adapter.symlink_escape", "README.txt")),
    "weights hard-linked from outside": (_hardlink, 2, ("adapter.hardlink", W)),
    "pickle adapter_model.bin with a payload": (_pickle, 1, ("adapter.pickle_dangerous_import",
                                                             "adapter_model.bin")),
    "adapter built for another base (shapes)": (_other_base, 1, ("adapter.shape_mismatch", "128 -> 128")),
    "adapter_config declares another base": (_declared_base, 1, ("adapter.base_mismatch", "Llama-2-7b-hf")),
    "adapter_config.json truncated": (_config_garbage, 2, ("adapter.config_invalid", "adapter_config.json")),
    "code file + auto_map": (_code, 1, ("adapter.code_file", "evil.py", "adapter.auto_map")),
    "NaN in lora_A": (_nan, 1, ("adapter.nonfinite_weights",)),
}
PAYLOADS = {"pickle adapter_model.bin with a payload", "code file + auto_map"}


@pytest.fixture
def peft_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every adapter directory handed to ``peft.PeftModel.from_pretrained`` (which still runs)."""
    from peft import PeftModel

    seen: list[str] = []
    real = PeftModel.from_pretrained.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, model: Any, model_id: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(model_id))
        return real(cls, model, model_id, *args, **kwargs)

    monkeypatch.setattr(PeftModel, "from_pretrained", classmethod(spy))
    return seen


def _build(name: str, assets: Any, tmp_path: Path) -> Path:
    d = copy_dir(assets.adapter, tmp_path / "adapter")
    ADAPTERS[name][0](d, tmp_path)
    return d


@fault(*[Case("adapter", name, "audit-adapter", code, "block", says, no_payload=name in PAYLOADS,
              no_stale_pass=True)
         for name, (_, code, says) in ADAPTERS.items()])
def test_audit_adapter(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    adapter = _build(case.name, assets, tmp_path)
    out = stale_pass(tmp_path / "audit")
    res = cli("audit-adapter", adapter, "--base", assets.model, "--out", out, "--output", "json", out=out)
    check(case, res, marker=tmp_path / PAYLOAD_FILE if case.no_payload else None, stale_out=out)


GATED = ["weights are a symlink escaping the dir", "pickle adapter_model.bin with a payload",
         "adapter_config lies about the rank", "tensor offsets overlapping", "NaN in lora_A", "code file + auto_map"]


@fault(*[Case("adapter", name, "gate", 2, "block",
              ("the adapter failed the audit and was not loaded", ADAPTERS[name][2][0]), no_promotion=True,
              no_payload=name in PAYLOADS, also="peft never called on the adapter (spy)")
         for name in GATED])
def test_gate_refuses_before_loading(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any,
                                     peft_loads: list[str]) -> None:
    adapter = _build(case.name, assets, tmp_path)
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", REFUSAL % "" + ADAPTER_AUDIT), "--candidate",
              assets.model, "--adapter", adapter, "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg", marker=tmp_path / PAYLOAD_FILE if case.no_payload else None)
    assert peft_loads == []


@fault(Case("adapter", "adapter.audit the only check, rank lie", "gate", 1, "block", ("adapter.audit", "failed"),
            no_promotion=True, also="a blocking finding is a failed threshold (exit 1), not an error"))
def test_gate_audit_only(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any,
                         peft_loads: list[str]) -> None:
    adapter = _build("adapter_config lies about the rank", assets, tmp_path)
    out = tmp_path / "out"
    res = cli("gate", "--policy", policy(tmp_path / "p.yaml", ADAPTER_AUDIT), "--candidate", assets.model,
              "--adapter", adapter, "--out", out, "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
    assert peft_loads == []


@fault(Case("adapter", "adapter directory missing", "audit-adapter", 2, "block",
            ("adapter directory not found", "no-such-adapter")))
def test_audit_missing(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "audit"
    check(case, cli("audit-adapter", tmp_path / "no-such-adapter", "--out", out, out=out))
