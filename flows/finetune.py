"""Fine-tune a candidate: LoRA SFT then DPO (continuing the same adapter), and audit the adapter.

Deployed on a GPU work pool (see ``prefect.yaml``); the same flow runs on CPU for the embedded model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow

from aligngate import pipeline
from aligngate.flows._common import final_state, publish, stage_task


@stage_task
def train_task(method: str, base: str, data: str, out: str, config: str | None = None) -> pipeline.StageResult:
    """``aligngate train`` as a task."""
    return pipeline.train(method, base, data, out, config)


@stage_task
def audit_task(adapter: str, out: str, base: str, policy: str | None) -> pipeline.StageResult:
    """``aligngate audit-adapter`` as a task."""
    return pipeline.audit(adapter, out, base=base, policy=policy)


@flow(name="aligngate-finetune", log_prints=True)
def finetune_flow(base: str, sft_data: str, out: str, dpo_data: str | None = None,
                  policy: str | None = None) -> Any:
    """SFT (then DPO) a LoRA adapter into ``out/adapter`` and audit it."""
    root = Path(out)
    sft = train_task("sft", base, sft_data, str(root / "sft"))
    results = [sft]
    adapter = root / "sft"
    if sft.exit_code == 0 and dpo_data:
        cfg = root / "dpo-config.json"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps({"init_adapter": str(root / "sft")}) + "\n", encoding="utf-8")
        dpo = train_task("dpo", base, dpo_data, str(root / "adapter"), str(cfg))
        results.append(dpo)
        adapter = root / "adapter"
    if all(r.exit_code == 0 for r in results):
        audit = audit_task(str(adapter), str(root / "audit"), base, policy)
        publish(audit, "aligngate-adapter-audit")
        results.append(audit)
    return final_state(results, "finetune")


if __name__ == "__main__":
    finetune_flow.serve(name="finetune")
