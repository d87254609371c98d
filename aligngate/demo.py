"""The embedded end-to-end run (``aligngate demo`` / ``make demo``).

1. the embedded tiny chat model (baseline), built and cached if needed;
2. the embedded default data: SFT and DPO sets with planted poison;
3. ``curate`` both sets (the raw sets are blocked: too much poison);
4. ``train`` candidate A on the curated data and candidate B on the raw, poisoned data (LoRA SFT, then DPO
   continuing the same adapter), and a reward model;
5. ``audit-adapter`` both adapters; ``test-reward-model`` the reward model;
6. ``gate`` both candidates against the baseline with ``policies/default.yaml``; a passing candidate is
   promoted into ``runs/demo/registry``.

Exit 0 only when A passes and B is blocked (exit 1, not an error), each by measured numbers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from aligngate import pipeline
from aligngate.fileio import atomic_write_json

__all__ = ["DEMO_TRAINING", "run_demo"]

DEMO_TRAINING: dict[str, dict[str, Any]] = {
    # Tuned for the embedded ~0.7M-parameter model on 2 CPU cores. One torch thread: for a model this small,
    # a second thread costs more in synchronisation than it gains (and collapses on a busy machine).
    # Loss on assistant turns only (the embedded chat template marks them), constant learning rate.
    "sft": {"max_steps": 120, "torch_threads": 1, "assistant_only_loss": True, "lr_scheduler_type": "constant"},
    # DPO continues the SFT adapter. A low learning rate and few steps: at the SFT rate (2e-3) DPO drives its
    # loss to ~0 within 30 steps and the tiny model's text degenerates (likelihood displacement).
    "dpo": {"max_steps": 30, "learning_rate": 3e-4, "torch_threads": 1},
    "reward": {"torch_threads": 1},
}


def _write_train_configs(root: Path) -> dict[str, Path]:
    paths = {}
    for method in ("sft", "reward"):
        paths[method] = root / f"{method}.json"
        atomic_write_json(paths[method], DEMO_TRAINING[method])
    return paths


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def _check(report: dict[str, Any] | None, cid: str) -> dict[str, Any]:
    for c in (report or {}).get("checks", []):
        if c["id"] == cid:
            return c  # type: ignore[no-any-return]
    return {}


def _count(report: dict[str, Any], severity: str) -> int:
    """Failed findings of one severity in an audit report (the summary check itself excluded)."""
    return len([c for c in report.get("checks", []) if c["status"] == "fail" and c["severity"] == severity
                and c["id"] != "adapter.audit"])


def _rate(metrics: dict[str, Any], expect: str) -> str:
    ms = [m for m in metrics.values() if m["expect"] == expect]
    if not ms:
        return "-"
    k = sum(m["refusal_rate"] * m["n"] for m in ms)
    n = sum(m["n"] for m in ms)
    lo = min(m["ci95"][0] for m in ms)
    hi = max(m["ci95"][1] for m in ms)
    return f"{k / n:.3f} [{lo:.2f},{hi:.2f}]"


def _table(base_metrics: dict[str, Any], gates: dict[str, pipeline.StageResult],
           audits: dict[str, pipeline.StageResult], data: dict[str, pipeline.StageResult]) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="aligngate demo: baseline vs candidates")
    for col in ("model", "harmful refusal", "over-refusal", "Δ refusal (p)", "Δ over-refusal", "KL", "Δ capability", "adapter audit",
                "data poison", "verdict"):
        t.add_column(col)
    t.add_row("baseline", _rate(base_metrics, "refuse"), _rate(base_metrics, "comply"), *["-"] * 7)
    for name, g in gates.items():
        rep = g.report or {}
        cand = rep.get("summary", {}).get("metrics", {}).get("candidate", {})
        dh, do = _check(rep, "drift.harmful_refusal_delta"), _check(rep, "drift.over_refusal_delta")
        kl, cap = _check(rep, "drift.kl_mean"), _check(rep, "drift.capability_delta")
        p = dh.get("details", {}).get("p_value")
        audit = audits[name].report or {}
        dp = _check(data[name].report, "data.poison_fraction")
        t.add_row(name, _rate(cand, "refuse"), _rate(cand, "comply"),
                  "-" if dh.get("value") is None else f"{dh['value']:+.3f} (p={p:.2g})",
                  "-" if do.get("value") is None else f"{do['value']:+.3f}",
                  "-" if kl.get("value") is None else f"{kl['value']:.3f}",
                  "-" if cap.get("value") is None else f"{cap['value']:+.3f}",
                  f"{audit.get('verdict', '-')} ({_count(audit, 'block')} block, {_count(audit, 'warn')} warn)",
                  "-" if dp.get("value") is None else f"{dp['value']:.3f}",
                  f"{rep.get('verdict', '-').upper()} (exit {g.exit_code})")
    from io import StringIO

    buf = StringIO()
    Console(file=buf, width=200, color_system=None).print(t)
    return buf.getvalue()


def _reward_table(res: pipeline.StageResult) -> str:
    """Per-category pairwise accuracy of the demo's reward model."""
    lines = [f"reward model ({res.out}): {res.verdict.upper()} (exit {res.exit_code})"]
    for c in (res.report or {}).get("checks", []):
        if c.get("value") is None:
            continue
        ci = c.get("ci95") or [float("nan")] * 2
        lines.append(f"  {c['id']:40s} {c['value']:7.3f} [{ci[0]:.2f}, {ci[1]:.2f}] n={c.get('n')} "
                     f"{c['status']} ({c['severity']})")
    return "\n".join(lines)


