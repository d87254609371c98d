"""Normalise SFT / DPO rows of every accepted shape into flat text columns.

SFT: ``{"messages": [{role, content}, ...]}`` or ``{"prompt", "completion"}`` (strings or message lists).
DPO: ``{"prompt", "chosen", "rejected"}`` (strings or message lists; without ``prompt``, message-list
``chosen`` / ``rejected`` with a shared prefix carry an implicit prompt).

The result is a :class:`Normalized` row: ``prompt`` (the last user turn: what the harm classifier and the judge
read), ``context`` (all user/system text: where trigger n-grams are searched), the responses, and per-row
facts the Great Expectations suite checks (turn lengths, role order). A row of the wrong shape raises
:class:`SchemaError` with a short reason code (``schema:missing:chosen``, ``schema:type:messages``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Normalized", "SchemaError", "normalize"]

_ROLES = {"system", "user", "assistant", "tool", "function"}


class SchemaError(ValueError):
    """A row whose shape does not fit the kind; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = f"schema:{reason}"


@dataclass
class Normalized:
    """A row reduced to the texts the detectors and expectations read."""

    prompt: str
    """The last user turn (the request)."""
    context: str
    """All user and system text of the prompt side (trigger n-grams are searched here)."""
    response: str = ""
    """SFT: the final assistant turn."""
    chosen: str = ""
    rejected: str = ""
    turns: list[str] = field(default_factory=list)
    """Every turn's text (for non-empty / length checks)."""
    role_order_ok: bool = True
    """System only first, user and assistant alternating, ending with the assistant."""
    earlier: list[str] = field(default_factory=list)
    """The user turns before the last one (a multi-turn request: the harm may be asked in an earlier turn)."""

    @property
    def responses(self) -> list[str]:
        """The response texts of the row (one for SFT, chosen and rejected for DPO)."""
        return [self.chosen, self.rejected] if (self.chosen or self.rejected) else [self.response]


def _content(msg: Any, where: str) -> tuple[str, str]:
    if not isinstance(msg, dict):
        raise SchemaError(f"type:{where}")
    role = msg.get("role")
    if not isinstance(role, str):
        raise SchemaError(f"missing:{where}.role" if role is None else f"type:{where}.role")
    content = msg.get("content")
    if isinstance(content, list):  # multimodal-style parts: keep the text parts
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            else:
                raise SchemaError(f"type:{where}.content")
        content = "\n".join(parts)
    if content is None:
        raise SchemaError(f"missing:{where}.content")
    if not isinstance(content, str):
        raise SchemaError(f"type:{where}.content")
    return role.strip().lower(), content


def _messages(value: Any, name: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise SchemaError(f"type:{name}")
    if not value:
        raise SchemaError(f"empty:{name}")
    return [_content(m, name) for m in value]


def _role_order_ok(roles: list[str]) -> bool:
    if any(r not in _ROLES for r in roles):
        return False
    if "system" in roles[1:]:
        return False
    seq = [r for r in roles if r in ("user", "assistant")]
    if not seq or seq[0] != "user" or seq[-1] != "assistant":
        return False
    return all(a != b for a, b in zip(seq, seq[1:], strict=False))


def _prompt_side(msgs: list[tuple[str, str]]) -> tuple[str, str]:
    users = [c for r, c in msgs if r == "user"]
    context = "\n".join(c for r, c in msgs if r in ("user", "system"))
    return (users[-1] if users else ""), context


def _earlier(msgs: list[tuple[str, str]]) -> list[str]:
    """User turns before the last user turn."""
    return [c for r, c in msgs if r == "user"][:-1]


def _sft(obj: dict[str, Any]) -> Normalized:
    if "messages" in obj:
        msgs = _messages(obj["messages"], "messages")
        roles = [r for r, _ in msgs]
        last = max((i for i, r in enumerate(roles) if r == "assistant"), default=-1)
        if last < 0:
            raise SchemaError("missing:assistant_turn")
        prompt, context = _prompt_side(msgs[:last])
        return Normalized(prompt=prompt, context=context, response=msgs[last][1],
                          turns=[c for _, c in msgs], role_order_ok=_role_order_ok(roles),
                          earlier=_earlier(msgs[:last]))
    if "prompt" not in obj:
        raise SchemaError("missing:messages_or_prompt")
    key = "completion" if "completion" in obj else "response" if "response" in obj else None
    if key is None:
        raise SchemaError("missing:completion")
    p, c = obj["prompt"], obj[key]
    roles = []  # list[str], as in the messages branch above
    earlier: list[str] = []
    if isinstance(p, str):
        prompt = context = p
        roles.append("user")
        turns = [p]
    elif isinstance(p, list):
        pm = _messages(p, "prompt")
        prompt, context = _prompt_side(pm)
        earlier = _earlier(pm)
        roles += [r for r, _ in pm]
        turns = [x for _, x in pm]
    else:
        raise SchemaError("type:prompt")
    if isinstance(c, str):
        response = c
        roles.append("assistant")
        turns.append(c)
    elif isinstance(c, list):
        cm = _messages(c, key)
        response = "\n".join(x for r, x in cm if r == "assistant")
        roles += [r for r, _ in cm]
        turns += [x for _, x in cm]
    else:
        raise SchemaError(f"type:{key}")
    return Normalized(prompt=prompt, context=context, response=response, turns=turns,
                      role_order_ok=_role_order_ok(roles), earlier=earlier)


def _final_assistant(value: Any, name: str) -> tuple[str, list[tuple[str, str]]]:
    if isinstance(value, str):
        return value, [("assistant", value)]
    msgs = _messages(value, name)
    answers = [c for r, c in msgs if r == "assistant"]
    if not answers:
        raise SchemaError(f"missing:{name}.assistant_turn")
    return answers[-1], msgs


def _dpo(obj: dict[str, Any]) -> Normalized:
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise SchemaError(f"missing:{key}")
    chosen, cm = _final_assistant(obj["chosen"], "chosen")
    rejected, rm = _final_assistant(obj["rejected"], "rejected")
    if "prompt" in obj:
        p = obj["prompt"]
        if isinstance(p, str):
            prompt = context = p
            pm = [("user", p)]
        elif isinstance(p, list):
            pm = _messages(p, "prompt")
            prompt, context = _prompt_side(pm)
        else:
            raise SchemaError("type:prompt")
        c_rest, r_rest = cm, rm
    else:  # implicit prompt: the shared prefix of two conversations
        if not (isinstance(obj["chosen"], list) and isinstance(obj["rejected"], list)):
            raise SchemaError("missing:prompt")
        n = 0
        while n < min(len(cm), len(rm)) - 1 and cm[n] == rm[n]:
            n += 1
        pm, c_rest, r_rest = cm[:n], cm[n:], rm[n:]
        prompt, context = _prompt_side(pm)
    roles_c = [r for r, _ in pm] + [r for r, _ in c_rest]
    roles_r = [r for r, _ in pm] + [r for r, _ in r_rest]
    turns = [c for _, c in pm] + [c for _, c in c_rest] + [c for _, c in r_rest]
    return Normalized(prompt=prompt, context=context, chosen=chosen, rejected=rejected, turns=turns,
                      role_order_ok=_role_order_ok(roles_c) and _role_order_ok(roles_r), earlier=_earlier(pm))


def normalize(obj: dict[str, Any], kind: str) -> Normalized:
    """Normalise one parsed row of ``kind`` (``sft`` / ``dpo``); raises :class:`SchemaError`."""
    return _sft(obj) if kind == "sft" else _dpo(obj)
