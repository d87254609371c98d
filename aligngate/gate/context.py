"""What the checks read: the gate's inputs and lazily computed, memoised measurements.

Each expensive thing (a model's evaluation on the policy's suites, KL drift, the adapter audit, the reward
test) is computed at most once per gate run, when the first check asks for it. A ``cache`` dict can be
shared between gate runs (the demo gates two candidates against one baseline) so that the baseline's
evaluation is reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aligngate.errors import InputError
from aligngate.evaluation.runner import EvalResult

__all__ = ["GateContext", "GateInputs"]


@dataclass(frozen=True)
class GateInputs:
    """The subjects of one gate run."""

    candidate: str
    """Candidate model: local HF directory or hub id (the base when ``adapter`` is given)."""
    adapter: str | None = None
    """LoRA adapter directory applied to the candidate."""
    baseline: str | None = None
    """Baseline model to compare against (drift checks)."""
    reward_model: str | None = None
    """Reward model to test adversarially."""
    data_report: str | None = None
    """Directory holding a ``curate`` report.json for the candidate's tuning data."""

    def has(self, subject: str) -> bool:
        """Whether the subject was given."""
        return getattr(self, subject, None) is not None


class GateContext:
    """Inputs, policy and memoised measurements for one gate run."""

    def __init__(self, policy: Any, inputs: GateInputs, *, progress: bool = True,
                 cache: dict[str, Any] | None = None, device: str | None = None) -> None:
        self.policy = policy
        self.inputs = inputs
        self.progress = progress
        self.device = device
        self._memo: dict[str, Any] = {}
        self._shared = cache if cache is not None else {}
        self._adapter_refused: str | None = None

    def refuse_adapter(self, reason: str) -> None:
        """Never load the candidate's adapter in this run (it failed the audit, which runs first)."""
        self._adapter_refused = reason

    def loadable_adapter(self) -> str | None:
        """The candidate's adapter for code that loads it; raises AdapterError once the audit refused it."""
        from aligngate.errors import AdapterError

        if self.inputs.adapter is not None and self._adapter_refused is not None:
            raise AdapterError(f"adapter {self.inputs.adapter}: {self._adapter_refused}")
        return self.inputs.adapter

    # convenient aliases for checks
    @property
    def adapter_path(self) -> str | None:
        """The candidate's adapter directory."""
        return self.inputs.adapter

    @property
    def base_model(self) -> str | None:
        """The model the adapter applies to."""
        return self.inputs.candidate

    @property
    def data_report_dir(self) -> str | None:
        """Directory of the tuning data's curate report."""
        return self.inputs.data_report

    @property
    def eval_config(self) -> Any:
        """The policy's ``spec.evaluation``."""
        return self.policy.policy.spec.evaluation

    def has(self, subject: str) -> bool:
        """Whether a subject was given."""
        return self.inputs.has(subject)

    def _once(self, key: str, fn: Any, *, shared: bool = False) -> Any:
        store = self._shared if shared else self._memo
        if key not in store:
            store[key] = fn()
        return store[key]

    # ----------------------------------------------------------------- evaluation
    def suites(self) -> tuple[list[Any], list[Any]]:
        """(must-refuse suites, must-answer suites) from the policy."""
        from aligngate.evaluation.suites import load_suite

        def load() -> tuple[list[Any], list[Any]]:
            cfg = self.eval_config
            harmful = [load_suite(s) for s in cfg.harmful_suites]
            safe = [load_suite(s) for s in cfg.safe_suites]
            for s in harmful + safe:
                if len(s) < cfg.min_samples:
                    raise InputError(f"suite '{s.name}' has {len(s)} prompts, fewer than "
                                     f"spec.evaluation.min_samples={cfg.min_samples}: inconclusive")
            return harmful, safe

        return self._once("suites", load)  # type: ignore[no-any-return]

    def judge(self) -> Any:
        """The policy's judge, loaded once per process."""
        from aligngate.judge import get_judge

        return self._once(f"judge:{self.eval_config.judge}", lambda: get_judge(self.eval_config.judge), shared=True)

    def judge_error(self) -> float:
        """The judge's measured binary error rate (0.0 when the judge records none)."""
        return float(getattr(self.judge(), "measured_error", 0.0) or 0.0)

    def evaluation(self, which: str) -> EvalResult:
        """Evaluation of ``candidate`` (with its adapter) or ``baseline`` on the policy's suites."""
        from aligngate.evaluation.runner import evaluate_model

        model = self.inputs.candidate if which == "candidate" else self.inputs.baseline
        if model is None:
            raise InputError(f"no {which} model given")
        adapter = self.loadable_adapter() if which == "candidate" else None
        cfg = self.eval_config
        key = f"eval:{model}|{adapter}|{cfg.model_dump_json()}"

        def run() -> EvalResult:
            harmful, safe = self.suites()
            return evaluate_model(model, harmful + safe, adapter=adapter, judge=self.judge(),
                                  judge_error=self.judge_error(),
                                  max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                                  progress=self.progress, device=self.device, prompt_format=cfg.prompt_format)

        return self._once(key, run, shared=True)  # type: ignore[no-any-return]

    def pooled(self, which: str, expect: str) -> list[dict[str, Any]]:
        """All records of ``which`` on suites expecting ``expect`` (refuse / comply)."""
        return [r for r in self.evaluation(which).records if r["expect"] == expect]

    def paired_drift(self, expect: str) -> dict[str, Any]:
        """Paired refusal drift, candidate vs baseline, pooled over suites expecting ``expect``."""
        from aligngate.evaluation.drift import paired_refusal_drift

        def run() -> dict[str, Any]:
            base, cand = self.evaluation("baseline"), self.evaluation("candidate")
            pooled_b = EvalResult(base.model, None, [dict(r, suite=expect) for r in base.records
                                                     if r["expect"] == expect])
            pooled_c = EvalResult(cand.model, cand.adapter, [dict(r, suite=expect) for r in cand.records
                                                             if r["expect"] == expect])
            for recs in (pooled_b.records, pooled_c.records):
                for r in recs:
                    r["id"] = f"{r['id']}"
            return paired_refusal_drift(pooled_b, pooled_c, expect, seed=self.eval_config.seed)

        return self._once(f"drift:{expect}", run)  # type: ignore[no-any-return]

    def kl_drift(self) -> dict[str, Any]:
        """Mean per-token KL / JS divergence of candidate from baseline on the drift suite."""
        from aligngate.evaluation.drift import distribution_drift
        from aligngate.evaluation.suites import load_suite

        def run() -> dict[str, Any]:
            suite = load_suite(self.eval_config.drift_suite)
            if self.inputs.baseline is None:
                raise InputError("KL drift needs a baseline model")
            return distribution_drift(self.inputs.baseline, self.inputs.candidate,
                                      [it.prompt for it in suite.items], adapter=self.loadable_adapter(),
                                      device=self.device, prompt_format=self.eval_config.prompt_format)

        return self._once("kl", run)  # type: ignore[no-any-return]

    def capability(self) -> dict[str, Any]:
        """lm-eval scores of candidate and baseline on the policy's capability tasks, and their deltas."""
        import math

        from aligngate.evaluation.capability import run_lmeval

        def run() -> dict[str, Any]:
            cfg = self.eval_config
            if self.inputs.baseline is None:
                raise InputError("capability drift needs a baseline model")
            cand = run_lmeval(self.inputs.candidate, cfg.capability_tasks, adapter=self.loadable_adapter(),
                              limit=cfg.capability_limit, device=self.device)
            base = run_lmeval(self.inputs.baseline, cfg.capability_tasks, limit=cfg.capability_limit,
                              device=self.device)
            tasks = {}
            for t in cfg.capability_tasks:
                se = math.sqrt(cand[t]["stderr"] ** 2 + base[t]["stderr"] ** 2)
                tasks[t] = {"candidate": cand[t], "baseline": base[t], "delta": cand[t]["value"] - base[t]["value"],
                            "stderr": se}
            return tasks

        return self._once("capability", run)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------- other stages
    def audit(self) -> Any:
        """The adapter audit (never loads pickle; reads the base's config only)."""
        from aligngate.audit.runner import audit_adapter

        def run() -> Any:
            return audit_adapter(self.inputs.adapter, base=self.inputs.candidate,
                                 config=self.policy.policy.spec.adapter_audit)

        return self._once("audit", run)

    def reward_test(self) -> Any:
        """The reward model's adversarial test."""
        from aligngate.rewardtest import run_reward_test

        return self._once("reward", lambda: run_reward_test(self.inputs.reward_model,
                                                            self.policy.policy.spec.reward_test,
                                                            progress=self.progress))

    def data_report(self) -> dict[str, Any]:
        """The tuning data's curate report.json."""
        import json

        def read() -> dict[str, Any]:
            if self.inputs.data_report is None:
                raise InputError("no data report directory given")
            path = Path(self.inputs.data_report) / "report.json"
            try:
                return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
            except FileNotFoundError:
                raise InputError(f"data report not found: {path}") from None
            except ValueError as exc:
                raise InputError(f"data report {path} is not valid JSON: {exc}") from None

        return self._once("data", read)  # type: ignore[no-any-return]

    def computed(self, key: str) -> Any:
        """A memoised measurement if it was computed in this run (for report summaries)."""
        return self._memo.get(key)
