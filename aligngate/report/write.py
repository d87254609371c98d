"""Write report.md and report.html beside report.json (atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aligngate.fileio import atomic_write_text

__all__ = ["write_all"]


def write_all(report: Any, out_dir: str | Path) -> None:
    """``out_dir/report.md`` and ``out_dir/report.html``."""
    from aligngate.report.html import render_html
    from aligngate.report.markdown import render_markdown

    out = Path(out_dir)
    atomic_write_text(out / "report.md", render_markdown(report))
    atomic_write_text(out / "report.html", render_html(report))
