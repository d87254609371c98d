"""Fine-tune a candidate: LoRA SFT then DPO (continuing the same adapter), and audit the adapter.

Deployed on a GPU work pool (see ``prefect.yaml``); the same flow runs on CPU for the embedded model. With
``accelerate_config`` (``configs/accelerate/ddp.yaml``, or ``fsdp.yaml`` for a base that does not fit one GPU) each
training stage runs under ``accelerate launch`` on every GPU of the worker (:mod:`aligngate.training.launch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from aligngate.errors import GateError
from aligngate.flows._common import Outcome, final_state, publish, stage_task
from aligngate.stages import audit_adapter, train
from aligngate.training import TrainResult
from aligngate.verdict import Report


@stage_task
def train_task(method: str, base: str, data: str, out: str, init_adapter: str | None = None,
               accelerate_config: str | None = None) -> TrainResult:
    """The train stage as a task (an existing ``out`` is replaced); under ``accelerate launch`` when
    ``accelerate_config`` is given."""
    if accelerate_config:
        from aligngate.training.launch import train_launched

        return train_launched(method, base, data, out, accelerate_config=accelerate_config,
                              init_adapter=init_adapter, overwrite=True)
    return train(method, base, data, out, init_adapter=init_adapter, overwrite=True)


@stage_task
def audit_task(adapter: str, out: str, base: str, policy: str | None) -> Report:
    """The adapter-audit stage as a task."""
    return audit_adapter(adapter, base=base, policy=policy, out=out)


@flow(name="aligngate-finetune", log_prints=True)
def finetune_flow(base: str, sft_data: str, out: str, dpo_data: str | None = None,
                  policy: str | None = None, accelerate_config: str | None = None) -> Any:
    """SFT (then DPO, continuing the SFT adapter) a LoRA adapter into ``out/adapter`` and audit it; on several
    GPUs with ``accelerate_config``."""
    root = Path(out)
    steps: list[tuple[str, str, str, Path, Path | None]] = [("train-sft", "sft", sft_data, root / "sft", None)]
    if dpo_data:
        steps.append(("train-dpo", "dpo", dpo_data, root / "adapter", root / "sft"))
    outcomes: list[Outcome] = []
    adapter = root / "sft"
    for stage, method, data, dest, init in steps:
        try:
            train_task(method, base, data, str(dest), None if init is None else str(init), accelerate_config)
        except GateError as exc:  # training decides nothing: its failure is an error of the flow (exit 2)
            return final_state([*outcomes, Outcome(stage, 2, str(dest), str(exc))], "finetune")
        outcomes.append(Outcome(stage, 0, str(dest)))
        adapter = dest
    report = audit_task(str(adapter), str(root / "audit"), base, policy)
    publish("audit-adapter", report, root / "audit", "aligngate-adapter-audit")
    return final_state([*outcomes, Outcome.of("audit", report, root / "audit")], "finetune")


if __name__ == "__main__":
    finetune_flow.serve(name="finetune")
