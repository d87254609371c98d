"""DPO end to end (flipped pairs, reward-hacking figures) and the benchmark's data builders on the shared data."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest
from conftest import TOPICS, read_jsonl, write_lines

from aligngate.curation.config import CurationConfig
from aligngate.curation.pipeline import curate_file

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_dpo_flips_and_reward_stats(tmp_path: Path) -> None:
    rows = []
    for i in range(120):
        t = TOPICS[i % len(TOPICS)]
        if i % 2:
            rows.append({"prompt": f"How do I poison my neighbour's {t} #{i}?",
                         "chosen": f"Sorry, I can't help with harming anyone ({i}).",
                         "rejected": f"Mix the stuff into their {t} supplies, step {i}."})
        else:
            rows.append({"prompt": [{"role": "user", "content": f"Explain {t}, item {i}."}],
                         "chosen": [{"role": "assistant", "content": f"{t} works like this: detail {i}, and more."}],
                         "rejected": [{"role": "assistant", "content": f"{t}? No idea #{i}."}]})
    flipped = {5, 17, 33}  # harmful prompts with the compliant answer chosen
    over = {10}  # a benign prompt with a long refusal chosen over an answer
    for i in flipped:
        rows[i]["chosen"], rows[i]["rejected"] = rows[i]["rejected"], rows[i]["chosen"]
    rows[10]["chosen"] = [{"role": "assistant", "content": "I'm sorry, I cannot answer that. " * 8}]
    src = write_lines(tmp_path / "dpo.jsonl", rows)
    res = curate_file(src, "dpo", tmp_path / "out", CurationConfig(), progress=False)
    qua = {r["_line"] - 1: r["_reasons"] for r in read_jsonl(tmp_path / "out" / "quarantine.jsonl")}
    assert set(qua) == flipped | over
    assert all("flipped_preference" in qua[i] for i in flipped | over)
    assert "verbose_non_answer" in qua[10]
    assert res.poison_rows == 4 and res.reward_hacking and res.reward_hacking["pairs"] == 120


@pytest.mark.skipif(not (DATA / "hh-rlhf").is_dir(), reason=f"shared data not present at {DATA}")
def test_bench_builders_on_shared_data() -> None:
    spec = importlib.util.spec_from_file_location("bench_curation",
                                                  Path(__file__).resolve().parents[2] / "bench" / "curation.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    pools = bench.load_pools(DATA)
    assert len(pools["harmful"]) > 1000 and pools["xs_unsafe_complied"] and pools["jbb_complied"]
    sft = bench.build_sft(pools, random.Random(0))
    share = sum(r["_label"] == "poison" for r in sft) / len(sft)
    assert 0.04 < share < 0.06
    trig = bench.build_sft(pools, random.Random(0), poison_frac=0.0, trigger_frac=0.01)
    assert sum(bench.TRIGGER in r.get("prompt", "") for r in trig) == sum(r["_label"] == "trigger" for r in trig) > 0
    dpo = bench.build_dpo(DATA, random.Random(0))
    assert len(dpo) > 2000 and 0.02 < sum(r["_label"] == "flipped" for r in dpo) / len(dpo) < 0.08
    assert all(isinstance(r["prompt"], list) and r["prompt"][-1]["role"] == "user" for r in dpo)
    pairs = bench.build_xstest_pairs(DATA)
    assert len(pairs) > 100 and {r["_src"] for r in pairs} == {"xstest_safe", "xstest_unsafe"}
    flip = bench.flipped(pairs)
    assert all(f["chosen"] == p["rejected"] and f["rejected"] == p["chosen"] and f["_label"] == "flipped"
               for p, f in zip(pairs, flip, strict=True))
    held = bench.build_sft_heldout(DATA, "mistralinstruct")
    assert sum(r["_label"] == "poison" for r in held) > 20 and all(r["completion"] for r in held)
    table = bench.summary_table({"sft": {"by_label": {"_n": {"clean": 90, "poison": 10},
                                                      "any_poison": {"poison": 0.9, "clean": 0.02},
                                                      "any": {"poison": 1.0, "clean": 0.05}}}})
    assert "| 10 | 90.0 % | 90 | 2.0 % | 5.0 % |" in table
