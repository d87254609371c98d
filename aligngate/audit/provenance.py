"""Provenance: a sha256 manifest of the adapter's files, signed with HMAC-SHA256 by the training flow.

``sign_manifest(dir, key)`` writes ``aligngate_manifest.json`` (every regular file except the manifest and
its signature, relative POSIX path -> sha256) and ``aligngate_manifest.sig`` (hex HMAC-SHA256 of the exact
manifest bytes, keyed with ``key``; the training flow takes it from ``ALIGNGATE_SIGNING_KEY``). Sign last,
after every file of the adapter is written: a file added later is reported as not covered by the manifest.

:func:`verify_manifest` checks a directory against its signed manifest and returns findings:

* no manifest / signature, or no key to check it with: ``adapter.unsigned`` (``block`` when the policy sets
  ``require_signature``, else ``warn``);
* a signature that does not match: ``adapter.signature_invalid`` (block);
* a file whose sha256 differs from the signed one, a signed file that is missing, or a file not covered
  by the manifest: ``adapter.manifest_mismatch`` (block);
* a manifest entry naming a path outside the directory: ``adapter.path_traversal`` (unsafe, exit 2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from aligngate.audit.findings import Finding, Severity, make
from aligngate.fileio import atomic_write_text

__all__ = ["KEY_ENV", "MANIFEST_NAME", "SIGNATURE_NAME", "manifest_files", "sign_manifest", "signing_key",
           "verify_manifest"]

KEY_ENV = "ALIGNGATE_SIGNING_KEY"
MANIFEST_NAME = "aligngate_manifest.json"
SIGNATURE_NAME = "aligngate_manifest.sig"
_OWN = {MANIFEST_NAME, SIGNATURE_NAME}


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise ValueError("empty signing key")
    return key


def signing_key() -> bytes | None:
    """The signing key from ``$ALIGNGATE_SIGNING_KEY`` (None when unset or empty)."""
    val = os.environ.get(KEY_ENV, "")
    return val.encode("utf-8") if val else None


def manifest_files(hashes: dict[str, str]) -> dict[str, str]:
    """``hashes`` without the manifest and signature files themselves."""
    return {k: v for k, v in sorted(hashes.items()) if k not in _OWN}


def _hmac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sign_manifest(dir: str | os.PathLike[str], key: str | bytes) -> Path:
    """Write ``aligngate_manifest.json`` + ``aligngate_manifest.sig`` into ``dir``; return the manifest path.

    Covers every regular file the audit hashes (hidden directories included, ``.git`` excluded); symlinks
    are not followed and not listed (the audit reports them separately).
    """
    import sys

    from aligngate.audit.files import sha256_file, walk_adapter

    root = Path(dir)
    k = _key_bytes(key)
    entries, _ = walk_adapter(root, max_file_bytes=sys.maxsize)  # the same file set the audit hashes
    files = manifest_files({e.rel: sha256_file(e.path) for e in entries})
    manifest = {"version": 1, "algorithm": "sha256", "signature": "hmac-sha256", "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    path = root / MANIFEST_NAME
    atomic_write_text(path, text)
    atomic_write_text(root / SIGNATURE_NAME, _hmac(k, text.encode("utf-8")) + "\n")
    return path


def _safe_rel(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name and "\x00" not in name


def verify_manifest(root: str | os.PathLike[str], hashes: dict[str, str], *, require_signature: bool = False,
                    key: bytes | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Check the files' sha256 (``hashes``, relative path -> hex, as computed by the audit) against the signed
    manifest in ``root``. Returns (findings, provenance summary). ``key`` defaults to the env var."""
    root = Path(root)
    key = key if key is not None else signing_key()
    unsigned_sev: Severity = "block" if require_signature else "warn"
    man_p, sig_p = root / MANIFEST_NAME, root / SIGNATURE_NAME
    info: dict[str, Any] = {"manifest": man_p.name if man_p.is_file() else None, "signed": False, "verified": False}
    if not (man_p.is_file() and not man_p.is_symlink() and sig_p.is_file() and not sig_p.is_symlink()):
        return [make("adapter.unsigned", MANIFEST_NAME, "no signed manifest (aligngate_manifest.json + .sig) in "
                     "the adapter directory: its files cannot be traced to the training flow",
                     severity=unsigned_sev)], info
    info["signed"] = True
    if key is None:
        return [make("adapter.unsigned", SIGNATURE_NAME, f"the adapter carries a signed manifest but ${KEY_ENV} "
                     "is not set, so the signature cannot be verified", severity=unsigned_sev)], info
    raw = man_p.read_bytes()
    sig = sig_p.read_text(encoding="utf-8", errors="replace").strip()
    if not hmac.compare_digest(_hmac(key, raw), sig):
        return [make("adapter.signature_invalid", SIGNATURE_NAME, "the manifest's HMAC-SHA256 signature does not "
                     "match (wrong key, or the manifest was edited after signing)")], info
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise TypeError("files must map paths to hex digests")
    except (ValueError, KeyError, TypeError) as exc:
        return [make("adapter.signature_invalid", MANIFEST_NAME, f"signed manifest is malformed: {exc}")], info
    findings: list[Finding] = []
    for name in files:
        if not _safe_rel(name):
            findings.append(make("adapter.path_traversal", MANIFEST_NAME,
                                 f"signed manifest names a path outside the adapter directory: {name!r}"))
    if findings:
        return findings, info
    actual = manifest_files(hashes)
    for name, digest in sorted(files.items()):
        if name not in actual:
            findings.append(make("adapter.manifest_mismatch", name, "file listed in the signed manifest is missing"))
        elif not hmac.compare_digest(actual[name], digest.lower()):
            findings.append(make("adapter.manifest_mismatch", name, "sha256 differs from the signed manifest: the "
                                 "file was modified after signing"))
    for name in sorted(set(actual) - set(files)):
        findings.append(make("adapter.manifest_mismatch", name, "file is not covered by the signed manifest "
                             "(added after signing)"))
    info["verified"] = not findings
    return findings, info
