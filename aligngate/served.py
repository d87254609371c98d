"""Served models: generate through an OpenAI-compatible endpoint (vLLM, TGI, SGLang, llama.cpp, ollama,
``transformers serve``) wherever a ``MODEL`` is only generated from (eval, gate, the re-gate flow).

A served model is written with the same spec syntax as ``--judge``::

    openai:base_url=http://HOST:PORT/v1,model=NAME[,api_key_env=VAR][,concurrency=8][,timeout=60][,max_retries=4]
          [,serves_adapter=true][,continue_final_message=true]

``serves_adapter=true`` states that the endpoint already serves the candidate *with* the ``--adapter`` given
(merged weights, or vLLM ``--lora-modules``): aligngate audits the adapter's files and generates through the
endpoint as it is. Without it, an adapter given with a served model is an input error: aligngate cannot apply a
LoRA adapter to a model it does not load. ``continue_final_message=true`` states that the server continues a final
assistant message (vLLM, SGLang), which prefill probes (``@prefill`` suites) need; without it they are an input error
naming the endpoint.

The key is read from the environment variable named by ``api_key_env`` when a request is sent; it is never stored
in a report, logged or shown (:meth:`Endpoint.describe` leaves it out). Requests go to ``POST /chat/completions``
with one user turn, ``temperature: 0`` and ``max_tokens``: the server applies its own chat template. At most
``concurrency`` requests are in flight; a 429 or 5xx answer, a dropped connection or a timeout is retried with
exponential backoff (``max_retries`` times); anything else -- a server that is down, dies mid-run, answers
malformed JSON or an unexpected shape -- raises :class:`~aligngate.errors.EvaluationError` naming the endpoint,
so the check that needed it ends in ``error`` and the gate blocks (exit 2): never a partial pass.

Token log-probabilities (KL drift) are asked for with ``logprobs``/``top_logprobs``; a server that does not return
them raises :class:`LogprobsUnavailable`, and the check reports ``skipped`` with the reason.
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aligngate.errors import EvaluationError, InputError

__all__ = ["PREFIX", "Completion", "Endpoint", "EndpointClient", "LogprobsUnavailable", "is_endpoint",
           "parse_endpoint"]

log = logging.getLogger(__name__)

PREFIX = "openai:"
"""What marks a ``MODEL`` as a served endpoint."""

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LogprobsUnavailable(EvaluationError):
    """The endpoint does not return token log-probabilities (checks that need them are skipped)."""


def is_endpoint(model: str | os.PathLike[str] | None) -> bool:
    """Whether ``model`` names a served endpoint (``openai:...``) rather than a directory or hub id."""
    return isinstance(model, str) and model.startswith(PREFIX)


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint serving one model."""

    base_url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 4
    backoff: float = 0.5
    """First retry delay in seconds (doubled each time, with jitter)."""
    serves_adapter: bool = False
    """The endpoint already serves the candidate with its ``--adapter`` applied (see the module doc)."""
    continue_final_message: bool = False
    """The server continues a final assistant message (vLLM / SGLang ``continue_final_message``): prefill probes
    (``@prefill`` suites) can run on it."""

    @property
    def spec(self) -> str:
        """The spec string, without the key (what reports and messages show)."""
        extra = f",api_key_env={self.api_key_env}" if self.api_key_env else ""
        extra += ",serves_adapter=true" if self.serves_adapter else ""
        extra += ",continue_final_message=true" if self.continue_final_message else ""
        return f"{PREFIX}base_url={self.base_url},model={self.model}{extra}"

    def describe(self) -> dict[str, Any]:
        """What a report records about the endpoint: never the key."""
        return {"endpoint": self.base_url, "model": self.model, "api_key_env": self.api_key_env,
                "serves_adapter": self.serves_adapter, "continue_final_message": self.continue_final_message}

    def where(self) -> str:
        """How messages name the endpoint: ``endpoint URL (model NAME)``."""
        return f"endpoint {self.base_url} (model {self.model})"


