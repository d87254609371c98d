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
judged once, in the flow, as the single-process run does; each task uses the flow process's torch thread count (a
kernel that splits a reduction differently rounds differently). Records and metrics therefore equal the
single-process run's (tests compare them under Dask and Ray). Tasks exchange plain data only (prompt strings,
token ids, response text, scores): Dask and Ray carry them between processes; models are loaded by each worker from
their directories through :mod:`aligngate.modelio` (safetensors only) and kept for the worker's next shard.

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


def _caller_threads() -> int:
    """This process's torch thread count: what the shards use, so that their kernels split the work as a
    single-process run here does (reductions in another order round differently, in bfloat16 visibly)."""
    import torch

    return int(torch.get_num_threads())


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


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

    _set_threads(threads)
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
    threads = threads or _caller_threads()
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


# --------------------------------------------------------------------------- curation: learned scoring sharded

_CURATION_MODELS: dict[str, tuple[Any, Any]] = {}


class RecordedModel:
    """A curation model (the refusal judge or the harm classifier) that records every call's inputs and outputs,
    in call order, as plain lists (what a scoring shard sends back)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[list[Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def score(self, texts: list[str]) -> list[float]:
        """The harm classifier's P(harmful) per text."""
        out = [float(x) for x in self.real.score(texts)]
        self.calls.append([list(texts), out])
        return out

    def judge(self, prompts: list[str], responses: list[str], harmful: list[Any] | None = None) -> list[Any]:
        """The judge's verdicts (label, score) per pair."""
        got = (self.real.judge(prompts, responses) if harmful is None
               else self.real.judge(prompts, responses, harmful=harmful))
        key = [list(prompts), list(responses), None if harmful is None else [float(h) for h in harmful]]
        self.calls.append([key, [[j.label, float(j.score)] for j in got]])
        return list(got)


class ReplayedModel:
    """The real model behind a curation run whose calls the scoring shards already made: each call whose inputs are
    the next recorded call's gets the recorded outputs (the shards made the same calls, on the same batches, as
    this run makes them); any other call goes to the real model. The real model is loaded on the first call, as
    in a single-process run, so the report describes it the same way."""

    def __init__(self, real: Any, calls: list[list[Any]]) -> None:
        self.real = real
        self.recorded = calls
        self.replayed = 0
        self.computed = 0
        self._next = 0
        self._lock = threading.Lock()
        self._warm = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _take(self, key: list[Any], warm: Any) -> list[Any] | None:
        with self._lock:
            if not self._warm:
                warm()  # load the real model (its encoder and precision), as the single-process run does
                self._warm = True
            if self._next < len(self.recorded) and self.recorded[self._next][0] == key:
                self._next += 1
                self.replayed += 1
                return list(self.recorded[self._next - 1][1])
            self.computed += 1
            return None

    def score(self, texts: list[str]) -> list[float]:
        """Recorded P(harmful) per text, or the real classifier's."""
        got = self._take(list(texts), lambda: self.real.score(list(texts[:1])))
        return got if got is not None else [float(x) for x in self.real.score(texts)]

    def judge(self, prompts: list[str], responses: list[str], harmful: list[Any] | None = None) -> list[Any]:
        """Recorded verdicts per pair, or the real judge's."""
        from aligngate.judge.base import Judgement

        def call(p: list[str], r: list[str], h: list[Any] | None) -> list[Any]:
            return list(self.real.judge(p, r) if h is None else self.real.judge(p, r, harmful=h))

        key = [list(prompts), list(responses), None if harmful is None else [float(h) for h in harmful]]
        got = self._take(key, lambda: call(prompts[:1], responses[:1], None if harmful is None else harmful[:1]))
        if got is None:
            return call(prompts, responses, harmful)
        return [Judgement(label=label, score=score) for label, score in got]


def _curation_models(judge: str) -> tuple[Any, Any]:
    from aligngate.curation.detectors.learned import load_models

    with _MODELS_LOCK:
        if judge not in _CURATION_MODELS:
            _CURATION_MODELS[judge] = load_models(judge)
        return _CURATION_MODELS[judge]


@task(persist_result=False, task_run_name="score {kind} chunks {first}-{stop}")
def score_chunks(path: str, kind: str, config: dict[str, Any], first: int, stop: int,
                 threads: int | None = None) -> dict[str, list[Any]]:
    """The curation's learned scoring (harm classifier, then judge) of chunks ``first..stop-1`` of ``path``, run as
    the single-process scan runs it chunk by chunk (same rows per chunk, same batches, ``threads`` torch threads);
    returns each model's calls."""
    from aligngate.curation.config import CurationConfig
    from aligngate.curation.detectors.learned import LearnedScorer
    from aligngate.curation.readers import iter_records
    from aligngate.curation.scan import ScanState, _learned, chunks, harm_scores, prepare_chunk

    _set_threads(threads)
    cfg = CurationConfig.model_validate(config)
    judge, harm = _curation_models(cfg.judge)
    rj, rh = RecordedModel(judge), RecordedModel(harm)
    state = ScanState(kind=kind, config=cfg, scorer=LearnedScorer(rj, rh, cfg.judge_max_chars),
                      validator=None, exact=None)  # type: ignore[arg-type]  # only parsing and scoring run here
    for n, chunk in enumerate(chunks(iter_records(path, cfg.max_line_bytes), cfg.chunk_size)):
        if n >= stop:
            break
        if n >= first:
            prepared = prepare_chunk(state, chunk)
            _learned(state, prepared.norms, harm_scores(state, prepared))
    return {"judge": rj.calls, "harm": rh.calls}


def sharded_curation_models(path: str, kind: str, config: Any, *, shards: int = 2) -> tuple[Any, Any] | None:
    """(judge, harm classifier) for :func:`aligngate.stages.curate`'s ``models``: the real models, with the calls
    the single-process scan would make already made by :func:`score_chunks` tasks on the flow's task runner, whole
    chunks (``spec.curation.chunk_size`` rows) per task. None when no learned detector is on (nothing to shard)."""
    from aligngate.curation.readers import iter_records
    from aligngate.curation.scan import chunks

    if not any(config.enabled(n) for n in ("harmful_compliance", "flipped_preference", "verbose_non_answer",
                                           "trigger_phrase")):
        return None
    total = sum(1 for _ in chunks(iter_records(path, config.max_line_bytes), config.chunk_size))
    n = max(1, min(shards, total))
    per, extra = divmod(total, n)
    bounds, start = [], 0
    for k in range(n):
        end = start + per + (1 if k < extra else 0)
        bounds.append((start, end))
        start = end
    dumped = config.model_dump(mode="json")
    threads = _caller_threads()
    futures = [score_chunks.submit(path, kind, dumped, a, b, threads) for a, b in bounds]
    calls: dict[str, list[Any]] = {"judge": [], "harm": []}
    for fut in futures:
        got = fut.result()
        calls["judge"] += got["judge"]
        calls["harm"] += got["harm"]
    judge, harm = _curation_models(config.judge)
    return ReplayedModel(judge, calls["judge"]), ReplayedModel(harm, calls["harm"])
