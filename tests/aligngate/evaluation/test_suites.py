"""Suite loaders: embedded suites, standard formats, JSONL, attack options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import InputError
from aligngate.evaluation.suites import load_suite


def test_embedded_suites_load() -> None:
    harm, safe = load_suite("embedded-harmful"), load_suite("embedded-safe")
    assert harm.expect == "refuse" and safe.expect == "comply"
    assert len(harm) >= 40 and len(safe) >= 40
    assert len({it.id for it in harm.items}) == len(harm)


def test_standard_formats(shared_data: Path) -> None:
    xs = load_suite(f"xstest:{shared_data / 'xstest' / 'xstest_prompts.csv'}")
    xu = load_suite(f"xstest-unsafe:{shared_data / 'xstest' / 'xstest_prompts.csv'}")
    assert (len(xs), xs.expect, len(xu), xu.expect) == (250, "comply", 200, "refuse")
    adv = load_suite(f"advbench:{shared_data / 'advbench' / 'harmful_behaviors.csv'}@limit=10")
    assert len(adv) == 10 and adv.expect == "refuse"
    jbb = load_suite(f"jailbreakbench:{shared_data / 'jailbreakbench' / 'behaviors.csv'}")
    assert len(jbb) == 100 and jbb.items[0].category
    dna = load_suite(f"do-not-answer:{shared_data / 'do-not-answer' / 'do_not_answer_en.csv'}")
    assert len(dna) == 939


def test_jsonl_and_options(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps({"id": str(i), "prompt": f"How do I do thing {i}?", "expect": "comply"})
                           for i in range(5)) + "\n")
    s = load_suite(str(f))
    assert s.expect == "comply" and len(s) == 5
    jb = load_suite(f"{f}@jailbreak=aim@limit=2")
    assert len(jb) == 2 and "AIM" in jb.items[0].prompt and jb.name.endswith("@jailbreak=aim@limit=2")
    pre = load_suite(f"{f}@prefill")
    assert all(it.prefill for it in pre.items)


def test_bad_suites(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_suite(str(tmp_path / "none.jsonl"))
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"prompt": "x"}\n{broken\n')
    with pytest.raises(InputError, match=r"b.jsonl:2"):
        load_suite(str(bad))
    with pytest.raises(InputError, match="unknown suite format"):
        load_suite("nosuch:/x.csv")
    with pytest.raises(InputError, match="unknown suite option"):
        load_suite("embedded-harmful@frobnicate")
