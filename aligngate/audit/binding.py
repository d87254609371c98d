"""Adapter <-> base binding: the training manifest records the sha256 of the base model files an adapter was trained
on; the audit (and so the gate, which audits against its candidate base) checks that the base it is given is that
same base, file by file.

* ``manifest.json`` (written by ``aligngate train``) with ``base_model.sha256`` and a local ``base`` directory: every
  recorded weight, config and tokenizer file must exist in ``base`` with the same sha256, else
  ``adapter.base_digest_mismatch`` (block) naming the files;
* only a hub id on one side (the manifest recorded a hub id, or ``base`` is a hub id): the digests cannot be compared
  here, ``adapter.base_digest_unverified`` (warn) says so and how to pin it;
* no training manifest, or no ``base`` given: nothing to compare; the audit's ``info["binding"]`` records why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aligngate.audit.findings import Finding, make

__all__ = ["BOUND_SUFFIXES", "TRAINING_MANIFEST", "check_base_binding"]

TRAINING_MANIFEST = "manifest.json"
BOUND_SUFFIXES = (".safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                  "chat_template.jinja", ".safetensors.index.json")
"""The base files whose sha256 binds an adapter (weights, configs, tokenizer): not READMEs or caches."""
_MAX_MANIFEST_BYTES = 8 << 20


def _recorded(root: Path) -> tuple[dict[str, Any] | None, str]:
    p = root / TRAINING_MANIFEST
    if not p.is_file() or p.is_symlink():
        return None, "no training manifest.json in the adapter directory"
    if p.stat().st_size > _MAX_MANIFEST_BYTES:
        return None, f"{TRAINING_MANIFEST} larger than {_MAX_MANIFEST_BYTES >> 20} MiB: not read"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{TRAINING_MANIFEST} unreadable: {exc}"
    base = doc.get("base_model") if isinstance(doc, dict) else None
    if not isinstance(base, dict):
        return None, f"{TRAINING_MANIFEST} records no base_model"
    return base, ""


def check_base_binding(root: Path, base: str | None) -> tuple[list[Finding], dict[str, Any]]:
    """Compare the base recorded in ``root/manifest.json`` with ``base`` (see the module doc)."""
    from aligngate.fileio import sha256_file

    recorded, why = _recorded(root)
    if recorded is None:
        return [], {"checked": False, "reason": why}
    digests = {k: v for k, v in (recorded.get("sha256") or {}).items()
               if isinstance(k, str) and isinstance(v, str) and k.endswith(BOUND_SUFFIXES)}
    info: dict[str, Any] = {"checked": False, "recorded_path": recorded.get("path"),
                            "recorded_hub_id": recorded.get("hub_id"), "recorded_files": len(digests)}
    if not base:
        info["reason"] = "no base model given to compare with"
        return [], info
    base_dir = Path(base)
    if not digests:
        info["reason"] = f"trained on hub id {recorded.get('hub_id')!r}: no base file digests recorded"
        return [make("adapter.base_digest_unverified", TRAINING_MANIFEST,
                     f"the adapter was trained on the hub id {recorded.get('hub_id')!r} and its manifest records no "
                     f"sha256 of the base files, so base {base!r} cannot be verified to be that base: train from a "
                     "local snapshot of the base to bind them")], info
    if not base_dir.is_dir():
        info["reason"] = f"base {base!r} is not a local directory"
        return [make("adapter.base_digest_unverified", TRAINING_MANIFEST,
                     f"base {base!r} is only a hub id here: the sha256 of the {len(digests)} base files the adapter "
                     "was trained on cannot be compared; gate against a local snapshot of the base (e.g. "
                     "huggingface-cli download --revision COMMIT) to verify the binding")], info
    missing, differ = [], []
    for rel, want in sorted(digests.items()):
        f = base_dir / rel
        if not f.is_file():
            missing.append(rel)
        elif sha256_file(f) != want:
            differ.append(rel)
    info.update(checked=True, base=str(base_dir), missing=missing, differ=differ)
    if not missing and not differ:
        return [], info
    parts = ([f"sha256 differs: {', '.join(differ[:5])}"] if differ else []) + (
        [f"missing: {', '.join(missing[:5])}"] if missing else [])
    return [make("adapter.base_digest_mismatch", TRAINING_MANIFEST,
                 f"the base model {base_dir} is not the base this adapter was trained on (recorded "
                 f"{recorded.get('path') or recorded.get('hub_id')}): " + "; ".join(parts),
                 missing=missing, differ=differ)], info
