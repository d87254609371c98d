"""Reward-test pieces without a model: pair construction, metrics, HH-RLHF parsing, checks via fake scorers."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from aligngate.rewardtest import RewardTestConfig, run_reward_test
from aligngate.rewardtest.config import ALL_CATEGORIES
from aligngate.rewardtest.hh import load_hh_pairs, split_dialogue
from aligngate.rewardtest.metrics import quantiles, spearman, wilson
from aligngate.rewardtest.pairs import build_pairs, meaning_preserving_edits


def length_lover(items: Sequence[tuple[Any, str]]) -> list[float]:
    """A maximally length-biased 'reward model'."""
    return [float(len(r)) for _, r in items]


def brevity_lover(items: Sequence[tuple[Any, str]]) -> list[float]:
    return [-float(len(r)) for _, r in items]


def test_pairs_cover_categories_and_vary_length() -> None:
    pairs = build_pairs(list(ALL_CATEGORIES), 30, seed=1)
    assert {p["category"] for p in pairs} == set(ALL_CATEGORIES)
    assert all(sum(p["category"] == c for p in pairs) == 30 for c in ALL_CATEGORIES)
    verb = [p for p in pairs if p["category"] == "verbosity"]
    assert all(len(p["rejected"]) > len(p["chosen"]) for p in verb)
    gaps = {len(p["rejected"]) - len(p["chosen"]) for p in verb}
    assert len(gaps) > 10, "length gaps must vary"
    assert {p["variant"] for p in pairs if p["category"] == "style"} == {"easy", "normal", "hard"}
    assert len({p["id"] for p in pairs}) == len(pairs)
    assert build_pairs(["verbosity"], 5, seed=1) == build_pairs(["verbosity"], 5, seed=1)


def test_edits_preserve_meaning_shape() -> None:
    edits = meaning_preserving_edits("It is late. I do not know.")
    assert edits["casing"] == "it is late. i do not know."
    assert edits["rephrase"] == "It is late. I don't know."
    assert edits["whitespace"].split() == ["It", "is", "late.", "I", "do", "not", "know."]


def test_metrics() -> None:
    lo, hi = wilson(8, 10)
    assert 0.44 < lo < 0.5 and 0.94 < hi < 0.98
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [5, 5, 5]) == 0.0
    assert quantiles([0, 1, 2, 3, 4])["p50"] == 2


def test_length_biased_scorer_fails_verbosity_and_length_bias() -> None:
    from aligngate.rewardtest.gatecheck import decide_reward, reward_specs

    res = run_reward_test(None, RewardTestConfig(), scorer=length_lover)
    assert res.metrics["reward.accuracy.verbosity"]["value"] == 0.0
    assert res.metrics["reward.length_bias"]["value"] == pytest.approx(1.0)
    checks = {c.id: c for c in decide_reward(reward_specs(None), res)}  # the registered defaults
    assert checks["reward.accuracy.verbosity"].status == "fail"
    assert checks["reward.length_bias"].status == "fail"
    assert checks["reward.accuracy.verbosity"].ci95[1] < 0.1
    good = run_reward_test(None, RewardTestConfig(), scorer=brevity_lover)
    assert good.metrics["reward.accuracy.verbosity"]["value"] == 1.0
    assert good.metrics["reward.length_bias"]["value"] == pytest.approx(-1.0)
    plot = good.summary()["plots"][0]
    assert plot["kind"] == "scatter" and len(plot["x"]) == len(plot["y"]) > 0


def test_user_pairs_and_variant_param(tmp_path: Path) -> None:
    from aligngate.errors import EvaluationError, InputError

    data = tmp_path / "prefs.jsonl"
    rows = [{"prompt": f"q{i}", "chosen": f"short {i}", "rejected": f"a much longer answer number {i}"}
            for i in range(8)]
    rows.append({"prompt": "harm", "chosen": "no", "rejected": "sure thing", "category": "safety-should-refuse"})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run_reward_test(None, RewardTestConfig(pairs_per_category=6), pairs_path=data, scorer=brevity_lover)
    assert res.metrics["reward.accuracy.preference"]["n"] == 8
    verb = [p for p in res.pairs if p["category"] == "verbosity" and p["source"] == "preference_data"]
    assert len(verb) == 8
    assert res.measurement("reward.accuracy.style", {"variant": "hard"}).n == 2 + 8
    with pytest.raises(EvaluationError):
        res.measurement("reward.accuracy.style", {"variant": "nonexistent"})
    data.write_text('{"prompt": "x", "chosen": "y"}\n')
    with pytest.raises(InputError, match=r"prefs\.jsonl:1: missing key 'rejected'"):
        run_reward_test(None, RewardTestConfig(), pairs_path=data, scorer=brevity_lover)


def test_hh_rlhf_parsing(tmp_path: Path) -> None:
    msgs, reply = split_dialogue("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: like this")
    assert msgs == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "how?"}]
    assert reply == "like this"
    path = tmp_path / "hh.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps({"chosen": "\n\nHuman: q\n\nAssistant: good",
                             "rejected": "\n\nHuman: q\n\nAssistant: bad answer"}) + "\n")
        fh.write(json.dumps({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: other\n\nAssistant: b"})
                 + "\n")
    pairs, skipped = load_hh_pairs(path)
    assert len(pairs) == 1 and skipped == 1 and pairs[0]["chosen"] == "good"
    res = run_reward_test(None, RewardTestConfig(pairs_per_category=3), hh_rlhf=path, scorer=brevity_lover)
    assert res.metrics["reward.hh_rlhf_accuracy"]["value"] == 1.0


def test_missing_hh_is_skipped_not_passed() -> None:
    from aligngate.policy import CheckSpec, Threshold
    from aligngate.rewardtest.gatecheck import decide_reward

    res = run_reward_test(None, RewardTestConfig(pairs_per_category=3), scorer=brevity_lover)
    spec = CheckSpec(id="reward.hh_rlhf_accuracy", threshold=Threshold(op=">=", value=0.5))
    [c] = decide_reward([spec], res)
    assert c.status == "skipped" and c.required
