"""Number formatting shared by the renderers."""

from __future__ import annotations

from typing import Any

STATUS_ICON = {"pass": "✅", "fail": "❌", "error": "⛔", "skipped": "⏭️"}


def num(x: Any, digits: int = 3) -> str:
    """A float shown briefly; ``-`` for missing."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def ci(c: Any) -> str:
    """``[lo, hi]`` or ``-``."""
    return "-" if not c else f"[{c[0]:.3f}, {c[1]:.3f}]"


def threshold(t: Any) -> str:
    """``>= 0.9`` (with the CI bound when not the point estimate)."""
    if not t:
        return "-"
    t = t if isinstance(t, dict) else t.model_dump()
    bound = "" if t.get("bound", "point") == "point" else f" ({t['bound']})"
    return f"{t['op']} {t['value']:g}{bound}"
