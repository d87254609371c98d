"""Policy files: valid ones load; every invalid one names file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aligngate.errors import PolicyError
from aligngate.policy import load_policy, parse_policy_text, policy_json_schema

HEAD = "apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata:\n  name: t\n"


def _err(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as ei:
        parse_policy_text(text, "p.yaml")
    return ei.value


def test_repository_policies_are_valid(repo_root: Path) -> None:
    files = sorted((repo_root / "policies").glob("*.yaml"))
    assert files, "policies/*.yaml missing"
    for f in files:
        lp = load_policy(f)
        assert len(lp.sha256) == 64
        assert lp.policy.spec.checks


def test_published_schema_is_in_sync(repo_root: Path) -> None:
    published = (repo_root / "policies" / "schema" / "policy.v1.json").read_text()
    assert json.loads(published) == json.loads(policy_json_schema()), \
        "regenerate with: aligngate validate-policy --schema > policies/schema/policy.v1.json"


def test_unknown_key_names_line_and_key() -> None:
    e = _err(HEAD + "spec:\n  checks:\n    - id: refusal.harmful_refusal_rate\n      sevrity: block\n")
    assert (e.file, e.line, e.key) == ("p.yaml", 8, "spec.checks.0.sevrity")
    assert "unknown key" in str(e)


@pytest.mark.parametrize(("key", "check"), [("poison_fraction_max", "data.poison_fraction"),
                                            ("chosen_longer_max", "data.reward_hacking.chosen_longer_fraction"),
                                            ("length_spearman_max", "data.reward_hacking.length_spearman")])
def test_moved_curation_limits_say_where_they_live(key: str, check: str) -> None:
    """issue 18: one poison limit (the data.poison_fraction check); an old policy setting it under spec.curation
    fails, naming the key, its line and the check that holds the limit now."""
    e = _err(HEAD + f"spec:\n  curation:\n    judge: rules\n    {key}: 0.05\n")
    assert (e.line, e.key) == (8, f"spec.curation.{key}")
    assert "removed" in str(e) and check in str(e) and "spec.checks" in str(e)


def test_the_packaged_policies_set_the_poison_limit_once() -> None:
    for name in ("default", "strict"):
        lp = load_policy(name)
        assert "poison_fraction_max" not in json.dumps(lp.policy.model_dump())
        spec = lp.check("data.poison_fraction")
        assert spec is not None and spec.threshold is not None and spec.threshold.op == "<="


def test_duplicate_key_rejected_with_both_lines() -> None:
    e = _err(HEAD + "  name: again\n")
    assert e.line == 5 and e.key == "metadata.name" and "first at line 4" in str(e)


def test_unknown_check_id_rejected() -> None:
    e = _err(HEAD + "spec:\n  checks:\n    - id: refusal.nope\n")
    assert e.line == 7 and e.key == "spec.checks.0.id" and "refusal.nope" in str(e)


def test_tags_and_merge_keys_rejected() -> None:
    assert "!function" in str(_err(HEAD + "spec: !function evil.run\n"))
    e = _err(HEAD + "spec:\n  checks:\n    - <<: {severity: block}\n      id: drift.kl_mean\n")
    assert "merge" in str(e) and e.line == 7 and e.key == "spec.checks.0.<<"
    e = _err(HEAD + "base: &b {severity: block}\nspec:\n  checks:\n    - <<: *b\n      id: drift.kl_mean\n")
    assert "anchors" in str(e) and e.line == 5


def test_bad_values_and_syntax() -> None:
    assert _err(HEAD + "spec:\n  evaluation:\n    max_new_tokens: -1\n").key == "spec.evaluation.max_new_tokens"
    e = _err(HEAD + "spec:\n  checks:\n    - id: drift.kl_mean\n      threshold: {op: '~', value: 1}\n")
    assert e.key == "spec.checks.0.threshold.op" and e.line == 8
    assert _err("apiVersion: [x\n").line == 2
    assert "empty" in str(_err(""))
    assert _err("apiVersion: other/v9\nkind: GatePolicy\nmetadata: {name: x}\n").key == "apiVersion"
    assert "twice" in str(_err(HEAD + "spec:\n  checks:\n    - id: drift.kl_mean\n    - id: drift.kl_mean\n"))


def test_load_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(HEAD.encode() + b"spec:\n  \xff\xfe: 1\n")
    with pytest.raises(PolicyError, match="UTF-8") as ei:
        load_policy(bad)
    assert ei.value.line == 6
