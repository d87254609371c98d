"""The command line: fast help, contract exit codes, fail-closed error paths with messages naming the cause."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aligngate.cli import main


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = ("import sys, time; t=time.perf_counter(); from aligngate.cli import build_parser; build_parser(); "
            "print(time.perf_counter()-t); heavy=[m for m in ('torch','transformers','great_expectations',"
            "'prefect','peft','trl') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert float(out[0]) < 1.0
    assert out[1] == "[]"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "aligngate", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "gate" in r.stdout
    assert time.perf_counter() - t0 < 3.0  # generous: interpreter start on a busy CI box


def test_validate_policy_exit_codes(repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-policy", str(repo_root / "policies" / "default.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata:\n  name: x\nspec:\n  chekcs: []\n")
    assert main(["validate-policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6" in err and "spec.chekcs" in err
    assert main(["validate-policy", str(tmp_path / "nope.yaml")]) == 2


def test_usage_errors_exit_2() -> None:
    assert main([]) == 2
    assert main(["gate"]) == 2  # missing required flags
    assert main(["no-such-command"]) == 2


def _gate(tmp_path: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    out = tmp_path / "out"
    code = main(["gate", "--out", str(out), "--output", "json", *extra])
    report = json.loads((out / "report.json").read_text())
    return code, report, "; ".join(report["errors"])  # type: ignore[arg-type]


def test_gate_missing_model_blocks_with_exit_2(tmp_path: Path) -> None:
    code, rep, errs = _gate(tmp_path, "--candidate", str(tmp_path / "no-model"))
    assert code == 2 and rep["verdict"] == "block" and rep["exit_code"] == 2
    assert "no-model" in errs and "not found" in errs
    assert (tmp_path / "out" / "report.md").is_file() and (tmp_path / "out" / "report.html").is_file()


def test_gate_invalid_policy_blocks_with_exit_2(tmp_path: Path, embedded_model: Path) -> None:
    pol = tmp_path / "p.yaml"
    pol.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: x}\nspec: {checks: [{id: x}]}\n")
    code, rep, errs = _gate(tmp_path, "--candidate", str(embedded_model), "--policy", str(pol))
    assert code == 2 and rep["verdict"] == "block" and f"{pol}:4" in errs


def test_gate_corrupt_adapter_blocks_with_exit_2(tmp_path: Path, embedded_model: Path) -> None:
    ad = tmp_path / "adapter"
    ad.mkdir()
    (ad / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16,
                                                         "target_modules": ["q_proj"],
                                                         "base_model_name_or_path": str(embedded_model)}))
    (ad / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    code, rep, _ = _gate(tmp_path, "--candidate", str(embedded_model), "--adapter", str(ad),
                         "--baseline", str(embedded_model))
    assert code == 2 and rep["verdict"] == "block"
    statuses = {c["id"]: c["status"] for c in rep["checks"]}  # type: ignore[index]
    assert statuses["refusal.harmful_refusal_rate"] == "error"
    assert statuses["adapter.audit"] == "error"
