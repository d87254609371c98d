"""Unit tests: safetensors header parser, static pickle scan, provenance, reference stats, gate check."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aligngate.audit.config import AuditConfig
from aligngate.audit.pickle_scan import ScanError, scan_bytes
from aligngate.audit.provenance import sign_manifest
from aligngate.audit.runner import audit_adapter
from aligngate.audit.safetensors_header import HeaderError, parse_header


def _st(header: dict, body: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def _reason(data: bytes) -> str:
    with pytest.raises(HeaderError) as ei:
        parse_header(data, len(data))
    return ei.value.reason


def test_header_ok_and_each_rejection():
    ok = _st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [8, 16]}}, b"\0" * 16)
    assert set(parse_header(ok, len(ok)).tensors) == {"a", "b"}
    assert _reason(b"\x01\x00") == "truncated"
    assert _reason(struct.pack("<Q", 10**12) + b"{}") == "header_length"
    assert _reason(struct.pack("<Q", 4) + b"{x}!") == "json"
    assert _reason(struct.pack("<Q", 2) + b"[]") == "json"
    dup = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    assert _reason(struct.pack("<Q", len(dup)) + dup + b"\0" * 4) == "json"
    assert _reason(_st({"a": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)) == "dtype"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4)) == "shape"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)) == "offsets_size"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4)) == "offsets_past_end"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)) == "offsets_overlap"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)) == "offsets_gap"
    assert _reason(_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 12)) == "trailing_data"


class _Evil:
    path = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_pickle_scan_never_executes_and_payload_is_live(tmp_path):
    sentinel = tmp_path / "sentinel"
    _Evil.path = str(sentinel)
    data = pickle.dumps([_Evil()], protocol=2)
    for proto_data in (data, pickle.dumps([_Evil()], protocol=0), pickle.dumps([_Evil()], protocol=5)):
        res = scan_bytes(proto_data)
        assert "posix.system" in res.dangerous and res.calls >= 1
    assert not sentinel.exists()
    # control: the same bytes really do run code when unpickled (in a throw-away subprocess)
    control = tmp_path / "control.pkl"
    control.write_bytes(data.replace(str(sentinel).encode(), str(sentinel).encode()))
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.loads(open({str(control)!r},'rb').read())"],
                   check=True)
    assert sentinel.exists()


def test_torch_zip_scan_and_zip_traversal():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
    assert scan_bytes(buf.getvalue()).dangerous == []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../etc/evil.pkl", pickle.dumps(1))
    with pytest.raises(ScanError) as ei:
        scan_bytes(buf.getvalue())
    assert ei.value.traversal
    with pytest.raises(ScanError):
        scan_bytes(b"\x80\x04\x95garbage")


def test_unscannable_pickle_is_exit_2(copy_adapter):
    d = copy_adapter()
    (d / "training_args.bin").write_bytes(b"\x80\x04not really a pickle")
    res = audit_adapter(d)
    assert res.exit_code == 2 and {f.id for f in res.unsafe} == {"adapter.pickle_unscannable"}


def test_signed_manifest_roundtrip_and_tamper(copy_adapter, monkeypatch):
    d = copy_adapter()
    path = sign_manifest(d, "s3cret")
    assert path.name == "aligngate_manifest.json" and (d / "aligngate_manifest.sig").is_file()
    cfg = AuditConfig(require_signature=True)
    monkeypatch.setenv("ALIGNGATE_SIGNING_KEY", "s3cret")
    res = audit_adapter(d, config=cfg)
    assert res.exit_code == 0, res.findings
    assert res.info["provenance"]["verified"]
    monkeypatch.setenv("ALIGNGATE_SIGNING_KEY", "wrong")
    assert {f.id for f in audit_adapter(d, config=cfg).blocking} == {"adapter.signature_invalid"}
    monkeypatch.setenv("ALIGNGATE_SIGNING_KEY", "s3cret")
    (d / "README.md").write_text("changed after signing")
    (d / "extra.txt").write_text("injected")
    res = audit_adapter(d, config=cfg)
    assert {f.id for f in res.blocking} == {"adapter.manifest_mismatch"}
    assert {f.file for f in res.blocking} == {"README.md", "extra.txt"}
    monkeypatch.delenv("ALIGNGATE_SIGNING_KEY")
    res = audit_adapter(d, config=AuditConfig())
    assert res.exit_code == 0 and [f.id for f in res.findings] == ["adapter.unsigned"]


def test_reference_stats_roundtrip(cli, policy_file, copy_adapter, tmp_path):
    import numpy as np

    from .conftest import read_tensors, write_tensors

    ref = tmp_path / "ref.json"
    for i in range(3):
        code, _ = cli("audit-adapter", str(copy_adapter("clean", f"good{i}")), "--policy", str(policy_file()),
                      "--write-reference", str(ref), "--output", "json")
        assert code == 0
    assert len(json.loads(ref.read_text())["adapters"]) == 3
    d = copy_adapter("clean", "loud")
    t = read_tensors(d / "adapter_model.safetensors")
    write_tensors(d / "adapter_model.safetensors",
                  {k: (v * 1000).astype(np.float32) if "lora_B" in k else v for k, v in t.items()})
    res = audit_adapter(d, config=AuditConfig(reference_stats=str(ref)))
    assert "adapter.reference_outlier" in {f.id for f in res.findings} and res.exit_code == 0


def test_norm_outlier_within_adapter(copy_adapter):
    import numpy as np

    from .conftest import read_tensors, write_tensors

    d = copy_adapter("all_linear")
    t = read_tensors(d / "adapter_model.safetensors")
    k = "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"
    t[k] = (t[k] * 1e4).astype(np.float32)
    write_tensors(d / "adapter_model.safetensors", t)
    res = audit_adapter(d)
    outl = [f for f in res.findings if f.id == "adapter.norm_outlier"]
    assert outl and "down_proj" in outl[0].details["module"] and res.exit_code == 0


def test_gate_check(copy_adapter, zoo_root, tmp_path):
    """adapter.audit decides on the audit result, whichever context holds it (here the shipped test seam)."""
    from aligngate.audit.runner import audit_adapter
    from aligngate.checks import get_check
    from aligngate.checks.testing import FakeContext
    from aligngate.errors import AdapterError
    from aligngate.policy import CheckSpec

    fn, spec = get_check("adapter.audit").fn, CheckSpec(id="adapter.audit")
    m = fn(FakeContext(audit=audit_adapter(str(copy_adapter()), base=str(zoo_root["base"]), config=AuditConfig())),
           spec)
    assert m.passed and m.value == 0
    bad = copy_adapter("clean", "bad")
    (bad / "x.py").write_text("")
    m = fn(FakeContext(audit=audit_adapter(str(bad), config=AuditConfig())), spec)
    assert m.passed is False and m.value == 1
    [code] = [f for f in m.details["findings"] if f["id"] == "adapter.code_file"]
    assert set(code) == {"id", "severity", "file", "tensor", "explanation", "details"} and code["file"] == "x.py"
    (bad / "adapter_model.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(AdapterError) as err:
        fn(FakeContext(audit=audit_adapter(str(bad), config=AuditConfig())), spec)
    assert "adapter.safetensors_invalid" in {f["id"] for f in err.value.details["findings"]}


def test_import_is_light():
    code = ("import sys, aligngate.audit.runner, aligngate.audit.provenance, aligngate.commands.audit_adapter, "
            "aligngate.checks.adapter; bad=[m for m in ('torch','transformers','peft') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])


def test_infinite_alpha_and_bad_r(copy_adapter):
    from .conftest import edit_config

    d = copy_adapter()
    (d / "adapter_config.json").write_text((d / "adapter_config.json").read_text().replace(
        '"lora_alpha": 16', '"lora_alpha": Infinity'))
    assert {f.id for f in audit_adapter(d).blocking} == {"adapter.scale_too_large"}
    edit_config(d, r=-3)
    res = audit_adapter(d)
    assert res.exit_code == 2 and {f.id for f in res.unsafe} == {"adapter.config_invalid"}


def test_sketched_stats_bf16_and_nan(copy_adapter):
    import numpy as np

    from .conftest import raw_header, write_raw

    d = copy_adapter("all_linear")
    exact = audit_adapter(d).stats
    p = d / "adapter_model.safetensors"
    hdr, body = raw_header(p)
    # rewrite every tensor as bf16 (truncate the float32 bit patterns)
    new_hdr, chunks, pos = {}, [], 0
    for name, ent in sorted(((k, v) for k, v in hdr.items() if k != "__metadata__"),
                            key=lambda kv: kv[1]["data_offsets"][0]):
        x = np.frombuffer(body[ent["data_offsets"][0]:ent["data_offsets"][1]], dtype="<f4")
        u = (x.view(np.uint32) >> 16).astype("<u2").tobytes()
        new_hdr[name] = {"dtype": "BF16", "shape": ent["shape"], "data_offsets": [pos, pos + len(u)]}
        chunks.append(u)
        pos += len(u)
    write_raw(p, new_hdr, b"".join(chunks))
    sk = audit_adapter(d, config=AuditConfig(exact_stats_max_mb=0))
    assert sk.exit_code == 0, sk.findings
    k = "model.layers.0.self_attn.q_proj"
    assert sk.stats[k]["delta_norm_estimated"] and "effective_rank" not in sk.stats[k]
    assert abs(sk.stats[k]["norm_A"] / exact[k]["norm_A"] - 1) < 0.02
    assert 0.3 < sk.stats[k]["delta_norm"] / exact[k]["delta_norm"] < 3
    # a NaN (bf16 0x7FC0) in one B matrix is caught in sketch mode too
    name = "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight"
    raw = bytearray(p.read_bytes())
    hdr2, _ = raw_header(p)
    start = 8 + len(json.dumps(new_hdr).encode()) + hdr2[name]["data_offsets"][0]
    raw[start:start + 2] = b"\xc0\x7f"
    p.write_bytes(bytes(raw))
    res = audit_adapter(d, config=AuditConfig(exact_stats_max_mb=0))
    assert {f.id for f in res.blocking} == {"adapter.nonfinite_weights"}


def test_pickle_disguised_as_safetensors(copy_adapter):
    d = copy_adapter()
    _Evil.path = "/nonexistent/never"
    (d / "adapter_model.safetensors").write_bytes(pickle.dumps(_Evil(), protocol=4))
    res = audit_adapter(d)
    ids_ = {f.id for f in res.findings}
    assert res.exit_code == 2 and {"adapter.safetensors_invalid", "adapter.pickle_dangerous_import"} <= ids_


def test_missing_declared_base_is_a_warning_and_declared_base_gives_shapes(copy_adapter, zoo_root):
    from .conftest import edit_config

    d = copy_adapter("wrong_shapes")
    res = audit_adapter(d)  # no --base: the declared base's config.json is used for shapes
    assert {f.id for f in res.blocking} == {"adapter.shape_mismatch"}
    res = audit_adapter(copy_adapter("clean", "nobase"), base=str(zoo_root["base"]))
    assert res.exit_code == 0
    d2 = copy_adapter("clean", "nobase2")
    edit_config(d2, base_model_name_or_path=None)
    res = audit_adapter(d2, base=str(zoo_root["base"]))
    assert res.exit_code == 0 and "adapter.base_undeclared" in {f.id for f in res.findings}


def test_hidden_dirs_are_signed_and_git_is_skipped(copy_adapter, monkeypatch):
    d = copy_adapter()
    (d / ".cache" / "huggingface").mkdir(parents=True)
    (d / ".cache" / "huggingface" / "x.metadata").write_text("meta")
    (d / ".git" / "objects").mkdir(parents=True)
    (d / ".git" / "objects" / "ab").write_text("blob")
    sign_manifest(d, "k")
    monkeypatch.setenv("ALIGNGATE_SIGNING_KEY", "k")
    res = audit_adapter(d)
    assert res.exit_code == 0 and res.info["provenance"]["verified"], res.findings
    assert ".cache/huggingface/x.metadata" in res.sha256 and not any(k.startswith(".git/") for k in res.sha256)


def test_audit_stage_reports_one_registered_check(copy_adapter, zoo_root):
    """The library stage: one adapter.audit check whose details list the findings; exit 0 / 1 / 2 as the audit
    contract says; no output directory needed."""
    from aligngate.stages.audit import audit_adapter as stage

    clean = stage(copy_adapter(), base=str(zoo_root["base"]))
    assert clean.exit_code == 0 and [c.id for c in clean.checks] == ["adapter.audit"]
    bad = copy_adapter("clean", "bad")
    (bad / "x.py").write_text("")
    blocked = stage(bad)
    [check] = blocked.checks
    assert blocked.exit_code == 1 and check.status == "fail" and check.value == 1
    assert "adapter.code_file" in {f["id"] for f in check.details["findings"]} and "adapter.code_file" in check.message
    (bad / "adapter_model.safetensors").write_bytes(b"\x00" * 4)
    unsafe = stage(bad)
    assert unsafe.exit_code == 2 and unsafe.checks[0].status == "error"
    assert "adapter.safetensors_invalid" in {f["id"] for f in unsafe.checks[0].details["findings"]}
