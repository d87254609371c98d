"""Training data: read JSONL, validate each row for its method, normalise, build a ``datasets.Dataset``.

Every problem names ``file:line`` (1-based) and the key. Extra columns (``_line``, ``_reasons`` from curated
output, ids, metadata) are ignored. Strings and message lists are both accepted; when the tokenizer has a chat
template, plain strings are turned into one user / assistant turn so that training sees the same format the
model is evaluated (and reward models are scored) with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = ["Row", "load_rows", "prompt_response_text", "to_dataset", "validate_rows"]

Row = tuple[str, dict[str, Any]]
"""(location ``file:line``, row)."""

_ROLES = {"system", "user", "assistant", "tool"}
METHOD_KEYS = {"sft": "messages or prompt/completion", "dpo": "prompt/chosen/rejected",
               "reward": "prompt/chosen/rejected"}


def load_rows(source: str | Path | Sequence[dict[str, Any]]) -> tuple[list[Row], str]:
    """Rows with their locations, and a label for the source. Bad JSON raises :class:`InputError` at file:line."""
    if isinstance(source, (str, Path)):
        from aligngate.fileio import iter_jsonl

        path = Path(source)
        rows: list[Row] = [(f"{path}:{i}", obj) for i, obj in iter_jsonl(path, what="training data")]
        if not rows:
            raise InputError(f"{path}: no training rows")
        return rows, str(path)
    out = [(f"<rows>:{i}", r) for i, r in enumerate(source, start=1)]
    for loc, r in out:
        if not isinstance(r, dict):
            raise InputError(f"{loc}: each row must be a dict, got {type(r).__name__}")
    if not out:
        raise InputError("<rows>: no training rows")
    return out, "<rows>"


def _check_messages(loc: str, key: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{loc}: key '{key}': expected a non-empty list of messages")
    msgs: list[dict[str, str]] = []
    for j, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in _ROLES:
            raise InputError(f"{loc}: key '{key}[{j}]': each message needs a 'role' "
                             f"({'/'.join(sorted(_ROLES))}) and a string 'content'")
        msgs.append({"role": m["role"], "content": m["content"]})
    return msgs


def _text_or_messages(loc: str, row: dict[str, Any], key: str) -> str | list[dict[str, str]]:
    if key not in row:
        raise InputError(f"{loc}: missing key '{key}'")
    value = row[key]
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{loc}: key '{key}': empty string")
        return value
    return _check_messages(loc, key, value)


def validate_rows(rows: Sequence[Row], method: str) -> list[dict[str, Any]]:
    """Validated rows with only the columns ``method`` uses (values: strings or message lists)."""
    if method not in METHOD_KEYS:
        raise InputError(f"unknown training method {method!r} (sft, dpo, reward)")
    out: list[dict[str, Any]] = []
    for loc, row in rows:
        if method == "sft":
            if "messages" in row:
                msgs = _check_messages(loc, "messages", row["messages"])
                if not any(m["role"] == "assistant" for m in msgs):
                    raise InputError(f"{loc}: key 'messages': no assistant turn to learn from")
                out.append({"messages": msgs})
            elif "prompt" in row or "completion" in row:
                out.append({"prompt": _text_or_messages(loc, row, "prompt"),
                            "completion": _text_or_messages(loc, row, "completion")})
            else:
                raise InputError(f"{loc}: missing key 'messages' (or 'prompt' and 'completion')")
        else:
            out.append({k: _text_or_messages(loc, row, k) for k in ("prompt", "chosen", "rejected")})
    kinds = {tuple(sorted(r)) for r in out}
    if len(kinds) > 1:
        raise InputError(f"{rows_label(rows)}: rows mix 'messages' and 'prompt'/'completion' formats; use one")
    return out


def rows_label(rows: Sequence[Row]) -> str:
    """The file part of the first row's location."""
    for loc, _ in rows:
        return loc.rsplit(":", 1)[0]
    return "<rows>"


def _as_user(v: str | list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "user", "content": v}] if isinstance(v, str) else v


def _as_assistant(v: str | list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": v}] if isinstance(v, str) else v


def _as_text(v: str | list[dict[str, str]]) -> str:
    return v if isinstance(v, str) else "\n\n".join(m["content"] for m in v)


def prompt_response_text(prompt: str, response: str) -> str:
    """The plain-text format used when a tokenizer has no chat template (training and scoring alike)."""
    return f"{prompt}\n\n{response}"


def to_dataset(rows: list[dict[str, Any]], method: str, *, chat: bool) -> Any:
    """A ``datasets.Dataset`` in the shape trl expects. ``chat``: the tokenizer has a chat template."""
    from datasets import Dataset

    norm: list[dict[str, Any]] = []
    for r in rows:
        if method == "sft":
            if "messages" in r:
                norm.append({"messages": r["messages"]} if chat else
                            {"text": "\n\n".join(m["content"] for m in r["messages"])})
            elif chat:
                norm.append({"prompt": _as_user(r["prompt"]), "completion": _as_assistant(r["completion"])})
            else:
                norm.append({"prompt": _as_text(r["prompt"]) + "\n\n", "completion": _as_text(r["completion"])})
        elif chat:
            norm.append({"prompt": _as_user(r["prompt"]), "chosen": _as_assistant(r["chosen"]),
                         "rejected": _as_assistant(r["rejected"])})
        elif method == "reward":  # implicit prompt; trl appends EOS, as scoring does
            p = _as_text(r["prompt"])
            norm.append({"chosen": prompt_response_text(p, _as_text(r["chosen"])),
                         "rejected": prompt_response_text(p, _as_text(r["rejected"]))})
        else:
            norm.append({"prompt": _as_text(r["prompt"]) + "\n\n", "chosen": _as_text(r["chosen"]),
                         "rejected": _as_text(r["rejected"])})
    return Dataset.from_list(norm)
