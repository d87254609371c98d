"""The adapter zoo through the CLI: each bad adapter is blocked with the right finding id and exit code."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .conftest import edit_config, raw_header, read_tensors, write_raw, write_tensors


def findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings of the report's one check, adapter.audit (the same shape as in a gate report)."""
    [check] = report["checks"]
    assert check["id"] == "adapter.audit"
    return check["details"]["findings"]  # type: ignore[no-any-return]


def finding_ids(report: dict[str, Any]) -> set[str]:
    return {f["id"] for f in findings(report) if f["severity"] != "warn"}


def audit(cli: Any, policy_file: Any, d: Path, *extra: str, **policy: Any) -> tuple[int, dict[str, Any]]:
    code, rep = cli("audit-adapter", str(d), "--policy", str(policy_file(**policy)), "--output", "json", *extra)
    assert rep is not None, "no JSON report on stdout"
    assert rep["exit_code"] == code
    return code, rep


def test_clean_adapter_passes(cli, policy_file, copy_adapter, zoo_root):
    d = copy_adapter("clean")
    code, rep = audit(cli, policy_file, d, "--base", str(zoo_root["base"]))
    assert code == 0, findings(rep)
    assert rep["verdict"] == "pass"
    assert set(rep["subjects"]["adapter"]["sha256"]) >= {"adapter_model.safetensors", "adapter_config.json"}
    assert rep["checks"][0]["id"] == "adapter.audit" and rep["checks"][0]["status"] == "pass"
    stats = rep["summary"]["module_stats"]
    assert all(s["effective_rank"] > 1 for s in stats.values())


def test_clean_all_linear_r16_passes(cli, policy_file, copy_adapter, zoo_root):
    code, rep = audit(cli, policy_file, copy_adapter("all_linear"), "--base", str(zoo_root["base"]))
    assert code == 0, findings(rep)
    assert len(rep["summary"]["module_stats"]) == 14


