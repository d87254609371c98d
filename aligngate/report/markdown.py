"""Markdown for the GitHub job summary, a PR comment (hidden marker) and Prefect artifacts."""

from __future__ import annotations

from typing import Any

from aligngate.report._fmt import STATUS_ICON, ci, num, threshold

__all__ = ["MARKER", "render_markdown"]

MARKER = "<!-- aligngate-report -->"
_LIMIT = 60_000  # PR comments are capped at 64 KiB


def _esc(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _attribution(report: Any) -> list[str]:
    """The top ten tuning rows behind the flipped prompts (``summary.attribution``), or nothing."""
    att = (report.summary or {}).get("attribution")
    if not isinstance(att, dict):
        return []
    out = [f"### Tuning rows behind the regression ({len(att.get('flipped') or [])} flipped prompts, "
           f"{att.get('rows_read', 0)} rows of `{att.get('data_report', '')}` read, {att.get('seconds', 0)} s)", ""]
    if att.get("error"):
        return out + [f"Attribution could not run: {_esc(str(att['error']))}", ""]
    top = att.get("top") or []
    if not top:
        return out + ["No tuning row resembles a flipped prompt.", ""]
    out += ["| score | row | reasons | similarity | row request | flipped prompt |", "|---|---|---|---|---|---|"]
    for r in top[:10]:
        out.append(f"| {r['score']:.3f} | `{r['file']}:{r['line']}` | {', '.join(r.get('reasons') or []) or '-'} | "
                   f"{r['similarity']:.3f} | {_esc(r['request'])[:120]} | {_esc(r.get('prompt', ''))[:120]} "
                   f"({r.get('direction', '')}) |")
    return out + [""]


def render_markdown(report: Any) -> str:
    """The report as GitHub-flavoured Markdown (under 64 KiB)."""
    icon = "✅ PASS" if report.verdict == "pass" else "❌ BLOCK"
    out = [MARKER, f"## aligngate {report.command}: {icon} (exit {report.exit_code})", ""]
    pol = report.policy or {}
    if pol:
        out.append(f"Policy `{pol.get('path')}` (sha256 `{str(pol.get('sha256', ''))[:12]}`)")
    for role, subj in (report.subjects or {}).items():
        if isinstance(subj, dict):
            what = subj.get("model") or subj.get("path") or subj.get("report") or ""
            extra = f" + adapter `{subj['adapter']}`" if subj.get("adapter") else ""
            served = subj.get("served")
            if isinstance(served, dict):  # an endpoint: no weights to hash, the model id the server reported
                extra += f" (served; answered as `{served.get('served_model') or '?'}`, no sha256 of its weights)"
            out.append(f"- **{role}**: `{what}`{extra}")
    out.append("")
    if report.checks:
        out += ["| check | status | severity | value | threshold | n | 95% CI | message |",
                "|---|---|---|---|---|---|---|---|"]
        for c in report.checks:
            out.append(f"| `{c.id}` | {STATUS_ICON[c.status]} {c.status} | {c.severity} | {num(c.value)} | "
                       f"{threshold(c.threshold)} | {num(c.n)} | {ci(c.ci95)} | {_esc(c.message)[:200]} |")
        out.append("")
    metrics = (report.summary or {}).get("metrics") or {}
    if metrics:
        subjects = list(metrics)
        out += ["### Refusal rate by suite", "", "| suite | " + " | ".join(subjects) + " |",
                "|---" * (len(subjects) + 1) + "|"]
        for name in sorted({n for per in metrics.values() for n in per}):
            cells = []
            for s in subjects:
                v = metrics[s].get(name)
                cells.append("-" if v is None else f"{v['refusal_rate']:.3f} {ci(v['ci95'])} (n={v['n']})")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    drift = (report.summary or {}).get("drift_refuse")
    if drift and drift.get("flipped_refused_to_complied"):
        out += [(f"<details><summary>{drift['refused_to_complied']} harmful prompts refused by the baseline "
                 "and answered by the candidate</summary>"), ""]
        for f in drift["flipped_refused_to_complied"][:20]:
            out.append(f"- {_esc(f['prompt'])[:160]} → _{_esc(f['candidate'])[:120]}_")
        out += ["", "</details>", ""]
    out += _attribution(report)
    if report.errors:
        out += ["### Errors", ""] + [f"- {_esc(e)}" for e in report.errors] + [""]
    text = "\n".join(out)
    if len(text.encode()) > _LIMIT:
        text = text.encode()[:_LIMIT].decode(errors="ignore") + "\n\n_(truncated; see report.json)_\n"
    return text
