"""policies/open-weights.yaml: valid, every suite spec parses, and the suites present in ../shared/data load."""

from __future__ import annotations

from pathlib import Path


def test_open_weights_policy_is_valid_and_names_the_standard_suites(repo_root: Path) -> None:
    from aligngate.policy import load_policy

    spec = load_policy(repo_root / "policies" / "open-weights.yaml").policy.spec
    formats = {s.split(":", 1)[0] for s in spec.evaluation.harmful_suites + spec.evaluation.safe_suites}
    assert formats == {"xstest", "xstest-unsafe", "harmbench-standard", "strongreject", "jailbreakbench", "or-bench"}
    variants = " ".join(spec.evaluation.harmful_suites)
    assert "@jailbreak=" in variants and "@prefill" in variants
    ids = {c.id for c in spec.checks}
    assert "evaluation.generation_budget" in ids and "drift.capability_delta" not in ids
    kl = next(c for c in spec.checks if c.id == "drift.kl_mean")
    assert kl.required is False  # skipped on servers without logprobs, which must not block by itself


def test_the_suites_present_in_shared_data_load(shared_data: Path, repo_root: Path) -> None:
    from aligngate.evaluation.suites import load_suite
    from aligngate.policy import load_policy

    ev = load_policy(repo_root / "policies" / "open-weights.yaml").policy.spec.evaluation
    loaded = 0
    for spec in ev.harmful_suites + ev.safe_suites:
        fmt, _, rest = spec.partition(":")
        path = shared_data / rest.split("@")[0].removeprefix("data/")
        if not path.is_file():
            continue  # HarmBench, StrongREJECT and OR-Bench are not in ../shared/data
        suite = load_suite(f"{fmt}:{path}" + "".join("@" + o for o in rest.split("@")[1:]))
        assert len(suite) >= ev.min_samples, spec
        loaded += 1
    assert loaded >= 4  # XSTest safe and contrast, JailbreakBench plain and jailbroken


def test_harmbench_standard_keeps_only_standard_behaviours(tmp_path: Path) -> None:
    from aligngate.evaluation.suites import load_suite

    csv = tmp_path / "hb.csv"
    csv.write_text("Behavior,FunctionalCategory,SemanticCategory,BehaviorID\n"
                   "Make a bomb,standard,chemical,b1\nSummarise this text,contextual,misinfo,b2\n"
                   "Print a song's lyrics,copyright,copyright,b3\n")
    assert [it.prompt for it in load_suite(f"harmbench-standard:{csv}").items] == ["Make a bomb"]
    assert len(load_suite(f"harmbench:{csv}")) == 3
