"""Adapter <-> base binding: the training manifest's base sha256 against the base the audit (and the gate) is
given."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _findings(report: Any) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in report.checks[0].details["findings"]}


def test_same_base_passes_a_changed_base_blocks(tmp_path: Path, ci_base: Path,
                                                ci_adapter: Callable[..., Path]) -> None:
    from aligngate.stages.audit import audit_adapter

    adapter = ci_adapter("bound", bound_to=ci_base)
    ok = audit_adapter(adapter, base=str(ci_base))
    assert ok.exit_code == 0 and "adapter.base_digest_mismatch" not in _findings(ok)
    assert ok.summary["info"]["binding"]["checked"] is True

    swapped = tmp_path / "swapped-base"
    shutil.copytree(ci_base, swapped)
    cfg = json.loads((swapped / "config.json").read_text())
    (swapped / "config.json").write_text(json.dumps({**cfg, "rope_theta": 1.0}))
    (swapped / "model.safetensors").write_bytes((swapped / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\0")
    bad = audit_adapter(adapter, base=str(swapped))
    f = _findings(bad)["adapter.base_digest_mismatch"]
    assert bad.exit_code == 1 and f["severity"] == "block" and f["file"] == "manifest.json"
    assert sorted(f["details"]["differ"]) == ["config.json", "model.safetensors"]


def test_gate_blocks_a_candidate_base_that_is_not_the_training_base(tmp_path: Path, ci_base: Path,
                                                                     ci_adapter: Callable[..., Path],
                                                                     audit_only_policy: Path) -> None:
    from aligngate.stages.gate import gate

    adapter = ci_adapter("bound", bound_to=ci_base)
    other = tmp_path / "other"
    shutil.copytree(ci_base, other)
    (other / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes()[:-1] + b"\1")
    res = gate(other, adapter=adapter, policy=audit_only_policy, out=tmp_path / "g")
    assert res.exit_code == 1
    assert "adapter.base_digest_mismatch" in _findings(res.report)


def test_hub_id_only_is_a_clear_warning(ci_base: Path, ci_adapter: Callable[..., Path]) -> None:
    from aligngate.stages.audit import audit_adapter

    rep = audit_adapter(ci_adapter("bound", bound_to=ci_base), base="acme/some-base")
    f = _findings(rep)["adapter.base_digest_unverified"]
    assert f["severity"] == "warn" and "only a hub id" in f["explanation"] and "local snapshot" in f["explanation"]


def test_no_manifest_no_finding(ci_base: Path, ci_adapter: Callable[..., Path]) -> None:
    from aligngate.stages.audit import audit_adapter

    rep = audit_adapter(ci_adapter("plain"), base=str(ci_base))
    assert not {"adapter.base_digest_mismatch", "adapter.base_digest_unverified"} & set(_findings(rep))
    assert rep.summary["info"]["binding"] == {"checked": False,
                                              "reason": "no training manifest.json in the adapter directory"}


def test_verified_bytes_supersede_a_different_name(tmp_path: Path, ci_base: Path,
                                                   ci_adapter: Callable[..., Path]) -> None:
    """The adapter declares one path, the gate is given an identical snapshot elsewhere (a CI checkout): the sha256
    binding verifies it, so the name-based adapter.base_mismatch does not block; unbound, it still does."""
    from aligngate.stages.audit import audit_adapter

    snapshot = tmp_path / "models" / "base"
    shutil.copytree(ci_base, snapshot)
    bound = audit_adapter(ci_adapter("bound", bound_to=ci_base), base=str(snapshot))
    assert bound.exit_code == 0 and "adapter.base_mismatch" not in _findings(bound)
    assert "different directories" in bound.summary["info"]["binding"]["superseded"][0]
    plain = audit_adapter(ci_adapter("plain"), base=str(snapshot))
    assert plain.exit_code == 1 and "adapter.base_mismatch" in _findings(plain)
