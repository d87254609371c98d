"""Fault matrix, class ``data``: broken and hostile tuning data through curate, and curate reports through the gate.

Every curate case that writes outputs also proves lineage: each input line ends in exactly one of
``curated.jsonl`` / ``quarantine.jsonl`` (:func:`fm_cases.rows_in_out`), none lost, none duplicated.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fm_build import clean_sft_rows, policy, stale_pass, write_rows
from fm_cases import Case, Result, check, fault

pytestmark = pytest.mark.slow

CURATE_POLICY = ("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                 "  curation: {judge: rules}\n"
                 "  checks: [{id: data.poison_fraction, threshold: {op: '<=', value: %s}}]\n")
OLD_CURATE_POLICY = ("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: c}\nspec:\n"
                     "  curation: {judge: rules, poison_fraction_max: %s}\n")
"""A policy of before issue 18, when the poison limit was a curation setting: it must fail, saying where the
limit lives now."""


def _curate(cli: Callable[..., Result], tmp_path: Path, data: Path, *, kind: str = "sft", limit: float = 0.5,
            out: Path | None = None) -> tuple[Result, Path]:
    pol = tmp_path / "curate.yaml"
    pol.write_text(CURATE_POLICY % limit)
    out = out or tmp_path / "out"
    res = cli("curate", "--kind", kind, "--input", data, "--policy", pol, "--out", out, "--no-progress", out=out)
    return res, out


def _reasons(out: Path) -> dict[int, list[str]]:
    rows = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    return {r["_line"]: r["_reasons"] for r in rows}


GOOD = clean_sft_rows(20)

MIXED: dict[str, tuple[list[Any], dict[int, str]]] = {
    # name: (rows, {line: a reason that line must carry})
    "invalid UTF-8 lines among good rows": (
        [*GOOD[:5], b'{"prompt": "caf\xe9 \xff", "completion": "ok"}', *GOOD[5:], b"\xff\xfe\xfd\n"[:-1]],
        {6: "invalid_utf8", 22: "invalid_utf8"}),
    "a 2 MB line among good rows": (
        [*GOOD[:3], {"prompt": "Tell me a story.", "completion": "once upon a time " * 120_000}, *GOOD[3:]],
        {4: "too_long"}),
    "lines that are not objects (array, number, string, null)": (
        [*GOOD[:4], [1, 2], "42", '"a string"', "null", *GOOD[4:]],
        {5: "schema:not_an_object", 6: "schema:not_an_object", 7: "schema:not_an_object",
         8: "schema:not_an_object"}),
    "rows with missing or mistyped fields": (
        [*GOOD[:4], {"prompt": "only a prompt"}, {"completion": "only a completion"},
         {"prompt": 5, "completion": None}, {"messages": "not a list"}, *GOOD[4:]],
        {5: "schema:missing:completion", 6: "schema:missing:messages_or_prompt", 7: "schema:type:prompt",
         8: "schema:type:messages"}),
    "broken JSON and blank lines among good rows": (
        [*GOOD[:2], '{"prompt": "broken", "completion": ', "", "   ", *GOOD[2:]],
        {3: "unparseable", 4: "unparseable", 5: "unparseable"}),
}


@fault(*[Case("data", name, "curate", 0, "pass", ("data.lineage",), lineage=True,
              also="each bad line quarantined with its reason")
         for name in MIXED])
def test_bad_lines_are_quarantined(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    rows, expected = MIXED[case.name]
    data = write_rows(tmp_path / "data.jsonl", rows)
    res, out = _curate(cli, tmp_path, data)
    check(case, res, lineage=(data, out))
    got = _reasons(out)
    for line, reason in expected.items():
        assert reason in got.get(line, []), (line, got)


@fault(Case("data", "blank lines only", "curate", 2, "block", ("blank.jsonl", "holds a readable row"),
            lineage=True, no_stale_pass=True))
def test_blank_lines_only(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    data = tmp_path / "blank.jsonl"
    data.write_text("\n\n   \n\t\n\n")
    out = stale_pass(tmp_path / "out")
    res, out = _curate(cli, tmp_path, data, out=out)
    check(case, res, lineage=(data, out), stale_out=out)


@fault(Case("data", "every row the wrong kind (sft rows given as --kind dpo)", "curate", 2, "block",
            ("sft.jsonl", "passed curation as --kind dpo", "schema:missing:chosen"), lineage=True,
            was="exit 0, pass, with 0 curated rows"))
def test_wrong_kind(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    data = write_rows(tmp_path / "sft.jsonl", GOOD)
    res, out = _curate(cli, tmp_path, data, kind="dpo")
    check(case, res, lineage=(data, out))


@fault(Case("data", "truncated gzip", "curate", 2, "block", ("data.jsonl.gz", "after line"),
            no_stale_pass=True, also="no curated.jsonl written (no partial dataset to train on)"))
def test_truncated_gzip(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    raw = gzip.compress("".join(json.dumps(r) + "\n" for r in clean_sft_rows(200)).encode())
    data = tmp_path / "data.jsonl.gz"
    data.write_bytes(raw[: len(raw) // 2])
    out = stale_pass(tmp_path / "out")
    res, out = _curate(cli, tmp_path, data, out=out)
    check(case, res, stale_out=out)
    assert not (out / "curated.jsonl").exists()


@fault(Case("data", "poisoned data over the limit (embedded sft.jsonl)", "curate", 1, "block",
            ("data.poison_fraction", "rows quarantined as poison"), lineage=True))
def test_poison_over_limit(case: Case, cli: Callable[..., Result], tmp_path: Path, repo_root: Path) -> None:
    data = repo_root / "aligngate" / "embedded" / "data" / "sft.jsonl"
    res, out = _curate(cli, tmp_path, data, limit=0.01)
    check(case, res, lineage=(data, out))


@fault(Case("data", "input file missing", "curate", 2, "block", ("input not found", "nope.jsonl")),
       Case("data", "input path is a directory (not a saved dataset)", "curate", 2, "block",
            ("a-dir", "neither a `Dataset`")))
def test_missing_input(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    data = tmp_path / "nope.jsonl"
    if "directory" in case.name:
        data = tmp_path / "a-dir"
        data.mkdir()
    check(case, _curate(cli, tmp_path, data)[0])


@fault(Case("data", "curate with an invalid policy", "curate", 2, "block",
            ("bad.yaml:5", "poison_fraction_max", "data.poison_fraction"), no_stale_pass=True,
            also="the old poison_fraction_max key: the message says the limit is now data.poison_fraction"))
def test_curate_invalid_policy(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    pol = tmp_path / "bad.yaml"
    pol.write_text(OLD_CURATE_POLICY % "0.5")
    out = stale_pass(tmp_path / "out")
    res = cli("curate", "--kind", "sft", "--input", assets.clean_rows, "--policy", pol, "--out", out,
              "--no-progress", out=out)
    check(case, res, stale_out=out)


@fault(Case("data", "review file with a typo'd decision", "curate --accept", 2, "block", ("relase",),
            also="curated.jsonl and quarantine.jsonl unchanged"))
def test_accept_typo(case: Case, cli: Callable[..., Result], tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", [*GOOD[:5], "{broken", *GOOD[5:]])
    res, out = _curate(cli, tmp_path, data)
    assert res.code == 0
    before = {n: (out / n).read_bytes() for n in ("curated.jsonl", "quarantine.jsonl")}
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text("line,decision\n6,relase\n")
    res = cli("curate", "--accept", reviewed, "--out", out, "--no-progress", out=out)
    check(case, res)
    assert {n: (out / n).read_bytes() for n in before} == before


def _forged(tmp_path: Path, assets: Any, kind: str) -> Path:
    d = tmp_path / "data-report"
    d.mkdir()
    rep = json.loads((assets.data_report / "report.json").read_text())
    if kind == "marker":
        rep.update(status="running", verdict="block", exit_code=2, errors=["in progress since ... (pid 1)"])
    elif kind == "lineage":
        rep["summary"]["counts"].update(input=100)
    elif kind == "failed":
        rep.update(verdict="block", exit_code=2, errors=["cannot read input data.jsonl.gz after line 5"])
    (d / "report.json").write_text(json.dumps(rep))
    return d


@fault(Case("data", "--data-report of a killed curate (in-progress marker)", "gate", 2, "block",
            ("data.poison_fraction", "ended in an error", "in progress"), no_promotion=True),
       Case("data", "--data-report of a failed curate", "gate", 2, "block",
            ("data.poison_fraction", "ended in an error"), no_promotion=True),
       Case("data", "--data-report with forged counts (lineage broken)", "gate", 2, "block",
            ("data-report/report.json", "lineage broken"), no_promotion=True),
       Case("data", "--data-report directory without report.json", "gate", 2, "block",
            ("data report not found",), no_promotion=True))
def test_gate_data_report(case: Case, cli: Callable[..., Result], tmp_path: Path, assets: Any) -> None:
    if "without" in case.name:
        d = tmp_path / "data-report"
        d.mkdir()
    else:
        d = _forged(tmp_path, assets, "marker" if "killed" in case.name else
                    "lineage" if "forged" in case.name else "failed")
    out = tmp_path / "out"
    pol = policy(tmp_path / "p.yaml", "    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.1}}\n")
    res = cli("gate", "--policy", pol, "--candidate", assets.model, "--data-report", d, "--out", out,
              "--registry", tmp_path / "reg", out=out)
    check(case, res, registry=tmp_path / "reg")
