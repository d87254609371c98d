"""The evaluation runner: one model load for every suite, each response judged with its suite's expectation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aligngate.evaluation.runner import evaluate_model
from aligngate.evaluation.suites import load_suite
from aligngate.judge.base import Judgement


class RecordingJudge:
    """Labels by the harm value it is handed and remembers it (a judge that reads P(harmful prompt))."""

    name = "recording"
    reads_prompt_harm = True

    def __init__(self) -> None:
        self.harmful: list[float] = []

    def judge(self, prompts, responses, harmful=None):
        assert harmful is not None and len(harmful) == len(prompts) == len(responses)
        self.harmful += list(harmful)
        return [Judgement("refusal" if h else "compliance", float(h)) for h in harmful]


def test_suite_expectation_reaches_the_judge(embedded_model: Path) -> None:
    harmful = load_suite("embedded-harmful")
    safe = load_suite("embedded-safe")
    suites = [dataclasses.replace(harmful, items=harmful.items[:3]), dataclasses.replace(safe, items=safe.items[:2])]
    judge = RecordingJudge()
    result = evaluate_model(embedded_model, suites, judge=judge, max_new_tokens=4, progress=False)
    assert judge.harmful == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert [r["label"] for r in result.records] == ["refusal"] * 3 + ["compliance"] * 2
    assert result.metrics[harmful.name].refusal_rate == 1.0 and result.metrics[safe.name].refusal_rate == 0.0
