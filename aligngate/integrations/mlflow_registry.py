"""An MLflow model registry as the promotion target: ``--registry mlflow:TRACKING_URI[#alias=NAME]``.

    record = register("mlflow:http://127.0.0.1:5000", "support-bot-adapter", "runs/gate")
    demote("mlflow:http://127.0.0.1:5000", "support-bot-adapter", "nightly re-check blocked")

:func:`register` records one gate decision as a *model version* of the registered model ``name``: an MLflow run
(experiment ``aligngate``) holds the report files as artifacts (``aligngate/report.json|md|html``) and the checks'
values as metrics; the version's source is that run's ``aligngate`` artifact folder and its tags carry the verdict,
the exit code, the sha256 of ``report.json``, the policy (path and sha256) and the sha256 of every subject file.
The alias (``champion`` unless the URI says ``#alias=NAME``) is moved to the version **only when the report
passes**; a blocked candidate may be registered (tagged ``aligngate.verdict=block``) but never aliased.
:func:`demote` (the re-gate flow) removes the alias and tags the version with the reason.

Every MLflow or connection error is an :class:`~aligngate.errors.InputError` naming the tracking URI (exit 2). The
client's HTTP retries are bounded (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` 2 and ``..._TIMEOUT`` 30 s unless set), so an
unreachable server fails in seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aligngate.errors import InputError
from aligngate.fileio import sha256_bytes

__all__ = ["DEFAULT_ALIAS", "PREFIX", "MlflowTarget", "demote", "is_mlflow", "parse_target", "register"]

PREFIX = "mlflow:"
DEFAULT_ALIAS = "champion"
EXPERIMENT = "aligngate"
_REPORT_FILES = ("report.json", "report.md", "report.html")
_TAG_KEY = re.compile(r"[^A-Za-z0-9_.\- /]")


@dataclass(frozen=True)
class MlflowTarget:
    """A parsed ``mlflow:TRACKING_URI[#alias=NAME]``."""

    uri: str
    alias: str = DEFAULT_ALIAS


def is_mlflow(registry: str | os.PathLike[str] | None) -> bool:
    """Whether ``registry`` names an MLflow registry (``mlflow:...``) rather than a local directory."""
    return isinstance(registry, str) and registry.startswith(PREFIX)


def parse_target(registry: str) -> MlflowTarget:
    """``mlflow:URI[#alias=NAME]`` -> :class:`MlflowTarget`; InputError when malformed."""
    if not is_mlflow(registry):
        raise InputError(f"registry {registry!r} is not an MLflow registry (mlflow:TRACKING_URI)")
    rest = registry[len(PREFIX):]
    uri, _, frag = rest.partition("#")
    alias = DEFAULT_ALIAS
    if frag:
        key, _, value = frag.partition("=")
        if key != "alias" or not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", value or ""):
            raise InputError(f"registry {registry!r}: expected mlflow:TRACKING_URI[#alias=NAME] (NAME: letters, "
                             "digits, _ and -)")
        alias = value
    if not uri.strip():
        raise InputError(f"registry {registry!r}: no tracking URI after 'mlflow:'")
    return MlflowTarget(uri=uri, alias=alias)


@contextmanager
def _client(target: MlflowTarget) -> Iterator[Any]:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise InputError(f"registry mlflow:{target.uri}: mlflow is not installed (pip install 'aligngate[mlflow]')") \
            from None
    try:
        yield MlflowClient(tracking_uri=target.uri, registry_uri=target.uri)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any client/server/connection failure: exit 2 naming the endpoint
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"MLflow registry {target.uri}: {type(exc).__name__}: {msg[:500]}") from None


def _tag_key(key: str) -> str:
    return _TAG_KEY.sub("_", key)[:250]


def _tags(report: Any, report_sha: str) -> dict[str, str]:
    tags = {"aligngate.verdict": report.verdict, "aligngate.exit_code": str(report.exit_code),
            "aligngate.report_sha256": report_sha, "aligngate.command": report.command,
            "aligngate.finished_at": report.finished_at or "",
            "aligngate.policy.path": str((report.policy or {}).get("path", "")),
            "aligngate.policy.sha256": str((report.policy or {}).get("sha256", "")),
            "aligngate.failed_checks": ",".join(c.id for c in report.checks
                                                if c.status in ("fail", "error"))[:5000]}
    for role, subject in (report.subjects or {}).items():
        if not isinstance(subject, dict):
            continue
        for key in ("model", "adapter", "path"):
            if isinstance(subject.get(key), str):
                tags[_tag_key(f"aligngate.{role}.{key}")] = subject[key][:5000]
        digests = subject.get("sha256")
        if isinstance(digests, dict):
            for rel, digest in digests.items():
                tags[_tag_key(f"aligngate.sha256.{role}.{rel}")] = str(digest)
    return tags


