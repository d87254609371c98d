"""Reports: render a :class:`~aligngate.verdict.Report` (terminal table, Markdown for job summaries and PR comments,
HTML), and read one back (:func:`read_report`, the one reader; its format is published as ``schema/report.v1.json``).

One renderer per sink, all reading the same report; nothing here measures anything.
"""

from aligngate.report.html import render_html
from aligngate.report.markdown import render_markdown
from aligngate.report.read import parse_report, read_report
from aligngate.report.terminal import render_terminal
from aligngate.report.write import write_all

__all__ = ["parse_report", "read_report", "render_html", "render_markdown", "render_terminal", "write_all"]
