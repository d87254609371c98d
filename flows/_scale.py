"""Scale-out of the flows: the task runner a flow run uses, and evaluation sharded into Prefect tasks.

A flow's task runner is chosen when the run starts (:func:`task_runner`, :func:`with_runner`):

* ``thread`` (the default): Prefect's ``ThreadPoolTaskRunner`` in the flow's own process;
* ``dask``: prefect-dask's ``DaskTaskRunner`` on a local cluster of ``workers`` single-threaded worker processes,
  or on the scheduler at ``address`` (``tcp://HOST:8786``);
* ``ray``: prefect-ray's ``RayTaskRunner`` on a local Ray instance with ``workers`` CPUs (or the instance this
  process already started), or the cluster at ``address`` (``ray://HOST:10001``).

Evaluation is sharded exactly: :func:`sharded_evaluation` computes the generation plan of the single-process run
(:func:`aligngate.generation.length_batches`: prompts chat-templated and sorted longest first into batches of
``spec.evaluation.batch_size``) and gives each task whole batches of it, so every batch a worker generates holds the
same prompts, padded the same way, as in the single-process run; the completions are put back in prompt order and
judged once, in the flow, as the single-process run does. Records and metrics therefore equal the single-process
run's (tests compare them under Dask and Ray). Tasks exchange plain data only (prompt strings, token ids, response
text): Dask and Ray carry them between processes; models are loaded by each worker from their directories through
:mod:`aligngate.modelio` (safetensors only) and kept for the worker's next shard.

A served model (``openai:...``) is not sharded: its server batches, and the client already keeps
``concurrency`` requests in flight.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from prefect import task

from aligngate.errors import InputError

if TYPE_CHECKING:
    from aligngate.evaluation.config import EvaluationConfig
    from aligngate.evaluation.runner import EvalResult
    from aligngate.evaluation.suites import Suite

__all__ = ["RUNNERS", "generate_shard", "plan_shards", "sharded_evaluation", "task_runner", "with_runner"]

RUNNERS = ("thread", "dask", "ray")
"""Task runners a flow run can use."""

_MODELS: dict[tuple[str, str | None, str | None], tuple[Any, Any]] = {}
_MODELS_LOCK = threading.Lock()


def task_runner(runner: str = "thread", *, workers: int = 2, address: str | None = None) -> Any:
    """The Prefect task runner named ``runner`` (see the module doc); an :class:`InputError` for another name."""
    if workers < 1:
        raise InputError(f"--workers must be >= 1, not {workers}")
    if runner == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    if runner == "ray":
        from prefect_ray import RayTaskRunner

        return RayTaskRunner(address=address, init_kwargs={"num_cpus": workers, "include_dashboard": False,
                                                           "log_to_driver": False})
    raise InputError(f"unknown task runner {runner!r} (one of {', '.join(RUNNERS)})")


def with_runner(flow: Any, runner: str = "thread", *, workers: int = 2, address: str | None = None) -> Any:
    """``flow`` with the task runner :func:`task_runner` names (call the result as the flow)."""
    return flow.with_options(task_runner=task_runner(runner, workers=workers, address=address))


def _loaded(model: str, adapter: str | None, device: str | None) -> tuple[Any, Any]:
    """The model and tokenizer, loaded once per worker process (a later shard of the same model reuses them)."""
    from aligngate.modelio import load_causal_lm

    key = (model, adapter, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS.clear()  # one model per worker at a time
            _MODELS[key] = load_causal_lm(model, adapter=adapter, merge=True, device=device)
        return _MODELS[key]


@task(persist_result=False, task_run_name="generate {model_name} shard {shard}")
def generate_shard(model: str, adapter: str | None, prompts: list[str], prefills: list[str], *, shard: int,
                   model_name: str, max_new_tokens: int, batch_size: int, prompt_format: str, backend: str,
                   decode: str, device: str | None, threads: int | None = None) -> dict[str, Any]:
    """Greedy completions of one shard (whole batches of the plan, in plan order) as plain dicts (``rows``), and
    the generation path used (``backend``, ``reason``)."""
    from aligngate.fastgen.api import choose_backend
    from aligngate.generation import generate_completions

    if threads:
        import torch

        torch.set_num_threads(threads)
    name = f"{model} with adapter {adapter}" if adapter else model
    lm, tok = _loaded(model, adapter, device)
    chosen, why = choose_backend(lm, backend, name=name)  # type: ignore[arg-type]
    done = generate_completions(lm, tok, prompts, prefills if any(prefills) else None,
                                max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False,
                                prompt_format=prompt_format,  # type: ignore[arg-type]
                                name=name, backend=chosen, decode=decode)  # type: ignore[arg-type]
    rows = [{"text": c.text, "continuation": c.continuation, "tokens": list(c.tokens), "budget": c.budget}
            for c in done]
    return {"backend": chosen, "reason": why, "rows": rows}


def plan_shards(model: str, prompts: list[str], prefills: list[str], *, batch_size: int, shards: int,
                prompt_format: str = "chat") -> list[list[int]]:
    """Prompt indices per shard: the single-process run's length-sorted batches
    (:func:`~aligngate.generation.length_batches`), whole batches per shard, split as evenly as batches allow."""
    from aligngate.generation import encode_prompts, length_batches
    from aligngate.modelio import load_tokenizer

    tok = load_tokenizer(model)
    encoded = [ids + (list(tok(pre, add_special_tokens=False)["input_ids"]) if pre else [])
               for ids, pre in zip(encode_prompts(tok, prompts, prompt_format=prompt_format),  # type: ignore[arg-type]
                                   prefills, strict=True)]
    batches = list(length_batches(encoded, batch_size))
    n = max(1, min(shards, len(batches)))
    per, extra = divmod(len(batches), n)
    out, start = [], 0
    for k in range(n):
        end = start + per + (1 if k < extra else 0)
        out.append([i for b in batches[start:end] for i in b])
        start = end
    return out


def sharded_evaluation(model: str, suites: list[Suite], cfg: EvaluationConfig, *, judge: Any,
                       judge_error: float = 0.0, adapter: str | None = None, shards: int = 2,
                       device: str | None = None, threads: int | None = None) -> EvalResult:
    """:func:`aligngate.evaluation.runner.evaluate_model` with generation sharded into :func:`generate_shard`
    tasks on the flow's task runner (see the module doc); equal to the single-process result."""
    import time

    from aligngate.evaluation.runner import evaluate_model, judge_completions
    from aligngate.generation import Completion
    from aligngate.served import is_endpoint

    if is_endpoint(model):
        return evaluate_model(model, suites, adapter=adapter, judge=judge, judge_error=judge_error,
                              max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size, progress=False,
                              device=device, prompt_format=cfg.prompt_format, backend=cfg.backend, decode=cfg.decode)
    t0 = time.perf_counter()
    prompts = [it.prompt for s in suites for it in s.items]
    prefills = [it.prefill for s in suites for it in s.items]
    plan = plan_shards(model, prompts, prefills, batch_size=cfg.batch_size, shards=shards,
                       prompt_format=cfg.prompt_format)
    name = os.path.basename(os.fspath(adapter or model).rstrip("/")) or model
    futures = [generate_shard.submit(model, adapter, [prompts[i] for i in idx], [prefills[i] for i in idx],
                                     shard=k, model_name=name, max_new_tokens=cfg.max_new_tokens,
                                     batch_size=cfg.batch_size, prompt_format=cfg.prompt_format,
                                     backend=cfg.backend, decode=cfg.decode, device=device, threads=threads)
               for k, idx in enumerate(plan)]
    done: list[Completion | None] = [None] * len(prompts)
    generation: dict[str, str] = {}
    for idx, fut in zip(plan, futures, strict=True):
        got = fut.result()
        rows = got["rows"]
        generation = {"backend": got["backend"], "reason": got["reason"],
                      **({"decode": cfg.decode} if got["backend"] == "static" else {})}
        if len(rows) != len(idx):
            raise InputError(f"shard of {name} returned {len(rows)} completions for {len(idx)} prompts")
        for i, row in zip(idx, rows, strict=True):
            done[i] = Completion(text=row["text"], continuation=row["continuation"], tokens=tuple(row["tokens"]),
                                 budget=int(row["budget"]))
    missing = [i for i, c in enumerate(done) if c is None]
    if missing:
        raise InputError(f"sharded evaluation of {name}: {len(missing)} prompts were in no shard")
    result = judge_completions(suites, [c for c in done if c is not None], judge, model=model, adapter=adapter,
                               judge_error=judge_error)
    result.generation = {**generation, "shards": str(len(plan))}
    result.seconds = time.perf_counter() - t0
    return result