def register(registry: str, name: str, report_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Register ``report_dir``'s decision as a new version of ``name`` (see the module doc); the alias moves to it
    only on a pass. Returns ``{"seq", "event", "name", "version", "alias", "run_id", "registry",
    "report_sha256"}`` (``seq`` is the version number; ``event`` ``promote`` on a pass, ``register`` on a block)."""
    from aligngate.report.read import parse_report

    target = parse_target(registry)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"registry {registry}: a registered model name must be a non-empty string, got {name!r}")
    rdir = Path(report_dir)
    try:
        files = {n: (rdir / n).read_bytes() for n in _REPORT_FILES if (rdir / n).is_file()}
    except OSError as exc:
        raise InputError(f"cannot read the report in {rdir}: {exc}") from None
    if "report.json" not in files:
        raise InputError(f"{rdir / 'report.json'} not found: nothing to register")
    report = parse_report(files["report.json"], rdir / "report.json")
    if report.status != "complete" or report.exit_code not in (0, 1):
        raise InputError(f"{rdir / 'report.json'}: exit_code {report.exit_code} (status {report.status}): only a "
                         "decided run (pass, or blocked by a measured threshold) is registered")
    passed = report.verdict == "pass" and report.exit_code == 0
    report_sha = sha256_bytes(files["report.json"])
    tags = _tags(report, report_sha)
    with _client(target) as client:
        from mlflow.exceptions import MlflowException

        try:
            client.create_registered_model(name, description="gated by aligngate: the alias "
                                           f"'{target.alias}' marks the version that passed last")
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        exp = client.get_experiment_by_name(EXPERIMENT)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(EXPERIMENT)
        run = client.create_run(exp_id, run_name=f"gate-{name}", tags={**tags, "aligngate.name": name})
        run_id = run.info.run_id
        try:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="aligngate-mlflow-") as tmp:
                for fname, data in files.items():  # the very bytes whose sha256 is tagged
                    (Path(tmp) / fname).write_bytes(data)
                client.log_artifacts(run_id, tmp, artifact_path="aligngate")
            for c in report.checks:
                if c.value is not None and c.status in ("pass", "fail"):
                    client.log_metric(run_id, _tag_key(c.id), float(c.value))
            client.log_param(run_id, "policy_sha256", str((report.policy or {}).get("sha256", "")))
            client.set_terminated(run_id, "FINISHED")
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        mv = client.create_model_version(name, source=f"runs:/{run_id}/aligngate", run_id=run_id, tags=tags,
                                         description=f"aligngate verdict {report.verdict} "
                                                     f"(exit {report.exit_code})")
        if passed:
            client.set_registered_model_alias(name, target.alias, mv.version)
    return {"seq": int(mv.version), "event": "promote" if passed else "register", "name": name,
            "version": int(mv.version), "alias": target.alias if passed else None, "run_id": run_id,
            "registry": registry, "report_sha256": report_sha}


def demote(registry: str, name: str, reason: str) -> dict[str, Any]:
    """Remove the alias from ``name``'s aliased version and tag it ``aligngate.demoted`` with ``reason``.
    InputError when no version of ``name`` holds the alias (as for a local registry: only a live version is
    demoted)."""
    target = parse_target(registry)
    from aligngate.verdict import now_iso

    with _client(target) as client:
        from mlflow.exceptions import MlflowException

        try:
            mv = client.get_model_version_by_alias(name, target.alias)
        except MlflowException as exc:
            raise InputError(f"MLflow registry {target.uri}: {name!r} has no version with alias "
                             f"'{target.alias}': nothing to demote ({getattr(exc, 'error_code', '')})") from None
        client.delete_registered_model_alias(name, target.alias)
        at = now_iso()
        client.set_model_version_tag(name, mv.version, "aligngate.demoted", json.dumps({"at": at, "reason": reason}))
    return {"seq": int(mv.version), "event": "demote", "name": name, "version": int(mv.version),
            "alias": target.alias, "reason": reason, "at": at, "registry": registry}
