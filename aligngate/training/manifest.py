"""``manifest.json``: what was trained, from what, how, and the sha256 of everything that went in and came out.

The manifest is written last into the staging directory, after the weights, so ``outputs`` covers every other
file of the final directory. If ``ALIGNGATE_SIGNING_KEY`` is set, the manifest is signed with
``aligngate.audit.provenance.sign_manifest`` (skipped with a warning when that module is not available).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from aligngate.fileio import atomic_write_json, sha256_bytes, sha256_file, sha256_tree
from aligngate.verdict import now_iso, versions

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "base_fingerprint", "build_manifest", "sign_if_configured",
           "write_manifest"]

log = logging.getLogger(__name__)
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def base_fingerprint(base: str) -> dict[str, Any]:
    """sha256 of every file of a local base model directory; a hub id is recorded as such."""
    p = Path(base)
    if p.is_dir():
        return {"path": str(p.resolve()), "sha256": sha256_tree(p)}
    return {"hub_id": base, "sha256": {}}


def build_manifest(*, method: str, base: str, data_label: str, data_rows: list[dict[str, Any]], config: dict[str, Any],
                   config_path: str | None, out_dir: Path, result: dict[str, Any], device: dict[str, Any],
                   kind: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest dict for a finished run whose outputs are already in ``out_dir``. ``config`` is the resolved
    config (method defaults filled in); ``settings`` the machine's training settings
    (:class:`aligngate.training.settings.TrainSettings`: profile, trainer arguments, model dtype and attention)."""
    data: dict[str, Any] = {"path": data_label, "rows": len(data_rows)}
    if data_label != "<rows>" and Path(data_label).is_file():
        data["sha256"] = sha256_file(data_label)
    else:  # in-memory rows: hash their canonical JSON
        data["sha256"] = sha256_bytes("\n".join(json.dumps(r, sort_keys=True) for r in data_rows).encode())
    cfg_entry: dict[str, Any] = {"values": config,
                                 "sha256": sha256_bytes(json.dumps(config, sort_keys=True).encode())}
    if config_path:
        cfg_entry["path"] = str(config_path)
        cfg_entry["file_sha256"] = sha256_file(config_path)
    if config.get("init_adapter"):
        cfg_entry["init_adapter"] = {"path": str(Path(config["init_adapter"]).resolve()),
                                     "sha256": sha256_tree(config["init_adapter"])}
    outputs = {k: v for k, v in sha256_tree(out_dir).items() if k != MANIFEST_NAME and not k.startswith("manifest.")}
    return {
        "manifest_version": MANIFEST_VERSION,
        "kind": kind,
        "method": method,
        "created_at": now_iso(),
        "base_model": base_fingerprint(base),
        "data": data,
        "config": cfg_entry,
        "hyperparameters": {k: config[k] for k in ("learning_rate", "max_steps", "num_train_epochs", "batch_size",
                                                  "max_length", "lora", "beta", "reward_mode") if k in config},
        "training_settings": settings or {},
        "seed": config.get("seed"),
        "steps": result["steps"],
        "final_loss": result["final_loss"],
        "train_loss": result.get("train_loss"),
        "loss_curve": result["losses"],
        "wall_seconds": result["seconds"],
        "device": device,
        "versions": versions("datasets", "accelerate"),
        "outputs": outputs,
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``out_dir/manifest.json`` atomically."""
    path = Path(out_dir) / MANIFEST_NAME
    atomic_write_json(path, manifest)
    return path


def sign_if_configured(out_dir: Path) -> bool:
    """Sign the manifest when ``ALIGNGATE_SIGNING_KEY`` is set. Returns whether it was signed."""
    key = os.environ.get("ALIGNGATE_SIGNING_KEY")
    if not key:
        return False
    try:
        from aligngate.audit.provenance import sign_manifest
    except ImportError:
        log.warning("ALIGNGATE_SIGNING_KEY is set but aligngate.audit.provenance is not available: manifest not signed")
        return False
    sign_manifest(out_dir, key)
    return True