def test_rank_lie_plus_lm_head(cli, policy_file, copy_adapter):
    d = copy_adapter("r64")  # tensors hold r=64 on q,v
    edit_config(d, r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    t = read_tensors(d / "adapter_model.safetensors")
    t["base_model.model.lm_head.weight"] = np.random.default_rng(0).normal(size=(300, 64)).astype(np.float32)
    write_tensors(d / "adapter_model.safetensors", t)
    code, rep = audit(cli, policy_file, d)
    assert code == 1
    assert {"adapter.rank_mismatch", "adapter.undeclared_module"} <= finding_ids(rep)
    f = next(x for x in findings(rep) if x["id"] == "adapter.rank_mismatch")
    assert f["file"] == "adapter_model.safetensors" and f["explanation"]


def test_modules_to_save_embed_tokens(cli, policy_file, copy_adapter, zoo_root):
    code, rep = audit(cli, policy_file, copy_adapter("embed"), "--base", str(zoo_root["base"]))
    assert code == 1 and "adapter.sensitive_modules_to_save" in finding_ids(rep)
    code, rep = audit(cli, policy_file, copy_adapter("embed", "allowed"), "--base", str(zoo_root["base"]),
                      allow_modules_to_save=["embed_tokens"])
    assert code == 0, findings(rep)


def test_shapes_for_another_base(cli, policy_file, copy_adapter, zoo_root):
    code, rep = audit(cli, policy_file, copy_adapter("wrong_shapes"), "--base", str(zoo_root["base"]))
    assert code == 1 and finding_ids(rep) == {"adapter.shape_mismatch"}


def test_nan_weights(cli, policy_file, copy_adapter):
    d = copy_adapter()
    t = read_tensors(d / "adapter_model.safetensors")
    k = next(k for k in t if "lora_B" in k)
    t[k] = t[k].copy()
    t[k][0, 0] = np.nan
    write_tensors(d / "adapter_model.safetensors", t)
    code, rep = audit(cli, policy_file, d)
    assert code == 1 and finding_ids(rep) == {"adapter.nonfinite_weights"}


def test_weights_symlinked_from_outside(cli, policy_file, copy_adapter, tmp_path):
    d = copy_adapter()
    outside = tmp_path / "elsewhere.safetensors"
    (d / "adapter_model.safetensors").rename(outside)
    os.symlink(outside, d / "adapter_model.safetensors")
    code, rep = audit(cli, policy_file, d)
    assert code == 2 and "adapter.symlink_escape" in finding_ids(rep)
    assert rep["errors"], "an unsafe adapter is recorded as an error"


def test_hardlink_to_outside(cli, policy_file, copy_adapter, tmp_path):
    d = copy_adapter()
    os.link(d / "adapter_model.safetensors", tmp_path / "other-name")
    code, rep = audit(cli, policy_file, d)
    assert code == 2 and "adapter.hardlink" in finding_ids(rep)


def test_truncated_safetensors(cli, policy_file, copy_adapter):
    d = copy_adapter()
    p = d / "adapter_model.safetensors"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    code, rep = audit(cli, policy_file, d)
    assert code == 2 and "adapter.safetensors_invalid" in finding_ids(rep)
    assert "module_stats" in rep["summary"] and not rep["summary"]["module_stats"]


def test_header_offsets_past_file(cli, policy_file, copy_adapter):
    d = copy_adapter()
    p = d / "adapter_model.safetensors"
    hdr, body = raw_header(p)
    last = max((k for k in hdr if k != "__metadata__"), key=lambda k: hdr[k]["data_offsets"][1])
    hdr[last]["data_offsets"][1] += 4096
    hdr[last]["shape"] = [hdr[last]["shape"][0] + 4096 // (4 * hdr[last]["shape"][1]), hdr[last]["shape"][1]]
    hdr[last]["data_offsets"][1] = hdr[last]["data_offsets"][0] + 4 * hdr[last]["shape"][0] * hdr[last]["shape"][1]
    write_raw(p, hdr, body)
    code, rep = audit(cli, policy_file, d)
    assert code == 2 and "adapter.safetensors_invalid" in finding_ids(rep)
    f = next(x for x in findings(rep) if x["id"] == "adapter.safetensors_invalid")
    assert f["details"]["reason"] == "offsets_past_end"


def test_python_file_and_auto_map(cli, policy_file, copy_adapter):
    d = copy_adapter()
    (d / "modeling_evil.py").write_text("import os\nos.system('echo pwned')\n")
    edit_config(d, auto_map={"AutoModelForCausalLM": "modeling_evil.EvilModel"})
    code, rep = audit(cli, policy_file, d)
    assert code == 1 and {"adapter.code_file", "adapter.auto_map"} <= finding_ids(rep)


def test_absurd_alpha(cli, policy_file, copy_adapter):
    d = copy_adapter()
    edit_config(d, lora_alpha=1_000_000)
    code, rep = audit(cli, policy_file, d)
    assert code == 1 and finding_ids(rep) == {"adapter.scale_too_large"}


def test_declared_base_is_another_model(cli, policy_file, copy_adapter, zoo_root):
    d = copy_adapter()
    edit_config(d, base_model_name_or_path=str(zoo_root["other"]))
    code, rep = audit(cli, policy_file, d, "--base", str(zoo_root["base"]))
    assert code == 1 and "adapter.base_mismatch" in finding_ids(rep)
    edit_config(d, base_model_name_or_path="meta-llama/Llama-2-7b-hf")
    code, rep = audit(cli, policy_file, d, expected_base="Qwen/Qwen2-0.5B")
    assert code == 1 and "adapter.base_mismatch" in finding_ids(rep)
    code, rep = audit(cli, policy_file, d, expected_base="/models/Llama-2-7b-hf")
    assert "adapter.base_mismatch" not in finding_ids(rep)  # same hub basename, not both local


def test_evil_pickle_bin_blocked_never_loaded(cli, policy_file, copy_adapter, tmp_path):
    sentinel = tmp_path / "SENTINEL"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    class Payload2:
        def __reduce__(self):
            return (exec, (f"open({str(sentinel)!r}, 'w').write('x')",))

    d = copy_adapter()
    (d / "adapter_model.bin").write_bytes(pickle.dumps({"a": Payload(), "b": Payload2()}, protocol=4))
    code, rep = audit(cli, policy_file, d)
    assert code == 1 and {"adapter.pickle_file", "adapter.pickle_dangerous_import"} <= finding_ids(rep)
    f = next(x for x in findings(rep) if x["id"] == "adapter.pickle_dangerous_import")
    assert {"posix.system", "builtins.exec"} <= set(f["details"]["imports"]) or "os.system" in str(f)
    # the .bin alone (no safetensors) is still a block, not an error
    (d / "adapter_model.safetensors").unlink()
    code, rep = audit(cli, policy_file, d)
    assert code == 1 and "adapter.pickle_dangerous_import" in finding_ids(rep)
    assert not sentinel.exists(), "the audit executed the pickle payload"


def test_missing_dir_exit_2(cli, policy_file, tmp_path):
    code, rep = audit(cli, policy_file, tmp_path / "nope")
    assert code == 2 and rep["errors"]


def test_fifo_is_unsafe(cli, policy_file, copy_adapter):
    d = copy_adapter()
    os.mkfifo(d / "tokenizer.json")
    code, rep = audit(cli, policy_file, d)
    assert code == 2 and "adapter.special_file" in finding_ids(rep)


def test_require_signature_and_out_dir(cli, policy_file, copy_adapter, tmp_path):
    d = copy_adapter()
    out = tmp_path / "out"
    code, rep = audit(cli, policy_file, d, "--out", str(out), require_signature=True)
    assert code == 1 and finding_ids(rep) == {"adapter.unsigned"}
    saved = json.loads((out / "report.json").read_text())
    assert saved["exit_code"] == 1 and saved["command"] == "audit-adapter"
