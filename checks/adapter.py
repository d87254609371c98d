"""Gate check ``adapter.audit``: the LoRA adapter audit (file safety, header, config vs tensors, weights,
provenance). Value: the number of blocking findings; an adapter unsafe to open is an error (exit 2)."""

from __future__ import annotations

from typing import Any

from aligngate.checks import check

__all__: list[str] = []


@check("adapter.audit", needs=("adapter",))
def adapter_audit(ctx: Any, spec: Any) -> Any:
    """Audit the candidate's LoRA adapter before it is loaded; passes with no blocking finding."""
    from aligngate.errors import AdapterError
    from aligngate.verdict import Measurement

    if hasattr(ctx, "audit"):
        result = ctx.audit()
    else:  # a bare context: run the audit here
        from aligngate.audit.runner import audit_adapter

        result = audit_adapter(ctx.adapter_path, base=getattr(ctx, "base_model", None),
                               config=ctx.policy.policy.spec.adapter_audit)
    findings = [f.to_dict() for f in result.findings]
    if result.unsafe:
        raise AdapterError(f"adapter {result.path} is unsafe to open: "
                           + "; ".join(f"{f.id} ({f.file}): {f.explanation}" for f in result.unsafe[:5]))
    n = len(result.blocking)
    warn = sum(f.severity == "warn" for f in result.findings)
    return Measurement(value=float(n), passed=n == 0, message=f"{n} blocking, {warn} warning finding(s)",
                       details={"findings": findings, "sha256": result.sha256})
