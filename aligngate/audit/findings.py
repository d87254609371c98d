"""Audit findings: the catalogue of finding ids, their default severity, and which make an adapter unsafe.

Three classes (documented in ``aligngate audit-adapter --help`` and the README):

* **unsafe** (exit 2, recorded as ``status: error``): the directory cannot be opened safely or parsed, so
  no judgement about its content is possible. Symlinks leaving the directory, hard links to files outside
  it, special files (FIFOs, devices), path traversal in names (file names, zip members, manifest entries),
  truncated or invalid safetensors headers, an unreadable/unparseable ``adapter_config.json``, a pickle file
  that cannot be scanned statically, no weights file at all.
* **block** (exit 1, ``status: fail``): the adapter can be read but must not be promoted: pickle files,
  dangerous pickle imports, code files / ``auto_map``, oversize files, config/tensor mismatches, modules
  outside the allowlist, sensitive ``modules_to_save``, base mismatch, shapes against the base, NaN/Inf,
  absurd rank or scale, a bad signature or a manifest mismatch, a behavioural change under a trigger.
* **warn** (reported, never blocks): unexpected extra files, symlinks inside the directory, robust
  norm outliers, an unsigned adapter (unless ``require_signature``), a base config that could not be read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CATALOGUE", "Finding", "Severity", "make"]

Severity = Literal["unsafe", "block", "warn"]

#: finding id -> (default severity, one-line meaning)
CATALOGUE: dict[str, tuple[Severity, str]] = {
    # unsafe to open: exit 2
    "adapter.symlink_escape": ("unsafe", "symlink pointing outside the adapter directory"),
    "adapter.hardlink": ("unsafe", "hard link shared with a file outside the adapter directory"),
    "adapter.special_file": ("unsafe", "FIFO, socket or device file"),
    "adapter.path_traversal": ("unsafe", "a name that escapes the directory (.., absolute, backslash, control chars)"),
    "adapter.unreadable": ("unsafe", "a file that cannot be read"),
    "adapter.safetensors_invalid": ("unsafe", "truncated or invalid safetensors header / offsets"),
    "adapter.config_invalid": ("unsafe", "adapter_config.json missing, not JSON, or with wrongly typed values"),
    "adapter.pickle_unscannable": ("unsafe", "a pickle-format file that cannot be scanned statically"),
    "adapter.no_weights": ("unsafe", "no adapter weights file"),
    # block: exit 1
    "adapter.pickle_file": ("block", "pickle-based weights (.bin/.pt/.pth/.pkl/.ckpt/zip-of-pickle)"),
    "adapter.pickle_dangerous_import": ("block", "a pickle imports a callable that can run code"),
    "adapter.code_file": ("block", "Python code, native library, script or notebook in the adapter"),
    "adapter.auto_map": ("block", "a config maps classes to custom code (auto_map / trust_remote_code)"),
    "adapter.oversize": ("block", "a file larger than policy max_file_mb (not read)"),
    "adapter.unsupported_peft_type": ("block", "not a LoRA adapter, or LoRA features the audit cannot verify"),
    "adapter.unknown_tensor": ("block", "a tensor that is no LoRA role of a declared module"),
    "adapter.undeclared_module": ("block", "tensors for a module the config does not declare"),
    "adapter.module_not_allowed": ("block", "a target module outside the policy allowlist"),
    "adapter.sensitive_modules_to_save": ("block", "full replacement of lm_head / embeddings / norms"),
    "adapter.rank_mismatch": ("block", "tensor rank differs from the declared r / rank_pattern"),
    "adapter.rank_too_large": ("block", "declared or actual rank above policy max_rank"),
    "adapter.scale_too_large": ("block", "lora_alpha / r above policy max_scale"),
    "adapter.base_mismatch": ("block", "declared base model differs from the expected base"),
    "adapter.base_digest_mismatch": ("block", "the base's files differ from the sha256 the training manifest bound "
                                              "the adapter to"),
    "adapter.shape_mismatch": ("block", "tensor shapes do not fit the base model's config"),
    "adapter.nonfinite_weights": ("block", "NaN or Inf in the weights"),
    "adapter.non_float_dtype": ("block", "integer / bool weights in an adapter"),
    "adapter.signature_invalid": ("block", "signed manifest with a bad signature"),
    "adapter.manifest_mismatch": ("block", "a file differs from / is missing in the signed manifest"),
    "adapter.probe_behaviour_change": ("block", "refusals change under candidate trigger strings"),
    # warn
    "adapter.unsigned": ("warn", "no verifiable signed manifest (block when policy require_signature)"),
    "adapter.unexpected_file": ("warn", "a file not normally part of an adapter"),
    "adapter.symlink": ("warn", "symlink inside the adapter directory (not followed)"),
    "adapter.norm_outlier": ("warn", "a module's update norm is a robust outlier within the adapter"),
    "adapter.reference_outlier": ("warn", "update norms are outliers against the reference adapters"),
    "adapter.base_config_unavailable": ("warn", "the base model's config.json could not be read"),
    "adapter.base_undeclared": ("warn", "adapter_config.json names no base_model_name_or_path"),
    "adapter.base_digest_unverified": ("warn", "base binding not verifiable: only a hub id is known on one side"),
    "adapter.probe_skipped": ("warn", "behavioural probe enabled but not run"),
}


@dataclass
class Finding:
    """One audit finding. ``severity`` is ``unsafe`` (exit 2), ``block`` (exit 1) or ``warn``."""

    id: str
    severity: Severity
    file: str
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def make(id: str, file: str, explanation: str, *, severity: Severity | None = None, **details: Any) -> Finding:
    """A finding with the catalogue's default severity unless ``severity`` overrides it."""
    if id not in CATALOGUE:
        raise KeyError(f"unknown finding id {id!r}")
    return Finding(id=id, severity=severity or CATALOGUE[id][0], file=file, explanation=explanation,
                   details=dict(details))
