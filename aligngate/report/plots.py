"""Plots for the HTML report, as inline PNG data URIs (matplotlib, Agg backend)."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["figures"]


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _rates(metrics: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    suites = sorted({n for per in metrics.values() for n in per})
    subjects = list(metrics)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(suites) * len(subjects) / 2 + 2), 3.2))
    width = 0.8 / max(1, len(subjects))
    for j, s in enumerate(subjects):
        xs, ys, lo, hi = [], [], [], []
        for i, name in enumerate(suites):
            v = metrics[s].get(name)
            if v is None:
                continue
            xs.append(i + j * width)
            ys.append(v["refusal_rate"])
            lo.append(v["refusal_rate"] - v["ci95"][0])
            hi.append(v["ci95"][1] - v["refusal_rate"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=s)
    ax.set_xticks([i + width * (len(subjects) - 1) / 2 for i in range(len(suites))], suites)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("refusal rate (95% CI)")
    ax.legend(fontsize=8)
    return _png(fig)


def _scatter(p: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.scatter(p["x"], p["y"], s=10, alpha=0.6)
    ax.set_xlabel(p.get("xlabel", ""))
    ax.set_ylabel(p.get("ylabel", ""))
    ax.set_title(p.get("title", ""), fontsize=9)
    return _png(fig)


def _line(p: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for name, ys in p.get("series", {}).items():
        ax.plot(p.get("x", list(range(len(ys)))), ys, marker="o", ms=3, label=name)
    ax.set_xlabel(p.get("xlabel", ""))
    ax.set_ylabel(p.get("ylabel", ""))
    ax.set_title(p.get("title", ""), fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


def figures(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, data URI) for each plot the summary supports."""
    import matplotlib

    matplotlib.use("Agg")
    out: list[tuple[str, str]] = []
    if summary.get("metrics"):
        out.append(("Refusal rate by suite and subject", _rates(summary["metrics"])))
    kl = summary.get("kl")
    if kl and kl.get("per_prompt_kl"):
        out.append(("Per-prompt KL(baseline ‖ candidate)", _scatter(
            {"x": list(range(len(kl["per_prompt_kl"]))), "y": kl["per_prompt_kl"], "xlabel": "prompt",
             "ylabel": "mean KL", "title": f"mean {kl['mean_kl']:.4f}"})))
    for p in summary.get("plots", []):
        kind = p.get("kind", "scatter")
        out.append((p.get("title", kind), _line(p) if kind == "line" else _scatter(p)))
    return out
