"""Shared bits of the flows: the stage task, the outcome of a stage, artifacts, the final state."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from aligngate.verdict import Report

__all__ = ["Outcome", "final_state", "publish", "stage_task"]


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


@dataclass(frozen=True)
class Outcome:
    """How one stage of a flow ended: what the final state and the artifacts say about it."""

    stage: str
    exit_code: int
    out: str | None = None
    message: str = ""

    @classmethod
    def of(cls, stage: str, report: Report, out: str | Path | None) -> Outcome:
        """The outcome a stage's report decided."""
        return cls(stage, report.exit_code, None if out is None else str(out), "; ".join(report.errors))


def publish(stage: str, report: Report, out: str | Path, key: str) -> None:
    """A keyed Markdown artifact (keys: lowercase letters, digits, dashes): the stage's report.md."""
    from aligngate.report import render_markdown

    md = Path(out) / "report.md"
    body = md.read_text(encoding="utf-8") if md.is_file() else render_markdown(report)
    create_markdown_artifact(key=key, markdown=body, description=f"aligngate {stage}")


def final_state(outcomes: list[Outcome], what: str) -> Any:
    """COMPLETED when every stage passed; FAILED with the verdicts otherwise (errors included)."""
    bad = [o for o in outcomes if o.exit_code != 0]
    if not bad:
        return Completed(message=f"{what}: pass", data=[asdict(o) for o in outcomes])
    why = ", ".join(f"{o.stage} {'error' if o.exit_code == 2 else 'blocked'} (exit {o.exit_code})"
                    + (f": {o.message}" if o.message else "") for o in bad)
    return Failed(message=f"{what}: {why}", data=[asdict(o) for o in bad])
