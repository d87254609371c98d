"""``--registry mlflow:URI``: against a real MLflow tracking server (SQLite backend, artifacts served) started on
loopback by the module, read back with MLflow's own client. The alias moves only on pass; a blocked candidate is
registered without it; demotion removes it; an unreachable server is exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with a SQLite store in a temp dir; stopped (its process group) at the end."""
    d = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    log = (d / "server.log").open("w")
    proc = subprocess.Popen([str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}",
                             "--artifacts-destination", str(d / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {(d / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _gate(run_cli: Callable[..., tuple[int, str, str]], policy: Path, base: Path, adapter: Path, out: Path,
          registry: str, name: str = "support-bot") -> tuple[int, str]:
    code, _, err = run_cli("gate", "--policy", policy, "--candidate", base, "--adapter", adapter, "--out", out,
                           "--registry", registry, "--name", name, "--output", "json")
    return code, err


def _versions(client: Any, name: str) -> dict[int, Any]:
    return {int(v.version): v for v in client.search_model_versions(f"name='{name}'")}


def test_alias_moves_on_pass_only(mlflow_uri: str, tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                                  audit_only_policy: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    registry = f"mlflow:{mlflow_uri}"

    code, err = _gate(run_cli, audit_only_policy, ci_base, ci_adapter("candidate-A"), tmp_path / "gA", registry)
    assert code == 0, err
    assert client.get_registered_model("support-bot").aliases == {"champion": "1"}
    v1 = client.get_model_version("support-bot", "1")
    report_a = (tmp_path / "gA" / "report.json").read_bytes()
    assert v1.tags["aligngate.verdict"] == "pass" and v1.tags["aligngate.exit_code"] == "0"
    assert v1.tags["aligngate.report_sha256"] == hashlib.sha256(report_a).hexdigest()
    assert v1.tags["aligngate.policy.path"] == json.loads(report_a)["policy"]["path"]
    assert Path(v1.tags["aligngate.policy.path"]).resolve() == audit_only_policy.resolve()
    assert v1.tags["aligngate.policy.sha256"] == hashlib.sha256(audit_only_policy.read_bytes()).hexdigest()
    assert v1.tags["aligngate.sha256.candidate.adapter/adapter_model.safetensors"] == hashlib.sha256(
        (tmp_path / "candidate-A" / "adapter_model.safetensors").read_bytes()).hexdigest()
    # the report itself is the version's artifact: the very bytes whose sha256 is tagged
    local = Path(client.download_artifacts(v1.run_id, "aligngate/report.json", str(tmp_path / "dl")))
    assert local.read_bytes() == report_a
    assert client.get_run(v1.run_id).data.metrics["adapter.audit"] == 0.0

    code, err = _gate(run_cli, audit_only_policy, ci_base, ci_adapter("candidate-B", nan=True), tmp_path / "gB",
                      registry)
    assert code == 1 and "no alias" in err
    v2 = client.get_model_version("support-bot", "2")
    assert v2.tags["aligngate.verdict"] == "block" and "adapter.audit" in v2.tags["aligngate.failed_checks"]
    assert client.get_registered_model("support-bot").aliases == {"champion": "1"}  # never on a block
    assert client.get_model_version_by_alias("support-bot", "champion").version == "1"

    code, _ = _gate(run_cli, audit_only_policy, ci_base, ci_adapter("candidate-C"), tmp_path / "gC", registry)
    assert code == 0
    assert client.get_registered_model("support-bot").aliases == {"champion": "3"}
    assert sorted(_versions(client, "support-bot")) == [1, 2, 3]


def test_custom_alias_and_demotion(mlflow_uri: str, tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                                   audit_only_policy: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    from mlflow import MlflowClient

    from aligngate.errors import InputError
    from aligngate.stages import demote

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    registry = f"mlflow:{mlflow_uri}#alias=production"
    code, _ = _gate(run_cli, audit_only_policy, ci_base, ci_adapter("x"), tmp_path / "g", registry, name="other")
    assert code == 0
    assert client.get_registered_model("other").aliases == {"production": "1"}
    record = demote(registry, "other", "nightly re-check blocked")
    assert record["event"] == "demote" and record["version"] == 1
    assert client.get_registered_model("other").aliases == {}
    assert "nightly re-check blocked" in client.get_model_version("other", "1").tags["aligngate.demoted"]
    with pytest.raises(InputError, match="nothing to demote"):
        demote(registry, "other", "again")


def test_unreachable_server_is_exit_2(tmp_path: Path, ci_base: Path, ci_adapter: Callable[..., Path],
                                      audit_only_policy: Path, run_cli: Callable[..., tuple[int, str, str]],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from aligngate.report import read_report

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://127.0.0.1:{_free_port()}"
    code, err = _gate(run_cli, audit_only_policy, ci_base, ci_adapter("a"), tmp_path / "g", f"mlflow:{uri}")
    assert code == 2 and uri in err
    report = read_report(tmp_path / "g" / "report.json")
    assert report.verdict == "block" and report.exit_code == 2 and any(uri in e for e in report.errors)


@pytest.mark.parametrize("bad", ["mlflow:", "mlflow:http://h#alias=", "mlflow:http://h#version=3",
                                 "mlflow:http://h#alias=a b"])
def test_malformed_registry_uri(bad: str) -> None:
    from aligngate.errors import InputError
    from aligngate.integrations.mlflow_registry import parse_target

    with pytest.raises(InputError, match="mlflow"):
        parse_target(bad)
