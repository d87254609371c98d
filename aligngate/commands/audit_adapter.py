"""``aligngate audit-adapter DIR``: audit a LoRA adapter directory before anything loads it.

The report's one check is ``adapter.audit``; every finding is listed in its ``details.findings`` (``aligngate
checks`` lists the finding ids). The work is done by :func:`aligngate.stages.audit.audit_adapter`.

Exit codes: 0 clean (warnings allowed), 1 at least one ``block`` finding, 2 unsafe to open (symlink or
hard link escaping, path traversal, special file, truncated/invalid safetensors, unusable
adapter_config.json, unscannable pickle, no weights) or any error. Pickle files are never deserialised.
"""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_ci_flags, add_output_flag, check_ci_paths, render_report

__all__ = ["add_parser", "run"]

_EPILOG = """\
findings and exit codes:
  exit 2 (unsafe to open): adapter.symlink_escape, adapter.hardlink, adapter.special_file,
    adapter.path_traversal, adapter.unreadable, adapter.safetensors_invalid, adapter.config_invalid,
    adapter.pickle_unscannable, adapter.no_weights
  exit 1 (block): adapter.pickle_file, adapter.pickle_dangerous_import, adapter.code_file, adapter.auto_map,
    adapter.oversize, adapter.unsupported_peft_type, adapter.unknown_tensor, adapter.undeclared_module,
    adapter.module_not_allowed, adapter.sensitive_modules_to_save, adapter.rank_mismatch,
    adapter.rank_too_large, adapter.scale_too_large, adapter.base_mismatch, adapter.base_digest_mismatch,
    adapter.shape_mismatch,
    adapter.nonfinite_weights, adapter.non_float_dtype, adapter.signature_invalid,
    adapter.manifest_mismatch, adapter.probe_behaviour_change
  warn (reported only): adapter.unsigned (block with require_signature), adapter.unexpected_file,
    adapter.symlink, adapter.norm_outlier, adapter.reference_outlier, adapter.base_config_unavailable,
    adapter.base_undeclared, adapter.base_digest_unverified,
    adapter.probe_skipped
"""


def add_parser(subparsers: Any) -> None:
    """Register ``audit-adapter``."""
    p = subparsers.add_parser(
        "audit-adapter", help="audit a LoRA adapter directory (file safety, header, config vs tensors, weights, "
                              "provenance) without loading it",
        description=__doc__, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="adapter directory (adapter_config.json + adapter_model.safetensors)")
    p.add_argument("--base", default=None,
                   help="expected base model (local dir with config.json, or hub id); overrides policy "
                        "expected_base; its config.json (never its weights) gives the expected shapes")
    p.add_argument("--policy", default=None, help="policy YAML (default: the packaged default policy); its "
                                                  "spec.adapter_audit section configures the audit, its "
                                                  "adapter.audit check (or the registered default) decides")
    p.add_argument("--out", default=None, help="write report.json (+ .md/.html) here; default: stdout only")
    p.add_argument("--write-reference", default=None, metavar="JSON",
                   help="append this adapter's per-module update norms to a reference-statistics JSON "
                        "(policy reference_stats) when the audit is clean")
    add_ci_flags(p)
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Audit ``args.dir``; returns 0 / 1 / 2."""
    from aligngate.stages.audit import audit_adapter

    check_ci_paths(args)
    report = audit_adapter(args.dir, base=args.base, policy=args.policy, out=args.out,
                           write_reference=args.write_reference)
    return render_report(args, report, args.out)
