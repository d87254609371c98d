"""The adapter-audit stage: audit a LoRA adapter directory without loading it, and decide by ``adapter.audit``.

    report = audit_adapter("runs/adapter", base="models/base", out="runs/audit")

Runs behind :func:`aligngate.guard.run_guarded` (never raises for a failure of the run; the report carries it).
``report.checks`` holds the one registered ``adapter.audit`` check; its ``details.findings`` lists every finding
(id, severity, file, tensor, explanation), as in a gate report. Exit codes keep the audit contract: 0 clean
(warnings allowed), 1 a finding of severity block, 2 unsafe to open or any error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aligngate.policy import LoadedPolicy
    from aligngate.verdict import Report

__all__ = ["audit_adapter"]


def audit_adapter(adapter: str | os.PathLike[str], *, base: str | None = None,
                  policy: str | os.PathLike[str] | LoadedPolicy | None = None,
                  out: str | os.PathLike[str] | None = None, write_reference: str | None = None) -> Report:
    """Audit ``adapter`` (file safety, header, config vs tensors, weights, provenance; the behavioural probe when
    the policy enables it and ``base`` is given). ``policy`` configures the audit (``spec.adapter_audit``) and the
    ``adapter.audit`` check (its registered default when the policy does not list it). ``write_reference``: append
    this adapter's per-module update norms to that reference-statistics JSON when the audit is clean."""
    from aligngate.guard import run_guarded

    def body(report: Report) -> None:
        from aligngate.audit.runner import audit_adapter as run_audit
        from aligngate.audit.runner import fill_report
        from aligngate.policy import as_loaded_policy

        loaded = as_loaded_policy(policy)
        report.policy = {"path": loaded.path, "sha256": loaded.sha256}
        result = run_audit(os.fspath(adapter), base=base, config=loaded.policy.spec.adapter_audit)
        fill_report(report, result, loaded.check("adapter.audit"))
        if write_reference and result.exit_code == 0:
            from aligngate.audit.weights import write_reference as write_ref

            write_ref(write_reference, result.stats, Path(adapter).resolve().name)
            report.summary["reference_written"] = str(write_reference)

    return run_guarded("audit-adapter", out, body,
                       verbose=logging.getLogger().isEnabledFor(logging.DEBUG))
