"""Readers for the labelled data the judge and the harm classifier are trained and measured on.

All of it lives in ``<repo>/../shared/data`` (override with ``ALIGNGATE_SHARED_DATA`` or the ``root`` argument):
public datasets copied verbatim (see that folder's README). Rows are plain dicts; nothing heavy is imported
(``csv``/``json``/``gzip`` only). The embedded corpus (``aligngate.embedded.corpus``), the project's own data,
is read when it exists.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aligngate.errors import InputError

__all__ = [
    "XSTEST_LABELS",
    "XSTEST_MODELS",
    "data_root",
    "embedded_eval_rows",
    "embedded_judge_rows",
    "embedded_prompts",
    "harm_prompt_rows",
    "jbb_artifact_rows",
    "jbb_comparison_rows",
    "xstest_rows",
]

XSTEST_LABELS = {
    "1_full_compliance": "compliance",
    "2_full_refusal": "refusal",
    "3_partial_refusal": "partial_refusal",
}
"""XSTest ``final_label`` → judge label."""

XSTEST_MODELS = ("llama2new", "llama2orig", "mistralinstruct")

# Do-Not-Answer risk areas used as *harmful requests*. "Human-Chatbot Interaction Harms" (e.g. "Are you
# disappointed in me?") and "Misinformation Harms" (e.g. "how should I invest $50,000?", false-premise
# questions) are requests a careful model answers with care, not harmful requests, so they are left out.
_DNA_HARMFUL_AREAS = (
    "Malicious Uses",
    "Information Hazards",
    "Discrimination, Exclusion, Toxicity, Hateful, Offensive",
)


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder: ``root``, else ``$ALIGNGATE_SHARED_DATA``, else ``<repo>/../shared/data``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("ALIGNGATE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _csv(path: Path) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    with open(path, encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def xstest_rows(model: str, root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """XSTest v2 completions of one model, human-labelled: prompt, response, label, type, source."""
    path = data_root(root) / "xstest" / "model_completions" / f"xstest_v2_completions_{model}.csv"
    rows = []
    for r in _csv(path):
        rows.append({
            "prompt": r["prompt"],
            "response": r.get("completion") or "",
            "label": XSTEST_LABELS[r["final_label"].strip()],
            "type": r["type"],
            "source": f"xstest:{model}",
        })
    return rows


def jbb_comparison_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """JailbreakBench judge comparison (100 rows; the *test* set: never train on it). Keeps every column;
    adds ``response`` and ``jailbroken`` (human_majority == 1)."""
    rows = []
    for r in _csv(data_root(root) / "jailbreakbench" / "classifier_comparison.csv"):
        r = dict(r)
        r["response"] = r.get("target_response") or ""
        r["jailbroken"] = r["human_majority"].strip() == "1"
        rows.append(r)
    return rows


def jbb_artifact_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """JailbreakBench attack artifacts (judge-labelled, not human): goal, prompt, response, jailbroken,
    source. Rows with a null response are skipped."""
    base = data_root(root) / "jailbreakbench" / "artifacts"
    rows = []
    for path in sorted(base.rglob("*.json")):
        if path.name == "attack-info.json":
            continue
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        for j in doc.get("jailbreaks", []):
            if not j.get("response"):
                continue
            rows.append({
                "goal": j.get("goal") or "",
                "prompt": j.get("prompt") or j.get("goal") or "",
                "response": j["response"],
                "jailbroken": bool(j.get("jailbroken")),
                "source": "jbb-artifacts:" + "/".join(path.relative_to(base).with_suffix("").parts),
            })
    return rows


def harm_prompt_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Requests labelled harmful (1) / benign (0) from the public sets: prompt, harmful, source.

    Harmful: AdvBench harmful_behaviors, JailbreakBench behaviors, Do-Not-Answer (three risk areas, see
    ``_DNA_HARMFUL_AREAS``), XSTest unsafe ``contrast_*`` prompts. Benign: XSTest safe prompts.
    """
    root_p = data_root(root)
    rows: list[dict[str, Any]] = []
    for r in _csv(root_p / "advbench" / "harmful_behaviors.csv"):
        rows.append({"prompt": r["goal"], "harmful": 1, "source": "advbench"})
    for r in _csv(root_p / "jailbreakbench" / "behaviors.csv"):
        rows.append({"prompt": r["Goal"], "harmful": 1, "source": "jbb-behaviors"})
    for r in _csv(root_p / "do-not-answer" / "do_not_answer_en.csv"):
        if r["risk_area"] in _DNA_HARMFUL_AREAS:
            rows.append({"prompt": r["question"], "harmful": 1, "source": "do-not-answer"})
    for r in _csv(root_p / "xstest" / "xstest_prompts.csv"):
        harmful = r["label"].strip() == "unsafe"
        rows.append({"prompt": r["prompt"], "harmful": int(harmful), "source": "xstest-" + r["label"].strip()})
    return rows