def parse_endpoint(spec: str) -> Endpoint:
    """Parse ``openai:base_url=...,model=...[,...]``; an :class:`InputError` names what is wrong."""
    if not is_endpoint(spec):
        raise InputError(f"not a served-model spec (expected '{PREFIX}base_url=...,model=...'): {spec!r}")
    opts: dict[str, str] = {}
    for part in spec[len(PREFIX):].split(","):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise InputError(f"served-model option {part!r} is not key=value (in {spec!r})")
        opts[key.strip()] = value.strip()
    unknown = set(opts) - {"base_url", "model", "api_key_env", "concurrency", "timeout", "max_retries", "backoff",
                           "serves_adapter", "continue_final_message"}
    if unknown:
        raise InputError(f"unknown served-model option(s) {sorted(unknown)} in {spec!r}")
    for key in ("base_url", "model"):
        if not opts.get(key):
            raise InputError(f"served-model spec {spec!r} needs {key}=...")
    if not opts["base_url"].startswith(("http://", "https://")):
        raise InputError(f"served-model base_url must start with http:// or https://, not {opts['base_url']!r}")
    flags = {}
    for key in ("serves_adapter", "continue_final_message"):
        flag = opts.get(key, "false").lower()
        if flag not in ("true", "false", "yes", "no", "1", "0"):
            raise InputError(f"served-model option {key} must be true or false, not {flag!r} (in {spec!r})")
        flags[key] = flag in ("true", "yes", "1")
    try:
        ep = Endpoint(base_url=opts["base_url"].rstrip("/"), model=opts["model"],
                      api_key_env=opts.get("api_key_env") or None,
                      concurrency=int(opts.get("concurrency", 8)), timeout=float(opts.get("timeout", 60)),
                      max_retries=int(opts.get("max_retries", 4)), backoff=float(opts.get("backoff", 0.5)),
                      **flags)
    except ValueError as exc:
        raise InputError(f"bad number in served-model spec {spec!r}: {exc}") from None
    if ep.concurrency < 1 or ep.max_retries < 0 or not (math.isfinite(ep.timeout) and ep.timeout > 0):
        raise InputError(f"served-model spec {spec!r}: concurrency >= 1, max_retries >= 0 and timeout > 0")
    return ep


