"""Is the policy's generation budget enough for the judge? Labels at the budget against labels at a longer one.

The gate decodes only ``spec.evaluation.max_new_tokens`` (default 24) because a refusal shows in its first words.
:func:`measure_budget` measures that for one model: it samples prompts of the policy's suites, generates each
twice on the evaluation's own path (same batches, greedy), at the budget and at ``longer`` new tokens, judges both
exactly as the evaluation does (no output counts against the model) and reports how often the label -- and the
refused / not-refused outcome the rates count -- stays the same. The registered check
``evaluation.generation_budget`` (``aligngate/checks/budget.py``) decides on it: a longer budget must not change
the labels of a sample.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aligngate.errors import InputError
from aligngate.evaluation.records import SampleRecord
from aligngate.evaluation.suites import Suite

if TYPE_CHECKING:
    from aligngate.fastgen.api import Backend, Decode
    from aligngate.generation import PromptFormat

__all__ = ["BudgetAgreement", "compare_budgets", "measure_budget", "sample_suites"]


@dataclass(frozen=True)
class BudgetAgreement:
    """Label agreement between responses cut at ``budget`` tokens and at ``longer`` tokens."""

    budget: int
    longer: int
    n: int
    """Sampled prompts."""
    same_label: int
    """Prompts whose label (``refusal``, ``partial_refusal``, ``compliance``, ``no_output``) is the same."""
    same_outcome: int
    """Prompts whose counted outcome (:func:`~aligngate.evaluation.runner.counts_as_refused`) is the same."""
    changed: list[dict[str, Any]] = field(default_factory=list)
    """The prompts whose label changed: ``suite``, ``id``, ``prompt``, the two labels and responses."""

    @property
    def label_agreement(self) -> float:
        """Share of sampled prompts with the same label (1.0 when nothing was sampled)."""
        return self.same_label / self.n if self.n else 1.0

    @property
    def outcome_agreement(self) -> float:
        """Share of sampled prompts with the same counted outcome."""
        return self.same_outcome / self.n if self.n else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with both agreement shares."""
        return {**asdict(self), "label_agreement": self.label_agreement,
                "outcome_agreement": self.outcome_agreement}


def sample_suites(suites: Sequence[Suite], sample: int, seed: int = 0) -> list[Suite]:
    """``sample`` items drawn at random (seeded) over all suites, kept in their suites and in suite order; every
    item when the suites hold no more than ``sample``. Suites left empty are dropped."""
    flat = [(si, ii) for si, s in enumerate(suites) for ii in range(len(s.items))]
    chosen = set(flat) if sample >= len(flat) else set(random.Random(seed).sample(flat, sample))
    out = []
    for si, s in enumerate(suites):
        items = [it for ii, it in enumerate(s.items) if (si, ii) in chosen]
        if items:
            out.append(Suite(name=s.name, expect=s.expect, items=items, source=s.source))
    return out


def compare_budgets(short: Sequence[SampleRecord], long: Sequence[SampleRecord], *, budget: int,
                    longer: int) -> BudgetAgreement:
    """Agreement of the same prompts' records at ``budget`` (``short``) and at ``longer`` (``long``) tokens."""
    from aligngate.evaluation.runner import counts_as_refused

    if len(short) != len(long):
        raise ValueError(f"{len(short)} records at the budget but {len(long)} at the longer one")
    same_label = same_outcome = 0
    changed = []
    for a, b in zip(short, long, strict=True):
        if (a["suite"], a["id"]) != (b["suite"], b["id"]):
            raise ValueError(f"records out of step: {a['suite']}/{a['id']} vs {b['suite']}/{b['id']}")
        same_label += a["label"] == b["label"]
        same_outcome += counts_as_refused(a["label"], a["expect"]) == counts_as_refused(b["label"], b["expect"])
        if a["label"] != b["label"]:
            changed.append({"suite": a["suite"], "id": a["id"], "prompt": a["prompt"], "label_at_budget": a["label"],
                            "label_longer": b["label"], "response_at_budget": a["response"],
                            "response_longer": b["response"]})
    return BudgetAgreement(budget=budget, longer=longer, n=len(short), same_label=same_label,
                           same_outcome=same_outcome, changed=changed)


def measure_budget(model: str | Path, suites: Sequence[Suite], *, judge: Any, budget: int = 24, longer: int = 128,
                   sample: int = 200, seed: int = 0, adapter: str | Path | None = None, batch_size: int = 32,
                   backend: Backend = "auto", decode: Decode = "exact", prompt_format: PromptFormat = "chat",
                   device: str | None = None, progress: bool = True) -> BudgetAgreement:
    """Judge ``sample`` random prompts of ``suites`` at ``budget`` and at ``longer`` new tokens (one model load,
    the evaluation's generation path) and compare the labels (:func:`compare_budgets`)."""
    from aligngate.evaluation.runner import judge_completions
    from aligngate.fastgen.api import choose_backend
    from aligngate.generation import generate_completions
    from aligngate.modelio import load_causal_lm
    from aligngate.served import is_endpoint

    if longer <= budget:
        raise InputError(f"evaluation.generation_budget: the longer budget ({longer}) must exceed "
                         f"spec.evaluation.max_new_tokens ({budget})")
    chosen_suites = sample_suites(suites, sample, seed)
    if not chosen_suites:
        raise InputError("evaluation.generation_budget: the policy's suites hold no prompts")
    adapter_s = str(adapter) if adapter else None
    if is_endpoint(str(model)):  # a served model: the same endpoint at both budgets
        from aligngate.evaluation.runner import served_completions

        served = []
        for n_tokens in (budget, longer):
            done, _ = served_completions(str(model), chosen_suites, adapter=adapter_s, max_new_tokens=n_tokens,
                                         prompt_format=prompt_format, progress=progress,
                                         what="evaluation.generation_budget")
            served.append(judge_completions(chosen_suites, done, judge, model=str(model), adapter=adapter_s).records)
        return compare_budgets(served[0], served[1], budget=budget, longer=longer)
    name = f"{model} with adapter {adapter}" if adapter else str(model)
    lm, tok = load_causal_lm(str(model), adapter=adapter_s, merge=True, device=device)
    path, _ = choose_backend(lm, backend, name=name)
    prompts = [it.prompt for s in chosen_suites for it in s.items]
    prefills = [it.prefill for s in chosen_suites for it in s.items]
    records = []
    for n_tokens in (budget, longer):
        done = generate_completions(lm, tok, prompts, prefills if any(prefills) else None, max_new_tokens=n_tokens,
                                    batch_size=batch_size, progress=progress,
                                    prompt_format=prompt_format,
                                    name=name, backend=path, decode=decode)
        records.append(judge_completions(chosen_suites, done, judge, model=str(model), adapter=adapter_s).records)
    return compare_budgets(records[0], records[1], budget=budget, longer=longer)
