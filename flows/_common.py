"""Shared bits of the flows: the stage task, artifacts, final state."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from aligngate.pipeline import StageResult


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only infrastructure hiccups (OS errors), never a verdict or a bad input."""
    try:
        state.result()
    except (ConnectionError, TimeoutError):
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


stage_task = task(retries=1, retry_delay_seconds=5, retry_condition_fn=_transient, persist_result=False)


def publish(result: StageResult, key: str) -> None:
    """A keyed Markdown artifact from the stage's report (keys: lowercase letters, digits, dashes)."""
    from pathlib import Path

    md = Path(result.out or ".") / "report.md"
    body = md.read_text(encoding="utf-8") if md.is_file() else (
        f"## {result.stage}: exit {result.exit_code}\n\n```json\n{result.stdout}\n```\n")
    create_markdown_artifact(key=key, markdown=body, description=f"aligngate {result.stage}")


def final_state(results: list[StageResult], what: str) -> Any:
    """COMPLETED when every stage passed; FAILED with the verdicts otherwise (errors included)."""
    bad = [r for r in results if r.exit_code != 0]
    if not bad:
        return Completed(message=f"{what}: pass", data=[r.__dict__ for r in results])
    why = ", ".join(f"{r.stage} {'error' if r.exit_code == 2 else 'blocked'} (exit {r.exit_code})" for r in bad)
    return Failed(message=f"{what}: {why}", data=[r.__dict__ for r in bad])
