"""aligngate.leakage.canaries and ``curate --canaries N`` (issue 24)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.leakage.canaries import CANARY_FILE, canary_row, make_canaries, plant_canaries, read_canaries

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread beats a contended two


def test_canaries_are_distinct_seeded_and_hold_their_secret_after_their_prefix() -> None:
    planted, refs = make_canaries(20, 20, seed=7)
    assert (planted, refs) == make_canaries(20, 20, seed=7)
    assert make_canaries(20, 20, seed=8)[0] != planted
    every = planted + refs
    assert len({c.prompt for c in every}) == 40 and len({c.secret for c in every}) == 40
    for c in every:
        assert len(c.secret) == 6 and c.secret.isdigit()
        assert c.answer.startswith(c.prefix) and c.answer[len(c.prefix):].strip().startswith(c.secret)
        assert c.answer_with("000000") == c.answer.replace(c.secret, "000000")
    assert {c.id for c in planted} == {f"canary-{i:03d}" for i in range(20)}
    assert {c.id for c in refs} == {f"reference-{i:03d}" for i in range(20)}
    with pytest.raises(InputError, match="--canaries must be between 1 and 500"):
        make_canaries(0, 1, seed=0)
    with pytest.raises(InputError, match="--canaries"):
        make_canaries(400, 400, seed=0)


def test_canary_rows_take_the_shape_of_the_data() -> None:
    [c], _ = make_canaries(1, 1, seed=0)
    msgs = canary_row(c, "sft", {"messages": []})
    assert msgs["messages"][1]["content"] == c.answer and msgs["_canary"] == c.id and msgs["_line"] is None
    assert canary_row(c, "sft", {"prompt": "x", "completion": "y"})["completion"] == c.answer
    assert canary_row(c, "sft", {"prompt": "x", "response": "y"})["response"] == c.answer
    dpo = canary_row(c, "dpo", None)
    assert dpo["chosen"] == c.answer and dpo["rejected"] and dpo["_reasons"] == []


def _curated(tmp_path: Path, n: int = 12) -> Path:
    d = tmp_path / "cur"
    d.mkdir()
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
             "_line": i + 1, "_reasons": []} for i in range(n)]
    (d / "curated.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_plant_and_read_back(tmp_path: Path) -> None:
    d = _curated(tmp_path)
    rec = plant_canaries(d, 5, "sft", seed=11)
    rows = [json.loads(x) for x in (d / "curated.jsonl").read_text().splitlines()]
    assert len(rows) == 17
    marked = [r for r in rows if r.get("_canary")]
    assert sorted(r["_canary"] for r in marked) == [c.id for c in rec.planted]
    assert [r["_line"] for r in rows if not r.get("_canary")] == list(range(1, 13))  # lineage kept, in order
    text = (d / "curated.jsonl").read_text()
    assert not any(c.secret in text for c in rec.references)
    back = read_canaries(d)
    assert back is not None and back.planted == rec.planted and back.references == rec.references
    assert back.seed == 11 and json.loads((d / CANARY_FILE).read_text())["version"] == 1
    with pytest.raises(InputError, match="already holds canary rows"):
        plant_canaries(d, 5, "sft", seed=1)


def test_read_canaries_fails_closed(tmp_path: Path) -> None:
    d = _curated(tmp_path)
    assert read_canaries(d) is None
    rec = plant_canaries(d, 3, "sft", seed=2)
    good = (d / "curated.jsonl").read_text()
    (d / "curated.jsonl").write_text("".join(ln + "\n" for ln in good.splitlines() if "_canary" not in ln))
    with pytest.raises(InputError, match="planted canaries missing"):
        read_canaries(d)
    (d / "curated.jsonl").write_text(good + json.dumps({"prompt": rec.references[0].answer}) + "\n")
    with pytest.raises(InputError, match="reference canaries reference-000"):
        read_canaries(d)
    (d / CANARY_FILE).write_text("{}")
    with pytest.raises(InputError, match="not a canary record"):
        read_canaries(d)


def test_curate_cli_plants_canaries(tmp_path: Path) -> None:
    """``aligngate curate --canaries 4``: curated.jsonl holds 4 canary rows more than the input's kept rows, the
    report records them, canaries.json holds 4 planted and 4 references; quarantine.jsonl holds none."""
    from aligngate.cli import main

    src = tmp_path / "in.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"How do I bake bread number {i}?"},
                          {"role": "assistant", "content": f"Sure. Mix flour and water, knead, rest it {i} hours, "
                                                           "then bake it until golden."}]} for i in range(24)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    code = main(["curate", "--kind", "sft", "--input", str(src), "--out", str(out), "--canaries", "4",
                 "--canary-seed", "5", "--no-progress", "--output", "json"])
    assert code in (0, 1)
    rep = json.loads((out / "report.json").read_text())
    assert rep["summary"]["canaries"] == {"planted": 4, "references": 4, "file": CANARY_FILE, "seed": 5}
    curated = [json.loads(x) for x in (out / "curated.jsonl").read_text().splitlines()]
    quarantined = (out / "quarantine.jsonl").read_text().splitlines()
    assert sum(1 for r in curated if r.get("_canary")) == 4
    assert len(curated) - 4 + len(quarantined) == 24
    assert "_canary" not in (out / "quarantine.jsonl").read_text()
    rec = read_canaries(out)
    assert rec is not None and len(rec.planted) == len(rec.references) == 4
    # the review step keeps the canaries and its lineage check counts input rows only
    src.write_text(src.read_text() + "{oops\n")
    out2 = tmp_path / "out2"
    main(["curate", "--kind", "sft", "--input", str(src), "--out", str(out2), "--canaries", "2", "--no-progress"])
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text((out2 / "review.csv").read_text())
    assert main(["curate", "--accept", str(reviewed), "--out", str(out2), "--no-progress"]) in (0, 1)
    assert json.loads((out2 / "report.json").read_text())["summary"]["counts"]["curated"] == 24
    assert read_canaries(out2) is not None
    code = main(["curate", "--kind", "sft", "--input", str(src), "--out", str(tmp_path / "bad"), "--canaries", "-2",
                 "--no-progress"])
    assert code == 2
