"""Drift of a candidate against its baseline on identical prompts.

* Behaviour: paired refusal outcomes per prompt → delta of refusal rate with a paired bootstrap interval,
  the exact McNemar p-value, and the list of flipped prompts (refused before, complies now, and reverse).
  A ``no_output`` record counts against its model as in the suite metrics
  (:func:`~aligngate.evaluation.runner.counts_as_refused`): not refused on must-refuse prompts, not answered
  (counted with the refusals) on must-answer prompts. The records are the evaluation's own
  (:class:`~aligngate.evaluation.records.SampleRecord`), so behaviour drift is generated on the same path as the
  evaluation (``spec.evaluation.backend``).
* Distribution: mean per-token KL(baseline ‖ candidate) and Jensen-Shannon divergence of the next-token
  distributions along the baseline's own greedy continuation of a fixed prompt set (teacher forced), so
  both models are compared on exactly the same token positions. Non-finite logits of either model, or a
  non-finite divergence, raise :class:`~aligngate.errors.EvaluationError`. KL reads logits, so it always runs
  on the model's own forward (stock ``generate`` for the baseline's continuations, teacher-forced forwards for
  the log-probs), whatever the generation backend.
* Served models (:mod:`aligngate.served`): a server gives no logits and cannot be teacher forced, so
  :func:`served_distribution_drift` reads the top-k log-probabilities both endpoints return along their own
  greedy continuations, on the positions where the two continuations still agree (same context), and compares the
  two distributions restricted to the union of their top-k tokens (a token one side did not return gets that
  side's smallest returned probability, an upper bound), renormalised: an approximation, recorded as
  ``method: served-top-k``. A server that returns no log-probabilities, or a served model compared with a local
  one, raises :class:`~aligngate.checks.types.NotMeasurable`: the check is ``skipped`` with the reason, never passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import EvaluationError

if TYPE_CHECKING:
    from aligngate.generation import PromptFormat
from aligngate.evaluation.records import SampleRecord
from aligngate.evaluation.runner import EvalResult, counts_as_refused

__all__ = ["distribution_drift", "paired_refusal_drift", "served_distribution_drift"]


def _refused(rec: SampleRecord, suite: str) -> bool:
    if rec.get("expect") not in ("refuse", "comply"):
        raise EvaluationError(f"drift: record '{rec.get('id')}' of suite '{suite}' has no expect (refuse/comply)")
    return counts_as_refused(rec["label"], rec["expect"])


def paired_refusal_drift(baseline: EvalResult, candidate: EvalResult, suite: str, *, seed: int = 0,
                         max_listed: int = 50) -> dict[str, Any]:
    """Refusal-rate change on ``suite`` with a paired test; lists flipped prompts.

    "Refused" is :func:`~aligngate.evaluation.runner.counts_as_refused` of each record: on must-answer suites
    it includes ``no_output`` (not answered), on must-refuse suites it excludes it.
    """
    from aligngate.stats import mcnemar, paired_bootstrap_delta, require_finite

    base: dict[str, SampleRecord] = {r["id"]: r for r in baseline.by_suite(suite)}
    cand: dict[str, SampleRecord] = {r["id"]: r for r in candidate.by_suite(suite)}
    ids = [i for i in base if i in cand]
    if not ids:
        raise EvaluationError(f"drift: suite '{suite}' has no prompts in common between baseline and candidate")
    b = [_refused(base[i], suite) for i in ids]
    c = [_refused(cand[i], suite) for i in ids]
    test = mcnemar(b, c)
    delta, ci = paired_bootstrap_delta([float(x) for x in b], [float(x) for x in c], seed=seed)
    what = f"drift on suite '{suite}' ({baseline.model} -> {candidate.model})"
    delta = require_finite(delta, f"refusal-rate delta of {what}")
    ci = (require_finite(ci[0], f"ci95 of {what}"), require_finite(ci[1], f"ci95 of {what}"))
    lost = [{"id": i, "prompt": base[i]["prompt"], "baseline": base[i]["response"], "candidate": cand[i]["response"]}
            for i, x, y in zip(ids, b, c, strict=True) if x and not y]
    gained = [{"id": i, "prompt": base[i]["prompt"], "baseline": base[i]["response"], "candidate": cand[i]["response"]}
              for i, x, y in zip(ids, b, c, strict=True) if y and not x]
    bl = sum(len(base[i]["response"]) for i in ids) / len(ids)
    cl = sum(len(cand[i]["response"]) for i in ids) / len(ids)
    if bl == 0:
        raise EvaluationError(f"{what}: every baseline response is empty, so the length ratio is undefined")
    return {"suite": suite, "n": len(ids), "baseline_rate": sum(b) / len(ids), "candidate_rate": sum(c) / len(ids),
            "delta": delta, "ci95": list(ci), "p_value": test["p_value"], "refused_to_complied": test["b"],
            "complied_to_refused": test["c"], "flipped_refused_to_complied": lost[:max_listed],
            "flipped_complied_to_refused": gained[:max_listed],
            "no_output_baseline": sum(base[i]["label"] == "no_output" for i in ids),
            "no_output_candidate": sum(cand[i]["label"] == "no_output" for i in ids),
            "mean_chars_baseline": bl, "mean_chars_candidate": cl, "length_ratio": cl / bl}


def _continuations(model: Any, tok: Any, prompts: list[str], n_tokens: int, batch_size: int,
                   prompt_format: PromptFormat = "chat", name: str | None = None) -> list[list[int]]:
    """Prompt ids + the model's greedy continuation (up to ``n_tokens``), per prompt."""
    import torch

    from aligngate.generation import (
        encode_prompts,
        guarded_generate,
        left_pad,
        model_name,
        pad_token_id,
        raise_if_nonfinite,
        stop_token_ids,
    )

    enc = encode_prompts(tok, prompts, prompt_format=prompt_format)
    stops, pad = stop_token_ids(model, tok), pad_token_id(tok)
    out: list[list[int]] = []
    dev = next(model.parameters()).device
    bad = 0
    with torch.inference_mode():
        for s in range(0, len(enc), batch_size):
            chunk = enc[s:s + batch_size]
            ids, mask = left_pad(chunk, pad, dev)
            gen, flags = guarded_generate(model, ids, mask, max_new_tokens=n_tokens, stops=stops, pad_id=pad)
            bad += sum(flags)
            for row, p in enumerate(chunk):
                new = gen[row, ids.shape[1]:].tolist()
                cut = next((k + 1 for k, t in enumerate(new) if t in stops), len(new))
                out.append(p + new[:cut])
    raise_if_nonfinite(name or model_name(model), bad, len(enc))
    return out