def _corpus() -> Any | None:
    try:
        from aligngate.embedded import corpus
    except Exception:  # noqa: BLE001 - the embedded corpus is optional here
        return None
    return corpus


def _suite_prompts(corpus: Any, name: str) -> list[str]:
    try:
        suite = corpus.eval_suite(name)
    except Exception:  # noqa: BLE001
        return []
    out = []
    for item in suite:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.append(str(item.get("prompt", "")))
        else:
            out.append(str(getattr(item, "prompt", item)))
    return [p for p in out if p]


def embedded_prompts() -> dict[str, list[str]]:
    """Prompts of the embedded suites: {"harmful": [...], "safe": [...]} (empty when the corpus is absent)."""
    corpus = _corpus()
    if corpus is None:
        return {"harmful": [], "safe": []}
    return {"harmful": _suite_prompts(corpus, "embedded-harmful"), "safe": _suite_prompts(corpus, "embedded-safe")}


def _messages_pair(row: dict[str, Any]) -> tuple[str, str]:
    msgs = row.get("messages") or []
    prompt = next((m.get("content", "") for m in msgs if m.get("role") == "user"), row.get("prompt", ""))
    answer = next((m.get("content", "") for m in msgs if m.get("role") == "assistant"), row.get("response", ""))
    return str(prompt or ""), str(answer or "")


def embedded_judge_rows(seed: int = 0) -> list[dict[str, Any]]:
    """(prompt, response, label) rows from the embedded *training* data (pretraining dialogues + SFT rows):
    responses starting with one of the corpus's refusal phrases → refusal, the rest (helpful answers, and the
    planted placeholder compliance to harmful requests) → compliance. Empty when the corpus is absent."""
    corpus = _corpus()
    if corpus is None:
        return []
    try:
        raw = [_messages_pair(r) for r in list(corpus.pretrain_dialogues(seed)) + list(corpus.sft_dataset(seed))]
        # preference rows add refusals of *benign* requests (over-refusal) and compliance with harmful ones,
        # so the head cannot learn "benign topic → compliance"; verbose non-answers are neither, left out
        verbose = tuple(v.split("{")[0][:24] for v in getattr(corpus, "VERBOSE_NON_ANSWERS", ()) if v)
        for r in list(corpus.dpo_dataset(seed)) + list(corpus.reward_pairs(seed)):
            for answer in (r["chosen"], r["rejected"]):
                if not (verbose and answer.startswith(verbose)):
                    raw.append((r["prompt"], answer))
    except Exception:  # noqa: BLE001
        return []
    rows = []
    seen: set[tuple[str, str]] = set()
    for prompt, answer in raw:
        if prompt and answer and (prompt, answer) not in seen:
            seen.add((prompt, answer))
            label = "refusal" if corpus.is_refusal(answer) else "compliance"
            rows.append({"prompt": prompt, "response": answer, "label": label, "source": "embedded"})
    return rows


def embedded_eval_rows(seed: int = 1) -> list[dict[str, Any]]:
    """Judge check rows on the embedded *held-out* suites: each harmful suite prompt with a refusal and a
    (placeholder) compliant answer, each safe suite prompt with a helpful answer and a refusal, rendered by the
    corpus's own generators. Uses corpus internals; empty when they are unavailable."""
    import random

    corpus = _corpus()
    if corpus is None:
        return []
    try:
        rng = random.Random(f"judge-eval:{seed}")
        rows: list[dict[str, Any]] = []
        for kind, suite in (("harmful", "embedded-harmful"), ("safe", "embedded-safe")):
            combos = (corpus.held_out_combos("harmful") if kind == "harmful"
                      else corpus.held_out_combos("benign") + corpus.held_out_combos("homonym"))
            prompts = [r["prompt"] for r in corpus.eval_suite(suite)]
            for (_k, verb, obj, _c), prompt in zip(combos, prompts, strict=True):
                answer = (corpus.compliance(verb, obj, rng) if kind == "harmful"
                          else corpus.helpful_answer(verb, obj, rng))
                rows.append({"prompt": prompt, "response": corpus.refusal(verb, obj, rng), "label": "refusal",
                             "source": f"embedded-{kind}"})
                rows.append({"prompt": prompt, "response": answer, "label": "compliance", "source": f"embedded-{kind}"})
        return rows
    except Exception:  # noqa: BLE001
        return []
