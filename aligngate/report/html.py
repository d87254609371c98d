"""A self-contained HTML report with plots (no external assets: works offline and as a CI artifact)."""

from __future__ import annotations

from typing import Any

from aligngate.report._fmt import ci, num, threshold

__all__ = ["render_html"]

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aligngate {{ r.command }}: {{ r.verdict }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.pass{color:#137333}.fail,.error{color:#b3261e;font-weight:bold}.skipped{color:#8a6d00}
.verdict{font-size:1.6em;padding:.3em .6em;border-radius:6px;display:inline-block}
.v-pass{background:#e6f4ea}.v-block{background:#fce8e6}code{font-size:12px}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
</style></head><body>
<h1>aligngate {{ r.command }}</h1>
<p class="verdict v-{{ r.verdict }}">{{ r.verdict|upper }} (exit {{ r.exit_code }})</p>
<p>Policy <code>{{ r.policy.get('path', '') }}</code> sha256 <code>{{ r.policy.get('sha256', '') }}</code><br>
Started {{ r.started_at }}, finished {{ r.finished_at }}</p>
<h2>Subjects</h2><ul>
{% for role, s in r.subjects.items() %}<li><b>{{ role }}</b>:
<code>{{ s.get('model') or s.get('path') or s.get('report') }}</code>
{% if s.get('adapter') %} + adapter <code>{{ s['adapter'] }}</code>{% endif %}
{% if s.get('sha256') %}<details><summary>{{ s['sha256']|length }} files hashed</summary><table>
{% for f, h in s['sha256'].items() %}<tr><td><code>{{ f }}</code></td><td><code>{{ h }}</code></td></tr>{% endfor %}
</table></details>{% endif %}</li>{% endfor %}</ul>
{% if r.checks %}<h2>Checks</h2><table><tr><th>check</th><th>status</th><th>severity</th><th>value</th>
<th>threshold</th><th>n</th><th>95% CI</th><th>message</th></tr>
{% for c in r.checks %}<tr><td><code>{{ c.id }}</code></td><td class="{{ c.status }}">{{ c.status }}</td>
<td>{{ c.severity }}{% if c.mode == 'audit' %} (audit){% endif %}</td><td>{{ num(c.value) }}</td>
<td>{{ threshold(c.threshold) }}</td><td>{{ num(c.n) }}</td><td>{{ ci(c.ci95) }}</td><td>{{ c.message }}</td></tr>
{% endfor %}</table>{% endif %}
{% for title, uri in figs %}<h3>{{ title }}</h3><img alt="{{ title }}" src="{{ uri }}">{% endfor %}
{% set d = r.summary.get('drift_refuse') %}{% if d and d.get('flipped_refused_to_complied') %}
<h2>Harmful prompts refused by the baseline, answered by the candidate ({{ d['refused_to_complied'] }})</h2>
<table><tr><th>prompt</th><th>baseline</th><th>candidate</th></tr>
{% for f in d['flipped_refused_to_complied'] %}<tr><td>{{ f.prompt }}</td><td>{{ f.baseline }}</td>
<td>{{ f.candidate }}</td></tr>{% endfor %}</table>{% endif %}
{% set a = r.summary.get('attribution') %}{% if a %}
<h2>Tuning rows behind the regression ({{ (a.get('flipped') or [])|length }} flipped prompts,
{{ a.get('rows_read', 0) }} rows of <code>{{ a.get('data_report', '') }}</code> read, {{ a.get('seconds', 0) }} s)</h2>
{% if a.get('error') %}<p class="error">Attribution could not run: {{ a['error'] }}</p>
{% elif not a.get('top') %}<p>No tuning row resembles a flipped prompt.</p>
{% else %}<table><tr><th>score</th><th>row</th><th>reasons</th><th>similarity</th><th>row request</th>
<th>flipped prompt</th></tr>
{% for t in a['top'][:10] %}<tr><td>{{ '%.3f'|format(t.score) }}</td><td><code>{{ t.file }}:{{ t.line }}</code></td>
<td>{{ (t.reasons or [])|join(', ') or '-' }}</td><td>{{ '%.3f'|format(t.similarity) }}</td><td>{{ t.request }}</td>
<td>{{ t.get('prompt', '') }} ({{ t.get('direction', '') }})</td></tr>{% endfor %}</table>{% endif %}{% endif %}
{% if r.errors %}<h2>Errors</h2><ul>{% for e in r.errors %}<li class="error">{{ e }}</li>{% endfor %}</ul>{% endif %}
<h2>Versions</h2><p>{% for k, v in r.versions.items() %}<code>{{ k }} {{ v }}</code> {% endfor %}</p>
</body></html>
"""


def render_html(report: Any) -> str:
    """The report as one HTML page with inline PNG plots."""
    from jinja2 import Environment

    from aligngate.report.plots import figures

    env = Environment(autoescape=True)  # noqa: S701 - autoescape is on
    tpl = env.from_string(_TEMPLATE)
    try:
        figs = figures(report.summary or {})
    except Exception as exc:  # noqa: BLE001 - a plot must never sink the report
        figs = []
        report.summary.setdefault("plot_errors", []).append(str(exc))
    return tpl.render(r=report, figs=figs, num=num, ci=ci, threshold=threshold)