def _logprobs(model: Any, seqs: list[list[int]], starts: list[int], pad: int, batch_size: int,
              name: str | None = None) -> list[Any]:
    """Log-softmax rows predicting each continuation token of every sequence (float32, CPU).

    Raises :class:`EvaluationError` when any of those rows' logits are not finite.
    """
    import torch

    from aligngate.generation import left_pad, model_name, nonfinite_rows, raise_if_nonfinite

    dev = next(model.parameters()).device
    rows: list[Any] = []
    bad = 0
    with torch.inference_mode():
        for s in range(0, len(seqs), batch_size):
            chunk = seqs[s:s + batch_size]
            ids, mask = left_pad(chunk, pad, dev)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
            width = ids.shape[1]
            for row, seq in enumerate(chunk):
                off = width - len(seq)
                a, b = off + starts[s + row] - 1, off + len(seq) - 1
                sl = logits[row, a:b]
                bad += bool(nonfinite_rows(sl).any())
                rows.append(torch.log_softmax(sl.float(), dim=-1).cpu())
    raise_if_nonfinite(name or model_name(model), bad, len(seqs))
    return rows


def distribution_drift(baseline: str | Path, candidate: str | Path, prompts: list[str], *,
                       adapter: str | Path | None = None, n_tokens: int = 16, batch_size: int = 16,
                       device: str | None = None, prompt_format: PromptFormat = "chat") -> dict[str, Any]:
    """Mean per-token KL(baseline ‖ candidate) and JS divergence along the baseline's greedy continuations.

    ``prompt_format`` as in :func:`~aligngate.generation.encode_prompts` (``chat`` or ``raw``).
    """
    from aligngate.generation import encode_prompts, pad_token_id
    from aligngate.modelio import load_causal_lm

    if not prompts:
        raise EvaluationError("drift: the KL prompt set is empty")
    base_name = str(baseline)
    cand_name = f"{candidate} with adapter {adapter}" if adapter else str(candidate)
    base_lm, tok = load_causal_lm(str(baseline), device=device)
    seqs = _continuations(base_lm, tok, prompts, n_tokens, batch_size, prompt_format, base_name)
    starts = [len(p) for p in encode_prompts(tok, prompts, prompt_format=prompt_format)]
    seqs = [s if len(s) > st else s + [tok.eos_token_id or 0] for s, st in zip(seqs, starts, strict=True)]
    pad = pad_token_id(tok)
    p_rows = _logprobs(base_lm, seqs, starts, pad, batch_size, base_name)
    del base_lm
    cand_lm, cand_tok = load_causal_lm(str(candidate), adapter=str(adapter) if adapter else None, device=device)
    if cand_tok.get_vocab() != tok.get_vocab():
        raise EvaluationError("drift: candidate and baseline tokenizers differ; KL over tokens is undefined")
    q_rows = _logprobs(cand_lm, seqs, starts, pad, batch_size, cand_name)
    return _divergences(p_rows, q_rows, f"{base_name} -> {cand_name}")


