"""Adversarial preference pairs, equal-quality length groups and invariance items.

Every pair is ``{"id", "category", "variant", "source", "prompt", "chosen", "rejected"}`` where ``chosen`` is
the response a good reward model must score strictly higher. ``prompt`` is a string or a list of chat
messages. Pairs come from the built-in templates (:mod:`.templates`) and, when the user gives preference
data, from their own rows: padded and restyled versions of their chosen answers (so a length- or
style-biased reward model fails on the user's own distribution too).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligngate.errors import InputError
from aligngate.rewardtest import templates as T

__all__ = ["Prompt", "build_invariance_items", "build_length_groups", "build_pairs", "load_preference_rows",
           "meaning_preserving_edits"]

Prompt = str | list[dict[str, str]]


# ---------------------------------------------------------------- user data


def _response_text(loc: str, key: str, value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                                 for m in value):
        return "\n\n".join(m["content"] for m in value if m.get("role", "assistant") == "assistant") or \
            value[-1]["content"]
    raise InputError(f"{loc}: key '{key}': expected a non-empty string or a list of messages")


def load_preference_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"prompt", "chosen", "rejected", "category"?}`` from a JSONL file; errors name file:line."""
    from aligngate.fileio import iter_jsonl

    p = Path(path)
    rows: list[dict[str, Any]] = []
    for i, obj in iter_jsonl(p, what="preference data"):
        loc = f"{p}:{i}"
        for key in ("prompt", "chosen", "rejected"):
            if key not in obj:
                raise InputError(f"{loc}: missing key '{key}'")
        prompt = obj["prompt"]
        if not (isinstance(prompt, str) and prompt.strip()) and not isinstance(prompt, list):
            raise InputError(f"{loc}: key 'prompt': expected a string or a list of messages")
        rows.append({"prompt": prompt, "chosen": _response_text(loc, "chosen", obj["chosen"]),
                     "rejected": _response_text(loc, "rejected", obj["rejected"]),
                     "category": obj.get("category"), "line": i})
    if not rows:
        raise InputError(f"{p}: no preference pairs")
    return rows


# ---------------------------------------------------------------- text transforms


def pad(answer: str, k: int, rng: random.Random) -> str:
    """``answer`` with ``k`` content-free filler sentences (one before it when k >= 3)."""
    fill = rng.sample(T.FILLER, min(k, len(T.FILLER)))
    if k >= 3:
        return " ".join([fill[0], answer, *fill[1:]])
    return " ".join([answer, *fill])


def stylise(answer: str, rng: random.Random, *, confident: bool) -> str:
    """Markdown heading, bold and a bullet list (plus an over-confident tone) around the same content."""
    head = rng.choice(["**Answer**", "### Short answer", "**Key point**"])
    lines = [f"{head}\n", f"- {answer}"]
    if confident:
        lines = [f"{rng.choice(['Absolutely!', 'Definitely.', 'Without a doubt:'])} {head}\n", f"- **{answer}**",
                 "- This is well established and beyond any doubt.", "\nI am 100% certain about this."]
    return "\n".join(lines)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def meaning_preserving_edits(text: str) -> dict[str, str]:
    """Whitespace, casing and harmless-rephrasing variants of ``text`` (same meaning)."""
    swaps = [("do not", "don't"), ("it is", "it's"), ("cannot", "can't"), ("I am", "I'm"), ("will not", "won't"),
             ("that is", "that's"), ("don't", "do not"), ("can't", "cannot"), ("I'm", "I am"), ("won't", "will not")]
    rephrased = text
    for a, b in swaps:
        if a in rephrased:
            rephrased = rephrased.replace(a, b)
            break
    else:
        rephrased = "Well, " + text[:1].lower() + text[1:] if text[:1].isupper() else "Well, " + text
    return {"whitespace": "  ".join(text.split(" ")) + "\n", "casing": text.lower(), "rephrase": rephrased}


# ---------------------------------------------------------------- categories


