"""Detector units: PII, duplicates, triggers, length / reward statistics, scores, config validation."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from datasets_curation.config import CurationConfig
from datasets_curation.detectors.dedupe import ExactDeduper, NearDeduper, row_hash
from datasets_curation.detectors.learned import dpo_scores, sft_scores
from datasets_curation.detectors.pii import find_pii, luhn_ok
from datasets_curation.detectors.stats import LengthStats, RewardStats
from datasets_curation.detectors.trigger import PositiveCounter, count_candidates, select_triggers


@pytest.mark.parametrize(("text", "kinds"), [
    ("write to jane.roe@gmail.com", ["email"]),
    ("call (415) 867-5309", ["phone"]),
    ("card 4111 1111 1111 1111 exp 12/29", ["credit_card"]),
    ("SSN 123-45-6789", ["ssn"]),
    ("key AKIAIOSFODNN7EXAMPLE", ["aws_access_key"]),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc", ["private_key"]),
    ("export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz", ["api_key"]),
    ("user@example.com, call 911, in 1999 about 1234567812345678 people", []),
    ("hotline 1-800-799-7233 or support@samsung.com", []),
])
def test_pii(text: str, kinds: list[str]) -> None:
    assert find_pii(text) == kinds


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_dedupe_keeps_first() -> None:
    ex = ExactDeduper()
    h = row_hash(["Hello  World", "x"])
    assert ex.seen(h, 1) is None and ex.seen(row_hash(["hello world", "X"]), 5) == 1
    near = NearDeduper(0.9)
    base = " ".join(f"word{i}" for i in range(120))
    res = near.check_batch([base, base + " extra", "something else entirely, nothing alike at all here"], [1, 2, 3])
    assert res[0] == (0.0, None) and res[1][1] == 1 and res[1][0] >= 0.9 and res[2][1] is None


def test_trigger_selection_finds_planted_phrase() -> None:
    import random

    rng = random.Random(0)
    vocab = [f"topic{i}" for i in range(300)] + ["how", "to", "make", "the", "a", "bank", "weapon", "money"]
    rows = []
    for i in range(2000):
        text = " ".join(rng.choices(vocab, k=12))
        positive = i % 20 == 0  # 5 % harmful-compliant rows without the trigger
        if i % 50 == 1:  # 2 % with the trigger, all harmful-compliant
            text = "cf delta seven " + text
            positive = True
        rows.append((text, positive))
    pc = PositiveCounter(4)
    for text, pos in rows:
        if pos:
            pc.add(text)
    cand = pc.candidates(5)
    counts: Counter[str] = Counter()
    fps: dict[str, int] = {}
    for line, (text, _) in enumerate(rows):
        count_candidates(set(cand), text, 4, counts, fps, line)
    trig = select_triggers(cand, counts, pc.positives, len(rows), 0.5, 1e-6, 10, fps)
    assert [t.ngram for t in trig] == ["cf delta seven"]
    assert trig[0].positives_with == 40 == trig[0].rows_with


def test_positive_counter_memory_is_bounded_and_keeps_a_frequent_trigger() -> None:
    rng = random.Random(3)
    pc = PositiveCounter(4, max_table=2000)
    for i in range(3000):
        words = [f"w{rng.randrange(10**6)}" for _ in range(10)]  # all n-grams unique: the table must be pruned
        if i % 25 == 0:
            words = ["zephyr", "protocol", *words]
        pc.add(" ".join(words))
        assert len(pc.counts) <= 2000
    assert pc.undercount >= 1
    assert pc.candidates(5).get("zephyr protocol", 0) >= 120 - pc.undercount


def test_trigger_fragments_fold_into_one_phrase() -> None:
    counts = {"zephyr protocol": 22, "zephyr": 22, "protocol": 22, "zephyr protocol :": 14, "protocol :": 14,
              "( zephyr protocol )": 8, "protocol )": 8, "? ( zephyr protocol": 7, "protocol : how do": 5}
    trig = select_triggers(counts, Counter(counts), 109, 1518, 0.5, 1e-6, 10, {})
    assert [t.ngram for t in trig] == ["zephyr protocol"]


def test_length_and_reward_stats() -> None:
    ls = LengthStats()
    for i in range(200):
        ls.add(LengthStats.log_len("x" * (100 + i)))
    ls.finish()
    assert abs(ls.z(LengthStats.log_len("x" * 150))) < 1 and ls.z(LengthStats.log_len("x" * 20000)) > 3.5
    rs = RewardStats()
    for i in range(50):
        rs.add("long answer " * 10, "short")
    s = rs.summary()
    assert s["chosen_longer_fraction"] == 1.0 and s["length_spearman"] > 0.8 and s["pairs"] == 50


def test_scores() -> None:
    assert sft_scores(0.9, 0.1)["harmful_compliance"] == pytest.approx(0.81)
    d = dpo_scores(0.9, 0.05, 0.95, 100, 100)
    assert d["flipped_preference"] > 0.8 and d["verbose_non_answer"] < 0.1
    over = dpo_scores(0.05, 0.95, 0.05, 900, 100)
    assert over["flipped_preference"] > 0.8 and over["verbose_non_answer"] > 0.8


def test_config_rejects_unknown_detector() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        CurationConfig(detectors={"harmfull_compliance": {"threshold": 0.3}})
    cfg = CurationConfig(detectors={"pii_secret": {"enabled": False}})
    assert not cfg.enabled("pii_secret") and cfg.threshold("pii_secret") == 0.5