def _divergences(p_rows: list[Any], q_rows: list[Any], what: str) -> dict[str, Any]:
    """Mean per-token KL(p ‖ q) and JS from per-prompt log-prob rows; non-finite results raise."""
    import torch

    from aligngate.stats import require_finite

    kls, jss = [], []
    for lp, lq in zip(p_rows, q_rows, strict=True):
        p = lp.exp()
        kls.append((p * (lp - lq)).sum(-1))
        m = torch.logsumexp(torch.stack([lp, lq]), dim=0) - torch.log(torch.tensor(2.0))
        jss.append(0.5 * (p * (lp - m)).sum(-1) + 0.5 * (lq.exp() * (lq - m)).sum(-1))
    per_prompt_kl = [float(k.mean()) for k in kls]
    all_kl = torch.cat(kls)
    all_js = torch.cat(jss)
    mean_kl = require_finite(float(all_kl.mean()), f"drift.kl_mean input: mean KL(baseline ‖ candidate) of {what}")
    mean_js = require_finite(float(all_js.mean()), f"drift.kl_mean input: mean JS divergence of {what}")
    max_kl = require_finite(max(per_prompt_kl), f"drift.kl_mean input: max per-prompt KL of {what}")
    return {"n_prompts": len(p_rows), "n_tokens": int(all_kl.numel()), "mean_kl": mean_kl, "mean_js": mean_js,
            "max_prompt_kl": max_kl, "per_prompt_kl": [round(x, 6) for x in per_prompt_kl]}


def _topk_divergence(p: dict[str, float], q: dict[str, float]) -> tuple[float, float]:
    """KL(p ‖ q) and JS of two top-k log-probability maps over the union of their tokens (see the module doc)."""
    import math

    if not p or not q:
        raise EvaluationError("drift: a served model returned an empty top_logprobs list")
    support = sorted(set(p) | set(q))
    fp, fq = min(p.values()), min(q.values())
    lp = [p.get(t, fp) for t in support]
    lq = [q.get(t, fq) for t in support]

    def norm(v: list[float]) -> list[float]:
        m = max(v)
        z = m + math.log(sum(math.exp(x - m) for x in v))
        return [math.exp(x - z) for x in v]

    pp, qq = norm(lp), norm(lq)
    kl = sum(a * math.log(a / b) for a, b in zip(pp, qq, strict=True) if a > 0)
    mid = [(a + b) / 2 for a, b in zip(pp, qq, strict=True)]
    js = 0.5 * sum(a * math.log(a / m) for a, m in zip(pp, mid, strict=True) if a > 0) \
        + 0.5 * sum(b * math.log(b / m) for b, m in zip(qq, mid, strict=True) if b > 0)
    return max(kl, 0.0), max(js, 0.0)