@dataclass
class Completion:
    """One generated response."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int | None = None
    logprobs: list[dict[str, float]] | None = None
    """Per generated token: ``{token: logprob}`` of the returned top alternatives (chosen token included)."""
    served_model: str | None = None


@dataclass
class EndpointClient:
    """Generate through an :class:`Endpoint` (see the module doc). ``transport``: an httpx transport (tests)."""

    endpoint: Endpoint
    transport: Any = None
    served_model: str | None = None
    """The model id the server reports (``model`` of its answers), recorded in reports."""
    requests: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _client(self) -> Any:
        import httpx

        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key_env:
            key = os.environ.get(self.endpoint.api_key_env)
            if not key:
                raise InputError(f"served model {self.endpoint.spec}: environment variable "
                                 f"{self.endpoint.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=self.endpoint.concurrency,
                              max_keepalive_connections=self.endpoint.concurrency)
        return httpx.Client(base_url=self.endpoint.base_url, headers=headers, timeout=self.endpoint.timeout,
                            limits=limits, transport=self.transport)

    def _where(self) -> str:
        return self.endpoint.where()

    def _post(self, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        delay = self.endpoint.backoff
        last = ""
        for attempt in range(self.endpoint.max_retries + 1):
            if attempt:
                with self._lock:
                    self.retries += 1
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not cryptography
                delay *= 2
            try:
                r = client.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.endpoint.timeout:g} s"
                continue
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
                continue
            with self._lock:
                self.requests += 1
            if r.status_code in _RETRY_STATUS:
                last = f"HTTP {r.status_code}"
                continue
            if r.status_code >= 400:
                raise EvaluationError(f"{self._where()}: HTTP {r.status_code}: {r.text[:300]}")
            try:
                data = r.json()
            except ValueError:
                raise EvaluationError(f"{self._where()}: malformed answer (not JSON): {r.text[:200]!r}") from None
            if not isinstance(data, dict):
                raise EvaluationError(f"{self._where()}: malformed answer (not a JSON object): {r.text[:200]!r}")
            return data
        raise EvaluationError(f"{self._where()}: request failed after {self.endpoint.max_retries + 1} attempt(s): "
                              f"{last} (is the server up?)")

    def _parse(self, data: dict[str, Any], want_logprobs: bool) -> Completion:
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise EvaluationError(f"{self._where()}: malformed answer (no choices[0].message.content): "
                                  f"{str(data)[:200]}") from None
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise EvaluationError(f"{self._where()}: malformed answer (content is {type(content).__name__})")
        served = data.get("model") if isinstance(data.get("model"), str) else None
        raw_usage = data.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        tokens = usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"), int) else None
        logprobs = None
        if want_logprobs:
            content_lp = ((choice.get("logprobs") or {}) if isinstance(choice, dict) else {}).get("content")
            if not content_lp:
                raise LogprobsUnavailable(f"{self._where()} returned no token log-probabilities (logprobs)")
            try:
                logprobs = [{str(alt["token"]): float(alt["logprob"]) for alt in tok.get("top_logprobs") or [tok]}
                            for tok in content_lp]
            except (KeyError, TypeError, ValueError):
                raise EvaluationError(f"{self._where()}: malformed logprobs") from None
        return Completion(text=content, finish_reason=choice.get("finish_reason"), completion_tokens=tokens,
                          logprobs=logprobs, served_model=served)

    def complete(self, prompts: Sequence[str], *, max_new_tokens: int, top_logprobs: int = 0,
                 progress: bool = False, desc: str = "generate (served)",
                 prefills: Sequence[str] | None = None) -> list[Completion]:
        """One greedy completion per prompt, in input order (requests run ``concurrency`` at a time).

        ``prefills[i]`` (prefill probes) is sent as a final assistant message the server continues (vLLM / SGLang
        ``continue_final_message``); only for an endpoint whose spec says ``continue_final_message=true``, since a
        server without that extension would answer a new turn instead (an :class:`InputError` otherwise). The
        returned text is then the continuation alone."""
        from tqdm.auto import tqdm

        if not prompts:
            return []
        want = top_logprobs > 0
        pres = list(prefills) if prefills is not None else [""] * len(prompts)
        if any(pres) and not self.endpoint.continue_final_message:
            raise InputError(f"{self._where()}: prefill probes need a server that continues a final assistant "
                             "message (vLLM, SGLang: add continue_final_message=true to the spec)")

        def body(prompt: str, prefill: str) -> dict[str, Any]:
            b: dict[str, Any] = {"model": self.endpoint.model, "temperature": 0, "max_tokens": max_new_tokens,
                                 "messages": [{"role": "user", "content": prompt}], "stream": False}
            if prefill:
                b["messages"].append({"role": "assistant", "content": prefill})
                b.update(continue_final_message=True, add_generation_prompt=False)
            if want:
                b.update(logprobs=True, top_logprobs=top_logprobs)
            return b

        out: list[Completion | None] = [None] * len(prompts)
        with self._client() as client, tqdm(total=len(prompts), desc=desc, file=sys.stderr, disable=not progress,
                                            leave=False) as bar, \
                ThreadPoolExecutor(max_workers=self.endpoint.concurrency, thread_name_prefix="aligngate-served") \
                as pool:
            futures = {pool.submit(self._post, client, body(p, pre)): i
                       for i, (p, pre) in enumerate(zip(prompts, pres, strict=True))}
            try:
                for fut in futures:
                    i = futures[fut]
                    out[i] = self._parse(fut.result(), want)
                    bar.update(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        done = [c for c in out if c is not None]
        served = {c.served_model for c in done if c.served_model}
        if len(served) > 1:
            raise EvaluationError(f"{self._where()}: answers came from several models {sorted(served)}")
        self.served_model = next(iter(served), self.served_model)
        return done

    def describe(self) -> dict[str, Any]:
        """The endpoint, the model asked for and the model the server says answered (no key)."""
        return {**self.endpoint.describe(), "served_model": self.served_model, "requests": self.requests,
                "retries": self.retries}
