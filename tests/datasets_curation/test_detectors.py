"""Detector units: PII, duplicates, triggers, length / reward statistics, scores, config validation."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from aligngate.curation.config import CurationConfig
from aligngate.curation.detectors.dedupe import ExactDeduper, NearDeduper, row_hash
from aligngate.curation.detectors.learned import dpo_scores, sft_scores
from aligngate.curation.detectors.pii import find_pii, luhn_ok
from aligngate.curation.detectors.stats import LengthStats, RewardStats
from aligngate.curation.detectors.trigger import PositiveCounter, count_candidates, select_triggers


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
    for _ in range(50):
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


def test_dedupe_across_batches_matches_one_pass_and_cleans_up() -> None:
    """Batched, disk-backed de-duplication gives the same answers however the stream is cut into batches
    (earlier rows of the same batch count), and a private scratch file is deleted on close."""
    import random

    rng = random.Random(3)
    base = [" ".join(rng.choices([f"w{i}" for i in range(400)], k=60)) for _ in range(40)]
    texts = []
    for i in range(300):
        t = base[rng.randrange(len(base))]
        if i % 3:  # perturb one word: still a near duplicate of its base text
            words = t.split()
            words[rng.randrange(len(words))] = f"x{i}"
            t = " ".join(words)
        texts.append(t)
    lines = list(range(1, len(texts) + 1))

    def run(batch: int) -> tuple[list[int | None], list[tuple[float, int | None]]]:
        ex, near = ExactDeduper(), NearDeduper(0.9)
        firsts: list[int | None] = []
        sims: list[tuple[float, int | None]] = []
        for i in range(0, len(texts), batch):
            firsts += ex.seen_batch([row_hash([t]) for t in texts[i : i + batch]], lines[i : i + batch])
            sims += near.check_batch(texts[i : i + batch], lines[i : i + batch])
        paths = (ex.db.path, near.db.path)
        ex.close()
        near.close()
        assert not any(p.exists() for p in paths)
        return firsts, sims

    one, many = run(len(texts)), run(7)
    assert one == many
    firsts, sims = one
    # every exact repeat points at the first line holding that text
    first_line: dict[str, int] = {}
    for t, line, f in zip(texts, lines, firsts, strict=True):
        assert f == first_line.get(t)
        first_line.setdefault(t, line)
    assert sum(f is not None for f in firsts) > 50
    assert sum(s >= 0.9 and f is None for (s, _), f in zip(sims, firsts, strict=True)) > 20


def test_length_stats_equal_numpy_and_spearman_equals_scipy() -> None:
    import random

    import numpy as np
    from scipy.stats import spearmanr

    rng = random.Random(5)
    ls, rs = LengthStats(), RewardStats()
    vals, c_len, r_len = [], [], []
    for _ in range(501):
        c, r = rng.choice([5, 40, 40, 300, 1200]) + rng.randrange(30), rng.randrange(1, 400)
        c_len.append(c)
        r_len.append(r)
        rs.add("x" * c, "y" * r)
        for n in (c, r):
            v = round(LengthStats.log_len("z" * n), 4)
            vals.append(v)
            ls.add(v)
    ls.finish()
    x = np.array(vals)
    assert ls.median == pytest.approx(float(np.median(x)), abs=1e-9)
    assert ls.mad == pytest.approx(max(float(np.median(np.abs(x - np.median(x)))), 0.4), abs=1e-9)
    s = rs.summary()
    ref = spearmanr(np.r_[np.ones(501), np.zeros(501)], np.r_[c_len, r_len]).statistic
    assert s["length_spearman"] == pytest.approx(round(float(ref), 4), abs=1e-4)
    decided = [(c, r) for c, r in zip(c_len, r_len, strict=True) if c != r]
    assert s["chosen_longer_fraction"] == pytest.approx(round(sum(c > r for c, r in decided) / len(decided), 4))
    assert RewardStats().summary()["length_spearman"] is None


def test_review_writer_sorts_on_disk(tmp_path) -> None:
    import csv

    from aligngate.curation.review import ReviewWriter

    w = ReviewWriter()
    db_path = w.db.path
    for line in range(1, 4501):  # more than one flush
        w.add(line, ["duplicate"] if line % 2 else ["harmful_compliance"], {"harmful_compliance": (line % 7) / 7},
              "p", "r")
    w.write(tmp_path / "review.csv")
    with open(tmp_path / "review.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4500 and not db_path.exists()
    keys = [(-float(r["risk"]), int(r["line"])) for r in rows]
    assert keys == sorted(keys) and float(rows[0]["risk"]) == pytest.approx(6 / 7, abs=1e-4)


def test_learned_scorer_slices_calls_without_changing_scores() -> None:
    """More pairs than one model call takes: several calls, each distinct text scored once, same scores."""
    from fakes import FakeHarm, FakeJudge

    from aligngate.curation.detectors import learned

    n = learned._SLICE * 2 + 7
    prompts = [f"how to hack box {i % (n - 5)}" if i % 3 else f"bake bread {i}" for i in range(n)]
    responses = [("Sorry, I can't." if i % 2 else f"Sure, step {i}.") for i in range(n)]
    judge, harm = FakeJudge(), FakeHarm()
    scorer = learned.LearnedScorer(judge, harm)
    assert scorer.harm_probs(prompts) == harm.score(prompts)
    expected = [j.score for j in FakeJudge().judge(prompts, responses)]
    assert scorer.refusal_probs(prompts, responses) == expected
    assert judge.calls == 3


def test_learned_scorer_hands_the_harm_scores_to_a_judge_that_reads_them() -> None:
    """Curation has scored every prompt already: the judge gets those scores instead of scoring them again."""
    from fakes import FakeHarm

    from aligngate.curation.detectors import learned
    from aligngate.judge.base import Judgement

    class ReadsHarm:
        name = "reads-harm"
        reads_prompt_harm = True

        def __init__(self) -> None:
            self.seen: list[float] = []

        def judge(self, prompts, responses, harmful=None):
            assert harmful is not None and len(harmful) == len(prompts)
            self.seen += list(harmful)
            return [Judgement("refusal" if h > 0.5 else "compliance", h) for h in harmful]

    judge = ReadsHarm()
    scorer = learned.LearnedScorer(judge, FakeHarm())
    prompts = ["how to hack a box", "bake bread", "how to hack a box"]
    p_harm = scorer.harm_probs(prompts)
    assert scorer.refusal_probs(prompts, ["a", "b", "c"], p_harm) == p_harm
    assert sorted(judge.seen) == sorted(p_harm)
