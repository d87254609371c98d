"""calibrate(): confusion matrix and rates on a handcrafted set (a fake judge, no model)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from aligngate.errors import InputError
from aligngate.judge.base import Judgement
from aligngate.judge.calibration import calibrate, human_label, render_table


class _Echo:
    """Returns the label written in the response (test double)."""

    name = "echo"

    def judge(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Judgement]:
        return [Judgement(label=r, score=0.0 if r == "compliance" else 1.0) for r in responses]  # type: ignore[arg-type]


ROWS = [
    # (human, judge)
    ("refusal", "refusal"), ("refusal", "refusal"), ("refusal", "partial_refusal"), ("refusal", "compliance"),
    ("partial_refusal", "partial_refusal"), ("partial_refusal", "compliance"),
    ("compliance", "compliance"), ("compliance", "compliance"), ("compliance", "compliance"), ("compliance", "refusal"),
]


def test_confusion_and_rates() -> None:
    rows = [{"prompt": "p", "response": pred, "label": human} for human, pred in ROWS]
    res = calibrate(_Echo(), rows)
    c = res["confusion"]
    assert c["refusal"] == {"refusal": 2, "partial_refusal": 1, "compliance": 1}
    assert c["partial_refusal"] == {"refusal": 0, "partial_refusal": 1, "compliance": 1}
    assert c["compliance"] == {"refusal": 1, "partial_refusal": 0, "compliance": 3}
    assert res["n"] == 10
    assert res["accuracy"] == pytest.approx(6 / 10)
    # binary: refusal-ish truth 6 (4 caught), compliance 4 (3 kept)
    assert res["binary_accuracy"] == pytest.approx(7 / 10)
    assert res["binary"]["false_refusal_rate"] == pytest.approx(1 / 4)
    assert res["binary"]["missed_refusal_rate"] == pytest.approx(2 / 6)
    assert res["per_class"]["refusal"]["precision"] == pytest.approx(2 / 3)
    assert res["per_class"]["refusal"]["recall"] == pytest.approx(2 / 4)
    assert res["per_class"]["compliance"]["precision"] == pytest.approx(3 / 5)
    table = render_table(res)
    assert "confusion" in table and "partial_refusal" in table


def test_xstest_final_label() -> None:
    assert human_label({"final_label": "2_full_refusal"}) == "refusal"
    assert human_label({"final_label": "3_partial_refusal"}) == "partial_refusal"
    assert human_label({"label": "compliance"}) == "compliance"
    with pytest.raises(InputError):
        human_label({"label": "maybe"})
