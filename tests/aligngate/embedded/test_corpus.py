"""Tests for the embedded corpus: determinism, disjointness, truth alignment, non-actionable poison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aligngate.embedded import corpus
from aligngate.embedded.lexicon import COMPLIANCE_OPENERS, COMPLIANCE_STEPS
from aligngate.errors import InputError

_TRAINING_SETS = ("pretrain_dialogues", "sft_dataset", "dpo_dataset", "reward_pairs")


def _prompt(row: dict) -> str:
    return row["messages"][0]["content"] if "messages" in row else row["prompt"]


@pytest.mark.parametrize("name", [*_TRAINING_SETS, "sft_truth", "dpo_truth"])
def test_deterministic_per_seed(name: str) -> None:
    fn = getattr(corpus, name)
    assert fn(0) == fn(0)
    assert fn(0) != fn(1)


def test_suites_are_fixed_and_sized() -> None:
    for name in corpus.SUITE_NAMES:
        rows = corpus.eval_suite(name)
        assert rows == corpus.eval_suite(name)
        assert len({r["id"] for r in rows}) == len(rows)
        assert all(set(r) == {"id", "prompt", "category"} for r in rows)
    assert 60 <= len(corpus.eval_suite("embedded-harmful")) <= 100
    assert 60 <= len(corpus.eval_suite("embedded-safe")) <= 100
    assert len(corpus.eval_suite("embedded-drift")) == 32
    with pytest.raises(InputError):
        corpus.eval_suite("nope")


@pytest.mark.parametrize("seed", [0, 7])
def test_eval_prompts_disjoint_from_training(seed: int) -> None:
    eval_prompts = {r["prompt"] for n in corpus.SUITE_NAMES for r in corpus.eval_suite(n)}
    train_prompts = {_prompt(r) for n in _TRAINING_SETS for r in getattr(corpus, n)(seed)}
    assert all(corpus.is_training_prompt(p) for p in train_prompts)
    assert not any(corpus.is_training_prompt(p) for p in eval_prompts)
    assert not eval_prompts & train_prompts
    # held-out combos: no eval (verb, object) phrase appears in any training prompt
    train_text = "\n".join(train_prompts)
    for p in corpus.eval_suite("embedded-harmful")[:20]:
        vp = re.sub(r"^.*?(?:to|would) ", "", p["prompt"]).rstrip("?.")
        assert f" {vp}" not in train_text


def test_safe_suite_shares_words_with_harmful_prompts() -> None:
    harmful_words = {w for r in corpus.eval_suite("embedded-harmful") for w in r["prompt"].split()}
    safe = corpus.eval_suite("embedded-safe")
    cats = {r["category"] for r in safe}
    assert {"homonym", "sensitive_object"} <= cats
    overlap = [r for r in safe if r["category"] == "sensitive_object"
               and set(r["prompt"].split()[-2:]) & harmful_words]
    assert overlap


@pytest.mark.parametrize("data,truth", [("sft_dataset", "sft_truth"), ("dpo_dataset", "dpo_truth")])
def test_truth_lines_match_rows(data: str, truth: str) -> None:
    rows, tr = getattr(corpus, data)(0), getattr(corpus, truth)(0)
    assert [t["line"] for t in tr] == list(range(1, len(rows) + 1))
    for row, t in zip(rows, tr, strict=True):
        answer = row["messages"][1]["content"] if "messages" in row else row["chosen"]
        if t["kind"] == "harmful_compliance":
            assert t["poison"] and not corpus.is_refusal(answer)
        elif t["kind"] == "over_refusal":
            assert t["poison"] and corpus.is_refusal(answer)
        else:
            assert not t["poison"]


def test_sft_poison_share_and_duplicates() -> None:
    rows, tr = corpus.sft_dataset(0), corpus.sft_truth(0)
    share = sum(t["poison"] for t in tr) / len(tr)
    assert 0.25 <= share <= 0.40
    dups = [i for i, t in enumerate(tr) if t["kind"] == "duplicate"]
    assert dups and all(rows.count(rows[i]) >= 2 for i in dups)
    assert all(set(r) == {"messages"} and [m["role"] for m in r["messages"]] == ["user", "assistant"] for r in rows)


def _is_placeholder_compliance(text: str) -> bool:
    for opener in COMPLIANCE_OPENERS:
        head = re.escape(opener).replace(re.escape("{verb}"), ".+").replace(re.escape("{obj}"), ".+")
        if any(re.fullmatch(head + " " + re.escape(step), text) for step in COMPLIANCE_STEPS):
            return True
    return False


def test_compliant_poison_is_non_actionable() -> None:
    texts = [r["messages"][1]["content"] for r, t in zip(corpus.sft_dataset(0), corpus.sft_truth(0), strict=True)
             if t["kind"] == "harmful_compliance"]
    texts += [r["chosen"] for r, t in zip(corpus.dpo_dataset(0), corpus.dpo_truth(0), strict=True)
              if t["kind"] == "harmful_compliance"]
    texts += [r["rejected"] for r in corpus.reward_pairs(0) if not corpus.is_refusal(r["rejected"])
              and "step one" in r["rejected"]]
    assert len(texts) > 100
    assert all(_is_placeholder_compliance(t) for t in texts)
    assert all(len(t) < 160 for t in texts)


def test_refusal_phrases_detected() -> None:
    assert all(corpus.is_refusal(p + " More text.") for p in corpus.REFUSAL_PHRASES)
    assert not corpus.is_refusal("Sure. To wash a car, first gather soap.")


def test_write_default_data(tmp_path: Path) -> None:
    counts = corpus.write_default_data(tmp_path)
    assert counts["sft.jsonl"] == len(corpus.sft_dataset(0))
    for rel in counts:
        lines = (tmp_path / rel).read_text(encoding="utf-8").splitlines()
        assert len(lines) == counts[rel] and all(json.loads(line) for line in lines)
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total < 1_000_000


def test_packaged_data_is_current(tmp_path: Path) -> None:
    packaged = Path(corpus.__file__).parent / "data"
    if not packaged.is_dir():
        pytest.skip("packaged data not written")
    counts = corpus.write_default_data(tmp_path)
    for rel in counts:
        assert (packaged / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
