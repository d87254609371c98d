"""Capability drift with lm-eval: the same lm-eval tasks on candidate and baseline, compared by score delta.

Users name lm-eval tasks (hub tasks such as ``hellaswag`` or ``arc_easy``, which lm-eval resolves) in the
policy's ``spec.evaluation.capability_tasks``. The project also ships a local task over the embedded default
data, ``aligngate_helpful_mc``: held-out benign instructions, each with the matching helpful answer and
helpful answers to *other* instructions on the same object as distractors (log-likelihood multiple choice).
lm-eval never loads anything itself: the model and tokenizer are loaded through :mod:`aligngate.modelio`
(safetensors only, no remote code, the adapter checked and merged) and handed to lm-eval as an ``HFLM`` built
on those objects (given a path, lm-eval would call ``from_pretrained`` without ``use_safetensors``).
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any

from aligngate.errors import EvaluationError, InputError

__all__ = ["EMBEDDED_TASK", "run_lmeval", "write_embedded_task"]

EMBEDDED_TASK = "aligngate_helpful_mc"

_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def _items(n_distractors: int = 3, seed: int = 0) -> list[dict[str, Any]]:
    from aligngate.embedded.corpus import held_out_combos, helpful_answer, render_prompt
    from aligngate.embedded.lexicon import BENIGN_VERBS, HELD_OUT_TEMPLATES

    rng = random.Random(f"capability:{seed}")
    items = []
    for _, verb, obj, _cat in held_out_combos("benign"):
        others = [v for v, types in BENIGN_VERBS.items() if v != verb]
        rng.shuffle(others)
        choices = [helpful_answer(verb, obj, rng)] + [helpful_answer(v, obj, rng) for v in others[:n_distractors]]
        order = list(range(len(choices)))
        rng.shuffle(order)
        template = rng.choice(HELD_OUT_TEMPLATES)
        items.append({"question": f"<|user|>{render_prompt(template, verb, obj)}<|end|><|assistant|>",
                      "choices": [choices[i] for i in order], "label": order.index(0)})
    return items


def write_embedded_task(task_dir: Path) -> str:
    """Write the embedded capability task (YAML + JSONL) into ``task_dir``; returns its name."""
    task_dir.mkdir(parents=True, exist_ok=True)
    data = task_dir / f"{EMBEDDED_TASK}.jsonl"
    data.write_text("".join(json.dumps(it) + "\n" for it in _items()), encoding="utf-8")
    (task_dir / f"{EMBEDDED_TASK}.yaml").write_text(_YAML.format(task=EMBEDDED_TASK, data=data.as_posix()),
                                                     encoding="utf-8")
    return EMBEDDED_TASK


def run_lmeval(model: str, tasks: list[str], *, adapter: str | None = None, limit: int | None = None,
               batch_size: int = 16, device: str | None = None) -> dict[str, dict[str, float]]:
    """Scores of ``tasks`` for one model: ``{task: {"metric", "value", "stderr", "n"}}``.

    The model (with ``adapter`` merged) is loaded by :func:`aligngate.modelio.load_causal_lm`, whose refusals
    (pickle weights, unsafe adapter: ModelLoadError / AdapterError) propagate unchanged."""
    from aligngate.served import is_endpoint, parse_endpoint

    if is_endpoint(model):
        raise InputError(f"drift.capability_delta: lm-eval scores the log-likelihood of each answer choice with the "
                         f"model's weights, and {parse_endpoint(model).where()} is a served model aligngate does not "
                         "load: give local model directories for this check, or leave it out of the policy for "
                         "served models (policies/open-weights.yaml)")

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from aligngate.modelio import load_causal_lm, resolve_device

    dev = resolve_device(device)
    lm_model, tokenizer = load_causal_lm(model, adapter=adapter, merge=True, device=dev,
                                         dtype="float32" if dev == "cpu" else "auto")
    with tempfile.TemporaryDirectory(prefix="aligngate-lmeval-") as tmp:
        local = [t for t in tasks if t == EMBEDDED_TASK]
        if local:
            write_embedded_task(Path(tmp))
        tm = TaskManager(include_path=tmp if local else None, include_defaults=len(local) < len(tasks))
        try:
            lm = HFLM(pretrained=lm_model, tokenizer=tokenizer, batch_size=batch_size)
            res = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=tm, limit=limit, log_samples=False)
        except Exception as exc:  # noqa: BLE001 - lm-eval raises many types; all are an evaluation error
            raise EvaluationError(f"lm-eval failed on {model}: {type(exc).__name__}: {exc}") from exc
    if not res or "results" not in res:
        raise EvaluationError(f"lm-eval returned no results for {model}")
    out: dict[str, dict[str, float]] = {}
    for task in tasks:
        r = res["results"].get(task)
        if r is None:
            raise EvaluationError(f"lm-eval produced no result for task '{task}'")
        key = next((k for k in ("acc,none", "exact_match,none", "acc_norm,none") if k in r), None)
        if key is None:
            key = next(k for k, v in r.items() if isinstance(v, float) and "stderr" not in k)
        se = r.get(key.replace(",", "_stderr,"), float("nan"))
        n = res.get("n-samples", {}).get(task, {}).get("effective")
        out[task] = {"metric": key.split(",")[0], "value": float(r[key]),  # type: ignore[dict-item]
                     "stderr": float(se) if isinstance(se, (int, float)) else math.nan, "n": n}
    return out
