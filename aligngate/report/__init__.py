"""Render a :class:`~aligngate.verdict.Report`: terminal table, Markdown (job summary / PR comment), HTML.

One renderer per sink, all reading the same report; nothing here measures anything.
"""

from aligngate.report.html import render_html
from aligngate.report.markdown import render_markdown
from aligngate.report.terminal import render_terminal
from aligngate.report.write import write_all

__all__ = ["render_html", "render_markdown", "render_terminal", "write_all"]