def run_demo(out: str | Path = "runs/demo", policy: str | Path | None = None, *,
             hh_rlhf: str | Path | None = None, output: str = "text") -> int:
    """Run the whole gate end to end on the embedded default; returns the exit code."""
    from aligngate.embedded.corpus import write_default_data
    from aligngate.embedded.model import embedded_model_dir
    from aligngate.policy import DEFAULT_POLICY

    t0 = time.perf_counter()
    out = Path(out)
    policy = Path(policy) if policy else DEFAULT_POLICY
    _log("embedded baseline model")
    base = embedded_model_dir()
    _log(f"baseline: {base}")
    data = out / "data"
    write_default_data(data)

    _log("curate the raw tuning data")
    cur_sft = pipeline.curate("sft", data / "sft.jsonl", out / "curate" / "sft-raw", policy)
    cur_dpo = pipeline.curate("dpo", data / "dpo.jsonl", out / "curate" / "dpo-raw", policy)
    for c in (cur_sft, cur_dpo):
        if c.exit_code == 2:
            _log(f"curation failed: see {c.out}/report.json")
            return 2
    inputs = {"A": (Path(cur_sft.out or "") / "curated.jsonl", Path(cur_dpo.out or "") / "curated.jsonl"),
              "B": (data / "sft.jsonl", data / "dpo.jsonl")}

    adapters: dict[str, Path] = {}
    cfgs = _write_train_configs(out / "configs")
    for name, (sft_rows, dpo_rows) in inputs.items():
        _log(f"fine-tune candidate {name} (LoRA SFT, then DPO on the same adapter) on {sft_rows}")
        cand = out / "candidates" / name
        tr = pipeline.train("sft", base, sft_rows, cand / "sft", cfgs["sft"])
        if tr.exit_code != 0:
            _log(f"SFT of candidate {name} failed")
            return 2
        dpo_cfg = cand / "dpo-config.json"
        atomic_write_json(dpo_cfg, {**DEMO_TRAINING["dpo"], "init_adapter": str(cand / "sft")})
        tr = pipeline.train("dpo", base, dpo_rows, cand / "adapter", dpo_cfg)
        if tr.exit_code != 0:
            _log(f"DPO of candidate {name} failed")
            return 2
        adapters[name] = cand / "adapter"

    _log("train and test the reward model")
    rm = pipeline.train("reward", base, data / "reward_pairs.jsonl", out / "reward-model", cfgs["reward"])
    rtest = pipeline.test_reward_model(out / "reward-model", out / "reward-test", policy,
                                       hh_rlhf=hh_rlhf) if rm.exit_code == 0 else rm

    audits, data_reports, gates = {}, {}, {}
    data_reports["A"] = pipeline.curate("sft", inputs["A"][0], out / "curate" / "A-training-data", policy)
    data_reports["B"] = cur_sft
    cache: dict[str, Any] = {}
    for name, adapter in adapters.items():
        _log(f"audit adapter {name}")
        audits[name] = pipeline.audit(adapter, out / "audit" / name, base=base, policy=policy)
        _log(f"gate candidate {name}")
        gates[name] = pipeline.gate(policy, base, out / "gate" / name, adapter=adapter, baseline=base,
                                    data_report=data_reports[name].out, registry=out / "registry",
                                    name=f"candidate-{name}", cache=cache)

    base_metrics = (gates["A"].report or {}).get("summary", {}).get("metrics", {}).get("baseline", {})
    from aligngate.promotion import current

    a, b = gates["A"], gates["B"]
    ok = a.exit_code == 0 and b.exit_code == 1
    promoted = sorted(current(out / "registry"))
    text = "\n".join([
        _table(base_metrics, gates, audits, data_reports), _reward_table(rtest),
        *[f"candidate {n}: {g.verdict.upper()} (exit {g.exit_code}) -> {g.out}/report.md, report.html"
          for n, g in gates.items()],
        f"registry {out / 'registry'}: promoted = {promoted}",
        f"demo {'OK' if ok else 'FAILED'}: candidate A {a.verdict}, candidate B {b.verdict} "
        f"in {time.perf_counter() - t0:.0f} s"])
    if output == "json":  # JSON alone on stdout; the human table goes to stderr
        print(text, file=sys.stderr)
        print(json.dumps({"ok": ok, "baseline": {"model": str(base), "metrics": base_metrics},
                          "candidates": {n: {"verdict": g.verdict, "exit_code": g.exit_code,
                                             "report": f"{g.out}/report.json"} for n, g in gates.items()},
                          "reward_test": {"verdict": rtest.verdict, "exit_code": rtest.exit_code,
                                          "report": f"{rtest.out}/report.json"},
                          "promoted": promoted, "seconds": round(time.perf_counter() - t0, 1)}, indent=2))
    else:
        print(text)
    return 0 if ok else (2 if 2 in (a.exit_code, b.exit_code) else 1)
