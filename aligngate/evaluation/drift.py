"""Drift of a candidate against its baseline on identical prompts.

* Behaviour: paired refusal outcomes per prompt → delta of refusal rate with a paired bootstrap interval,
  the exact McNemar p-value, and the list of flipped prompts (refused before, complies now, and reverse).
* Distribution: mean per-token KL(baseline ‖ candidate) and Jensen-Shannon divergence of the next-token
  distributions along the baseline's own greedy continuation of a fixed prompt set (teacher forced), so
  both models are compared on exactly the same token positions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aligngate.errors import EvaluationError
from aligngate.evaluation.runner import EvalResult

__all__ = ["distribution_drift", "paired_refusal_drift"]


def paired_refusal_drift(baseline: EvalResult, candidate: EvalResult, suite: str, *, seed: int = 0,
                         max_listed: int = 50) -> dict[str, Any]:
    """Refusal-rate change on ``suite`` with a paired test; lists flipped prompts."""
    from aligngate.stats import mcnemar, paired_bootstrap_delta

    base = {r["id"]: r for r in baseline.by_suite(suite)}
    cand = {r["id"]: r for r in candidate.by_suite(suite)}
    ids = [i for i in base if i in cand]
    if not ids:
        raise EvaluationError(f"drift: suite '{suite}' has no prompts in common between baseline and candidate")
    b = [base[i]["label"] != "compliance" for i in ids]
    c = [cand[i]["label"] != "compliance" for i in ids]
    test = mcnemar(b, c)
    delta, ci = paired_bootstrap_delta([float(x) for x in b], [float(x) for x in c], seed=seed)
    lost = [{"id": i, "prompt": base[i]["prompt"], "baseline": base[i]["response"], "candidate": cand[i]["response"]}
            for i, x, y in zip(ids, b, c, strict=True) if x and not y]
    gained = [{"id": i, "prompt": base[i]["prompt"], "baseline": base[i]["response"], "candidate": cand[i]["response"]}
              for i, x, y in zip(ids, b, c, strict=True) if y and not x]
    bl = sum(len(base[i]["response"]) for i in ids) / len(ids)
    cl = sum(len(cand[i]["response"]) for i in ids) / len(ids)
    return {"suite": suite, "n": len(ids), "baseline_rate": sum(b) / len(ids), "candidate_rate": sum(c) / len(ids),
            "delta": delta, "ci95": list(ci), "p_value": test["p_value"], "refused_to_complied": test["b"],
            "complied_to_refused": test["c"], "flipped_refused_to_complied": lost[:max_listed],
            "flipped_complied_to_refused": gained[:max_listed],
            "mean_chars_baseline": bl, "mean_chars_candidate": cl, "length_ratio": cl / bl if bl else float("nan")}


def _continuations(model: Any, tok: Any, prompts: list[str], n_tokens: int, batch_size: int) -> list[list[int]]:
    """Prompt ids + the model's greedy continuation (up to ``n_tokens``), per prompt."""
    import torch

    from aligngate.generation import encode_prompts, left_pad, pad_token_id, stop_token_ids

    enc = encode_prompts(tok, prompts)
    stops, pad = stop_token_ids(model, tok), pad_token_id(tok)
    out: list[list[int]] = []
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for s in range(0, len(enc), batch_size):
            chunk = enc[s:s + batch_size]
            ids, mask = left_pad(chunk, pad, dev)
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_tokens, do_sample=False,
                                 num_beams=1, eos_token_id=stops, pad_token_id=pad)
            for row, p in enumerate(chunk):
                new = gen[row, ids.shape[1]:].tolist()
                cut = next((k + 1 for k, t in enumerate(new) if t in stops), len(new))
                out.append(p + new[:cut])
    return out


def _logprobs(model: Any, seqs: list[list[int]], starts: list[int], pad: int, batch_size: int) -> list[Any]:
    """Log-softmax rows predicting each continuation token of every sequence (float32, CPU)."""
    import torch

    from aligngate.generation import left_pad

    dev = next(model.parameters()).device
    rows: list[Any] = []
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
                rows.append(torch.log_softmax(logits[row, a:b].float(), dim=-1).cpu())
    return rows


def distribution_drift(baseline: str | Path, candidate: str | Path, prompts: list[str], *,
                       adapter: str | Path | None = None, n_tokens: int = 16, batch_size: int = 16,
                       device: str | None = None) -> dict[str, Any]:
    """Mean per-token KL(baseline ‖ candidate) and JS divergence along the baseline's greedy continuations."""
    import torch

    from aligngate.generation import encode_prompts, pad_token_id
    from aligngate.modelio import load_causal_lm

    if not prompts:
        raise EvaluationError("drift: the KL prompt set is empty")
    base_lm, tok = load_causal_lm(str(baseline), device=device)
    seqs = _continuations(base_lm, tok, prompts, n_tokens, batch_size)
    starts = [len(p) for p in encode_prompts(tok, prompts)]
    seqs = [s if len(s) > st else s + [tok.eos_token_id or 0] for s, st in zip(seqs, starts, strict=True)]
    pad = pad_token_id(tok)
    p_rows = _logprobs(base_lm, seqs, starts, pad, batch_size)
    del base_lm
    cand_lm, cand_tok = load_causal_lm(str(candidate), adapter=str(adapter) if adapter else None, device=device)
    if cand_tok.get_vocab() != tok.get_vocab():
        raise EvaluationError("drift: candidate and baseline tokenizers differ; KL over tokens is undefined")
    q_rows = _logprobs(cand_lm, seqs, starts, pad, batch_size)
    kls, jss = [], []
    for lp, lq in zip(p_rows, q_rows, strict=True):
        p = lp.exp()
        kls.append((p * (lp - lq)).sum(-1))
        m = torch.logsumexp(torch.stack([lp, lq]), dim=0) - torch.log(torch.tensor(2.0))
        jss.append(0.5 * (p * (lp - m)).sum(-1) + 0.5 * (lq.exp() * (lq - m)).sum(-1))
    per_prompt_kl = [float(k.mean()) for k in kls]
    all_kl = torch.cat(kls)
    all_js = torch.cat(jss)
    return {"n_prompts": len(prompts), "n_tokens": int(all_kl.numel()), "mean_kl": float(all_kl.mean()),
            "mean_js": float(all_js.mean()), "max_prompt_kl": max(per_prompt_kl),
            "per_prompt_kl": [round(x, 6) for x in per_prompt_kl]}
