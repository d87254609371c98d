"""HH-RLHF style pairs: full dialogues ``chosen`` / ``rejected`` that share a prefix; the last assistant turn differs.

Each line ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}`` becomes ``(prompt messages,
chosen reply, rejected reply)``. Lines whose prefixes differ, or that have no final assistant turn, are skipped
(and counted). Plain ``.jsonl`` or gzipped ``.jsonl.gz``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = ["load_hh_pairs", "split_dialogue"]

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ASSISTANT = "\n\nAssistant:"


def split_dialogue(text: str) -> tuple[list[dict[str, str]], str] | None:
    """(prompt messages, last assistant reply), or None when there is no final assistant turn."""
    cut = text.rfind(_ASSISTANT)
    if cut < 0:
        return None
    prefix, reply = text[:cut], text[cut + len(_ASSISTANT):].strip()
    parts = _TURN.split(prefix)
    msgs: list[dict[str, str]] = []
    for role, content in zip(parts[1::2], parts[2::2], strict=False):
        msgs.append({"role": "user" if role == "Human" else "assistant", "content": content.strip()})
    if not msgs or msgs[-1]["role"] != "user":
        return None
    return msgs, reply


def load_hh_pairs(path: str | Path, *, limit: int | None = None, seed: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(pairs ``{"id", "prompt", "chosen", "rejected"}``, number skipped); a seeded sample of ``limit`` pairs."""
    from aligngate.fileio import iter_jsonl

    p = Path(path)
    pairs: list[dict[str, Any]] = []
    skipped = 0
    try:
        for i, obj in iter_jsonl(p, what="HH-RLHF file"):
            if not isinstance(obj.get("chosen"), str) or not isinstance(obj.get("rejected"), str):
                raise InputError(f"{p}:{i}: each line needs string keys 'chosen' and 'rejected'")
            a, b = split_dialogue(obj["chosen"]), split_dialogue(obj["rejected"])
            if a is None or b is None or a[0] != b[0] or a[1] == b[1]:
                skipped += 1
                continue
            pairs.append({"id": f"hh-{i:05d}", "line": i, "prompt": a[0], "chosen": a[1], "rejected": b[1]})
    except (OSError, EOFError) as exc:
        raise InputError(f"{p}: cannot read HH-RLHF file: {exc}") from None
    if limit is not None and len(pairs) > limit:
        pairs = sorted(random.Random(seed).sample(pairs, limit), key=lambda r: r["line"])
    return pairs, skipped