def served_distribution_drift(baseline: str, candidate: str, prompts: list[str], *, adapter: str | None = None,
                              n_tokens: int = 16, top_k: int = 20) -> dict[str, Any]:
    """Approximate mean per-token KL(baseline ‖ candidate) and JS from the top-``top_k`` log-probabilities two
    served models return (see the module doc); the same keys as :func:`distribution_drift` plus ``method``.

    Raises :class:`~aligngate.checks.types.NotMeasurable` when one model is local and the other served, or when a
    server returns no log-probabilities; :class:`EvaluationError` for a server that fails (naming it) or a
    non-finite result."""
    from aligngate.checks.types import NotMeasurable
    from aligngate.errors import InputError
    from aligngate.served import EndpointClient, LogprobsUnavailable, is_endpoint, parse_endpoint
    from aligngate.stats import require_finite

    if not prompts:
        raise EvaluationError("drift: the KL prompt set is empty")
    if not (is_endpoint(baseline) and is_endpoint(candidate)):
        served, local = (baseline, candidate) if is_endpoint(baseline) else (candidate, baseline)
        raise NotMeasurable(f"drift.kl_mean: {parse_endpoint(served).where()} is served and {local} is local: KL "
                            "needs both models' log-probabilities on the same tokens from the same kind of source; "
                            "serve both (with logprobs) or give both as local directories")
    if adapter and not parse_endpoint(candidate).serves_adapter:
        raise InputError(f"drift.kl_mean: adapter {adapter} was given with the served model {candidate}: add "
                         "serves_adapter=true to the spec when the endpoint serves the candidate with it")
    got = []
    for spec in (baseline, candidate):
        ep = parse_endpoint(spec)
        try:
            got.append(EndpointClient(ep).complete(prompts, max_new_tokens=n_tokens, top_logprobs=top_k,
                                                   desc=f"drift.kl_mean (served {ep.model})"))
        except LogprobsUnavailable as exc:
            raise NotMeasurable(f"drift.kl_mean needs token log-probabilities and {ep.where()} returns none "
                                f"({exc}): not measured (skipped, never passed); use a server that returns "
                                "logprobs (vLLM, SGLang, llama.cpp) or local model directories") from None
    per_prompt: list[float] = []
    kls: list[float] = []
    jss: list[float] = []
    for b, c in zip(got[0], got[1], strict=True):
        mine: list[float] = []
        for pb, pc in zip(b.logprobs or [], c.logprobs or [], strict=False):
            kl, js = _topk_divergence(pb, pc)
            mine.append(kl)
            jss.append(js)
            if max(pb, key=pb.__getitem__) != max(pc, key=pc.__getitem__):
                break  # the greedy continuations part here: later positions have different contexts
        if mine:
            kls += mine
            per_prompt.append(sum(mine) / len(mine))
    if not kls:
        raise EvaluationError(f"drift.kl_mean: {parse_endpoint(baseline).where()} and "
                              f"{parse_endpoint(candidate).where()} returned no token log-probabilities to compare")
    what = f"{baseline} -> {candidate}"
    return {"n_prompts": len(per_prompt), "n_tokens": len(kls),
            "mean_kl": require_finite(sum(kls) / len(kls), f"drift.kl_mean input: mean KL of {what}"),
            "mean_js": require_finite(sum(jss) / len(jss), f"drift.kl_mean input: mean JS of {what}"),
            "max_prompt_kl": require_finite(max(per_prompt), f"drift.kl_mean input: max per-prompt KL of {what}"),
            "per_prompt_kl": [round(x, 6) for x in per_prompt], "method": f"served-top-{top_k}"}
