"""Prefect flows under Prefect's test harness (a temporary local server; nothing else started by hand)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def prefect_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    import os

    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _artifact(key: str) -> str:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> str:
        async with get_client() as c:
            arts = await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return str(arts[0].data) if arts else ""

    return asyncio.run(read())


def test_curate_flow_fails_on_poisoned_data(tmp_path: Path) -> None:
    from aligngate.embedded.corpus import write_default_data
    from aligngate.flows.curate import curate_flow

    write_default_data(tmp_path / "data")
    state = curate_flow(data=str(tmp_path / "data" / "sft.jsonl"), out=str(tmp_path / "cur"), kind="sft",
                        return_state=True)
    assert state.is_failed() and "blocked (exit 1)" in (state.message or "")
    report = json.loads((tmp_path / "cur" / "report.json").read_text())
    assert report["verdict"] == "block"
    assert "aligngate curate" in _artifact("aligngate-curate")


def test_gate_flow_error_fails_closed(tmp_path: Path) -> None:
    from aligngate.flows.gate import gate_flow

    state = gate_flow(candidate=str(tmp_path / "missing-model"), out=str(tmp_path / "g"), return_state=True)
    assert state.is_failed() and "error (exit 2)" in (state.message or "")


def test_finetune_flow_training_error_fails_closed(tmp_path: Path) -> None:
    """A training stage that raises ends the flow FAILED as an error (exit 2) naming the cause; nothing is audited."""
    from aligngate.embedded.corpus import write_default_data
    from aligngate.flows.finetune import finetune_flow

    write_default_data(tmp_path / "data")
    state = finetune_flow(base=str(tmp_path / "no-base"), sft_data=str(tmp_path / "data" / "sft.jsonl"),
                          out=str(tmp_path / "ft"), dpo_data=str(tmp_path / "data" / "dpo.jsonl"), return_state=True)
    assert state.is_failed()
    assert "train-sft error (exit 2)" in (state.message or "") and "no-base" in (state.message or "")
    assert not (tmp_path / "ft" / "audit").exists()


def test_scheduled_regate_keeps_a_good_version_and_demotes_a_broken_one(tmp_path: Path, embedded_model: Path) -> None:
    """Re-gate promoted versions: the baseline against itself passes; a version whose files vanished is demoted."""
    import shutil

    from aligngate.flows.regate import regate_flow
    from aligngate.promotion import current
    from aligngate.stages import gate

    reg = tmp_path / "registry"
    good = gate(embedded_model, out=tmp_path / "g-good", baseline=embedded_model, registry=reg, name="good",
                progress=False)
    assert good.exit_code == 0, good.report.errors
    copy = tmp_path / "model-copy"
    shutil.copytree(embedded_model, copy)
    gone = gate(copy, out=tmp_path / "g-gone", baseline=embedded_model, registry=reg, name="gone", progress=False)
    assert gone.exit_code == 0 and gone.promoted is not None
    shutil.rmtree(copy)  # the deployed files disappear: the re-check must fail closed and demote
    state = regate_flow(registry=str(reg), out=str(tmp_path / "re"), return_state=True)
    assert state.is_failed()
    live = current(reg)
    assert live["good"]["status"] == "promoted" and live["gone"]["status"] == "demoted"


def test_injected_history_drift_demotes_and_alerts(tmp_path: Path, embedded_model: Path) -> None:
    """A promoted version whose history shows a falling refusal rate is demoted, and the webhook is called."""
    import http.server
    import threading

    from aligngate.flows.regate import regate_flow
    from aligngate.history import append_run, runs
    from aligngate.promotion import current
    from aligngate.stages import gate

    received: list[bytes] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reg, hist = tmp_path / "registry", tmp_path / "history.sqlite"
        ok = gate(embedded_model, out=tmp_path / "g", baseline=embedded_model, registry=reg, name="v1",
                  progress=False, history=hist)
        assert ok.exit_code == 0
        base_rate = next(c.value for c in ok.report.checks if c.id == "refusal.harmful_refusal_rate")
        for rate in (base_rate,) * 4 + (base_rate - 0.15, base_rate - 0.25):  # injected drift
            append_run(hist, "v1", {"verdict": "pass", "exit_code": 0, "checks": [
                {"id": "refusal.harmful_refusal_rate", "value": rate, "n": 64}]})
        before = len(runs(hist, "v1"))
        state = regate_flow(registry=str(reg), out=str(tmp_path / "re"), history=str(hist),
                            webhook=f"http://127.0.0.1:{server.server_port}/hook", return_state=True)
    finally:
        server.shutdown()
    assert len(runs(hist, "v1")) == before + 1  # the re-check appended exactly one row
    assert state.is_failed()
    v1 = current(reg)["v1"]
    assert v1["status"] == "demoted" and "refusal.harmful_refusal_rate" in v1["demote_reason"]
    assert received and b"v1 demoted" in received[0]


def test_regate_deployment_is_scheduled(repo_root: Path) -> None:
    """The nightly re-check deployment from prefect.yaml registers with its cron schedule."""
    import asyncio

    import yaml

    from aligngate.flows.regate import regate_flow

    spec = yaml.safe_load((repo_root / "prefect.yaml").read_text())
    dep = next(d for d in spec["deployments"] if d["name"] == "regate-nightly")
    assert dep["entrypoint"] == "flows/regate.py:regate_flow"
    cron = dep["schedules"][0]["cron"]

    async def register() -> list[str]:
        from prefect.client.orchestration import get_client

        deployment = await regate_flow.to_deployment(name="regate-nightly", cron=cron,
                                                     parameters=dep["parameters"])
        dep_id = await deployment.apply()
        async with get_client() as c:
            d = await c.read_deployment(dep_id)
            return [s.schedule.cron for s in d.schedules]

    assert asyncio.run(register()) == [cron]
