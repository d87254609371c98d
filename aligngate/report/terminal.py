"""A readable terminal table of a report (rich), for ``--output text``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aligngate.report._fmt import ci, num, threshold

__all__ = ["render_terminal"]

_STYLE = {"pass": "green", "fail": "red", "error": "bold red", "skipped": "yellow"}


def render_terminal(report: Any, out_dir: str | Path | None = None) -> str:
    """The report as a terminal table plus the verdict line."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    con = Console(file=buf, width=120, force_terminal=False, color_system=None)
    if report.checks:
        t = Table(title=f"aligngate {report.command}", show_lines=False)
        for col in ("check", "status", "severity", "value", "threshold", "n", "ci95", "message"):
            t.add_column(col, overflow="fold", no_wrap=col == "check", max_width=48 if col == "message" else None)
        for c in report.checks:
            t.add_row(c.id, f"[{_STYLE[c.status]}]{c.status}[/]", c.severity, num(c.value), threshold(c.threshold),
                      num(c.n), ci(c.ci95), c.message)
        con.print(t)
    metrics = report.summary.get("metrics") if isinstance(report.summary, dict) else None
    if metrics:
        m = Table(title="refusal rate by suite")
        m.add_column("suite")
        subjects = list(metrics)
        for s in subjects:
            m.add_column(s)
        suites = sorted({name for per in metrics.values() for name in per})
        for name in suites:
            row = [name]
            for s in subjects:
                v = metrics[s].get(name)
                row.append("-" if v is None else f"{v['refusal_rate']:.3f} {ci(v['ci95'])} n={v['n']}")
            m.add_row(*row)
        con.print(m)
    for e in report.errors:
        con.print(f"error: {e}")
    verdict = report.verdict.upper()
    con.print(f"verdict: {verdict} (exit {report.exit_code})")
    if out_dir is not None:
        con.print(f"reports: {Path(out_dir) / 'report.json'}, report.md, report.html")
    return buf.getvalue()