def _pairs_from_templates(category: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if category == "safety-should-refuse":
            req, what = T.HARMFUL[i % len(T.HARMFUL)]
            out.append({"variant": "refusal-vs-compliance", "prompt": req,
                        "chosen": rng.choice(T.REFUSALS).format(what=what), "rejected": rng.choice(T.COMPLIANCE)})
        elif category == "safety-should-respond":
            req, ans = T.SENSITIVE_SAFE[i % len(T.SENSITIVE_SAFE)]
            out.append({"variant": "help-vs-refusal", "prompt": req, "chosen": ans,
                        "rejected": rng.choice(T.NEEDLESS_REFUSALS)})
        elif category == "verbosity":
            topic, q, good, _bad = T.QA[(i // 3) % len(T.QA)]
            kind = ("padded", "padded", "verbose-non-answer")[i % 3]
            if kind == "padded":
                k = 1 + (i // 3) % 6  # 1..6 filler sentences: the length gap varies in controlled steps
                out.append({"variant": "padded", "padding": k, "prompt": q, "chosen": good,
                            "rejected": pad(good, k, rng)})
            else:
                out.append({"variant": kind, "prompt": q, "chosen": good,
                            "rejected": rng.choice(T.VERBOSE_NON_ANSWERS).format(topic=topic)})
        elif category == "style":
            _topic, q, good, bad = T.QA[i % len(T.QA)]
            level = ("easy", "normal", "hard")[i % 3]
            chosen = stylise(good, rng, confident=False) if level == "easy" else good
            rejected = stylise(bad, rng, confident=True) if level == "hard" else bad
            out.append({"variant": level, "prompt": q, "chosen": chosen, "rejected": rejected})
        elif category == "sycophancy":
            claim, fix = T.FALSE_CLAIMS[i % len(T.FALSE_CLAIMS)]
            prompt = rng.choice(T.CLAIM_PROMPTS).format(claim=claim)
            out.append({"variant": "correction-vs-agreement", "prompt": prompt,
                        "chosen": rng.choice(T.CORRECTIONS).format(fix=fix),
                        "rejected": rng.choice(T.AGREEMENTS).format(claim=claim, claim_cap=_cap(claim))})
        else:
            raise InputError(f"unknown reward-test category {category!r}")
    for p in out:
        p["source"] = "template"
    return out


def _pairs_from_data(category: str, rows: Sequence[dict[str, Any]], n: int,
                     rng: random.Random) -> list[dict[str, Any]]:
    """Pairs derived from the user's rows: their own chosen answers, padded or restyled."""
    if n <= 0 or not rows:
        return []
    picked = rng.sample(list(rows), min(n, len(rows)))
    out: list[dict[str, Any]] = []
    for i, r in enumerate(picked):
        if category == "verbosity":
            k = 1 + i % 6
            out.append({"variant": "padded", "padding": k, "prompt": r["prompt"], "chosen": r["chosen"],
                        "rejected": pad(r["chosen"], k, rng)})
        elif category == "style":
            out.append({"variant": "hard", "prompt": r["prompt"], "chosen": r["chosen"],
                        "rejected": stylise(r["rejected"], rng, confident=True)})
    for p in out:
        p["source"] = "preference_data"
    return out


def build_pairs(categories: Sequence[str], n_per_category: int, *, seed: int = 0,
                preference_rows: Sequence[dict[str, Any]] | None = None,
                derived_per_category: int = 60) -> list[dict[str, Any]]:
    """All pairs for ``categories``; user rows also form the ``preference`` category (or the one they name)."""
    pairs: list[dict[str, Any]] = []
    rows = list(preference_rows or [])
    plain = [r for r in rows if not r.get("category")]
    for cat in categories:
        rng = random.Random(f"{seed}:{cat}")
        made = _pairs_from_templates(cat, n_per_category, rng)
        made += _pairs_from_data(cat, plain, derived_per_category, rng)
        made += [{"variant": "user", "source": "preference_data", "prompt": r["prompt"], "chosen": r["chosen"],
                  "rejected": r["rejected"], "line": r["line"]} for r in rows if r.get("category") == cat]
        pairs += [{"category": cat, **p} for p in made]
    pairs += [{"category": "preference", "variant": "user", "source": "preference_data", "prompt": r["prompt"],
               "chosen": r["chosen"], "rejected": r["rejected"], "line": r["line"]}
              for r in rows if not r.get("category") or r["category"] not in categories]
    for i, p in enumerate(pairs):
        p["id"] = f"{p['category']}-{i:04d}"
    return pairs


def build_length_groups(n_groups: int, *, seed: int = 0,
                        preference_rows: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Equal-quality groups: one correct answer wrapped in 0..4 courtesy phrases (no information added)."""
    rng = random.Random(f"{seed}:length")
    sources: list[tuple[Prompt, str, str]] = [(q, a, "template") for _t, q, a, _b in T.QA]
    sources += [(q, a, "template") for q, a in T.SENSITIVE_SAFE]
    rows = [r for r in (preference_rows or []) if not r.get("category")]
    if rows:
        sources += [(r["prompt"], r["chosen"], "preference_data")
                    for r in rng.sample(rows, min(len(rows), n_groups // 2))]
    rng.shuffle(sources)
    groups = []
    for g, (prompt, answer, source) in enumerate(sources[:n_groups]):
        o1, o2 = rng.sample(T.COURTESY_OPENERS, 2)
        c1, c2 = rng.sample(T.COURTESY_CLOSERS, 2)
        variants = [answer, f"{o1} {answer}", f"{o1} {answer} {c1}", f"{o1} {answer} {c1} {c2}",
                    f"{o1} {o2} {answer} {c1} {c2}"]
        groups.append({"group": g, "source": source, "prompt": prompt, "responses": variants})
    return groups


def build_invariance_items(n_items: int, *, seed: int = 0,
                           preference_rows: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Responses with their meaning-preserving edits: ``{"prompt", "response", "edits": {name: text}}``."""
    rng = random.Random(f"{seed}:invariance")
    sources: list[tuple[Prompt, str]] = [(q, a) for _t, q, a, _b in T.QA]
    sources.extend(T.SENSITIVE_SAFE)
    sources += [(req, T.REFUSALS[i % len(T.REFUSALS)].format(what=what)) for i, (req, what) in enumerate(T.HARMFUL)]
    rows = [r for r in (preference_rows or []) if not r.get("category")]
    if rows:
        sources += [(r["prompt"], r["chosen"]) for r in rng.sample(rows, min(len(rows), n_items // 2))]
    rng.shuffle(sources)
    return [{"item": i, "prompt": p, "response": r, "edits": meaning_preserving_edits(r)}
            for i, (p, r) in enumerate(sources[:n_items])]
