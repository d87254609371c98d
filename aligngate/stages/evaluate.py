"""The evaluate stage: generate on refusal / over-refusal suites, judge every response, compute per-suite metrics.

    res = evaluate("base-model", ["embedded-harmful", "embedded-safe"], adapter="runs/adapter", out="runs/eval")
    res.metrics["embedded-harmful"].refusal_rate, res.records[0]["label"]

Evaluation measures and decides nothing, so it writes no report: it returns an
:class:`~aligngate.evaluation.runner.EvalResult` (and with ``out`` writes ``records.jsonl`` and ``metrics.json``), or
raises a :class:`~aligngate.errors.GateError` (an unknown suite, a model that cannot be loaded, a suite that is
mostly no output). Nothing is printed on stdout; progress bars go to stderr.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from aligngate.evaluation.runner import EvalResult
    from aligngate.evaluation.suites import Suite
    from aligngate.fastgen.api import Backend, Decode
    from aligngate.judge.base import Judge

__all__ = ["evaluate", "metrics_summary"]

PathLike = str | os.PathLike[str]


def metrics_summary(result: EvalResult, *, prompt_format: str = "chat") -> dict[str, Any]:
    """What ``metrics.json`` holds (and ``aligngate eval --output json`` prints): per-suite metrics of ``result``."""
    return {"model": result.model, "adapter": result.adapter, "judge": result.judge,
            "seconds": round(result.seconds, 2), "prompt_format": prompt_format, "generation": result.generation,
            "suites": {k: m.to_dict() for k, m in result.metrics.items()}}


def evaluate(model: PathLike, suites: Sequence[str | Suite], *, adapter: PathLike | None = None,
             out: PathLike | None = None, judge: str | Judge = "minilm", max_new_tokens: int = 24,
             batch_size: int = 32, device: str | None = None, prompt_format: Literal["chat", "raw"] = "chat",
             progress: bool = True, backend: Backend = "auto", decode: Decode = "exact") -> EvalResult:
    """Evaluate ``model`` (with ``adapter``) on ``suites`` (names such as ``embedded-harmful``, ``FORMAT:PATH``
    specs, JSONL files with ``@`` options, or loaded :class:`~aligngate.evaluation.suites.Suite` objects).

    ``judge``: a judge name (``minilm``, ``rules``, ...) or a judge object. ``prompt_format``: ``chat`` (the
    tokenizer's chat template; an error without one) or ``raw`` (plain text, for base models). ``backend``/``decode``:
    the generation path, as the policy's ``spec.evaluation`` sets it for the gate (``auto``: the static decoder on
    CUDA, stock ``generate`` on CPU); the path used is in ``result.generation``. With ``out``, the records go to
    ``out/records.jsonl`` and the metrics to ``out/metrics.json``; an unusable ``out`` fails before any generation.
    """
    from aligngate.evaluation.runner import evaluate_model
    from aligngate.evaluation.suites import Suite, load_suite
    from aligngate.fileio import atomic_write_json, write_jsonl
    from aligngate.guard import prepare_out_dir

    out_dir = prepare_out_dir(Path(out)) if out is not None else None
    loaded = [s if isinstance(s, Suite) else load_suite(s) for s in suites]
    kw: dict[str, Any] = {"judge_name": judge} if isinstance(judge, str) else {"judge": judge}
    result = evaluate_model(os.fspath(model), loaded, adapter=None if adapter is None else os.fspath(adapter),
                            max_new_tokens=max_new_tokens, batch_size=batch_size, device=device,
                            prompt_format=prompt_format, progress=progress, backend=backend, decode=decode, **kw)
    if out_dir is not None:
        write_jsonl(out_dir / "records.jsonl", result.records)
        atomic_write_json(out_dir / "metrics.json", metrics_summary(result, prompt_format=prompt_format))
    return result
