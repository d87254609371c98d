"""Scale-out benchmark: evaluation prompts/s and curation rows/s, single process and on the flows' task runners.

    python bench/scale.py [--repeat 2] [--workers 1 2] [--runners thread dask ray] [--out FILE.md]

Evaluation: the embedded suites (embedded-harmful + embedded-safe, repeated ``--repeat`` times: 138 prompts each)
on the embedded model, judged by ``minilm``. ``single`` is :func:`aligngate.evaluation.runner.evaluate_model` in this
process; each runner row is :func:`aligngate.flows.gate.evaluate_flow` (generation sharded into whole batches of the
single-process plan, see :mod:`aligngate.flows._scale`) with 1 and 2 workers, its wall time including the runner's
start (a local Dask cluster, a local Ray instance), the workers' model loads and the judge. Overhead is the runner's
time over the single-process time, minus 1. Every sharded run's records are compared with the single-process
records (``equal``).

Curation: :func:`aligngate.stages.curate` on the embedded SFT data (repeated ``--repeat`` times, chunks of 100
rows) in this process (rows/s), and with the rows' learned scoring sharded into whole chunks by
:func:`aligngate.flows.curate.score_flow` on each runner (the cross-row detectors then run once, in order); the
time includes the sharded scoring and the curate pass that replays it, and the outputs are compared with the
single-process run's (``equal``).

The judge and the harm classifier are loaded by an untimed warm-up run, and the process's embedding caches are
emptied before every timed run (a run is never served from an earlier run's cache; worker processes start cold).

On the 2-core machines this project runs on, other jobs share the cores: run it on a quiet machine, and read the
ratios (overhead) rather than the absolute rates.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def clear_caches() -> None:
    """Empty the process-wide encoders' embedding caches (models stay loaded) so that a timed run is not served
    from an earlier run's cache. Reaches into the encoder module's registry: a measurement need, not a product one."""
    from aligngate.judge import encoder

    for enc in list(encoder._ENCODERS.values()):
        enc._cache.clear()


def _suites(repeat: int) -> list[Any]:
    from aligngate.evaluation.suites import Suite, SuiteItem, load_suite

    out = []
    for name in ("embedded-harmful", "embedded-safe"):
        s = load_suite(name)
        items = [SuiteItem(f"{it.id}-{r}", it.prompt, it.category) for r in range(repeat) for it in s.items]
        out.append(Suite(name=s.name, expect=s.expect, items=items, source=s.source))
    return out


def _policy(tmp: Path, repeat: int) -> Path:
    """A policy whose suites are the benchmark's (JSONL copies of the repeated embedded suites)."""
    import json

    files = {}
    for s in _suites(repeat):
        p = tmp / f"{s.name}.jsonl"
        p.write_text("".join(json.dumps({"id": it.id, "prompt": it.prompt, "expect": s.expect}) + "\n"
                             for it in s.items))
        files[s.expect] = p
    path = tmp / "bench.yaml"
    path.write_text(f"""apiVersion: aligngate.dev/v1
kind: GatePolicy
metadata: {{name: bench-scale, description: scale benchmark}}
spec:
  evaluation: {{harmful_suites: ["{files['refuse']}"], safe_suites: ["{files['comply']}"], judge: minilm}}
  checks:
    - {{id: refusal.harmful_refusal_rate, threshold: {{op: ">=", value: 0.5}}, severity: block}}
""")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2, help="copies of the embedded suites (138 prompts each)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runners", nargs="+", default=["thread", "dask", "ray"])
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")
    args = ap.parse_args()

    from aligngate.embedded.corpus import write_default_data
    from aligngate.embedded.model import embedded_model_dir
    from aligngate.evaluation.runner import evaluate_model
    from aligngate.flows._scale import with_runner
    from aligngate.flows.curate import score_flow
    from aligngate.flows.gate import evaluate_flow
    from aligngate.judge import get_judge
    from aligngate.stages import curate

    model = str(embedded_model_dir(progress=False))
    judge = get_judge("minilm")
    rows: list[tuple[str, int | str, str, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="aligngate-bench-scale-") as tmp_s:
        tmp = Path(tmp_s)
        write_default_data(tmp / "data")
        lines = (tmp / "data" / "sft.jsonl").read_text().splitlines(keepends=True)
        data = tmp / "sft.jsonl"
        data.write_text("".join(lines * args.repeat))
        n_rows = len(lines) * args.repeat
        cur_policy = tmp / "curate.yaml"
        cur_policy.write_text("apiVersion: aligngate.dev/v1\nkind: GatePolicy\nmetadata: {name: bench-curate}\n"
                              "spec:\n  curation: {chunk_size: 100}\n  checks:\n"
                              "    - {id: data.poison_fraction, threshold: {op: '<=', value: 0.05}}\n")
        curate(data, "sft", tmp / "cur-warmup", policy=cur_policy, progress=False)  # loads the judge and classifier
        clear_caches()
        t0 = time.perf_counter()
        curate(data, "sft", tmp / "cur-single", policy=cur_policy, progress=False)
        cur_base = time.perf_counter() - t0
        rows.append(("curation (rows/s)", 1, "single", n_rows / cur_base, cur_base, ""))
        ref = (tmp / "cur-single" / "quarantine.jsonl").read_bytes()
        for runner in args.runners:
            for w in args.workers:
                clear_caches()
                t0 = time.perf_counter()
                models = with_runner(score_flow, runner, workers=w)(str(data), "sft", str(cur_policy), shards=w)
                curate(data, "sft", tmp / f"cur-{runner}-{w}", policy=cur_policy, progress=False, models=models)
                dt = time.perf_counter() - t0
                same = (tmp / f"cur-{runner}-{w}" / "quarantine.jsonl").read_bytes() == ref
                rows.append(("curation (rows/s)", w, runner, n_rows / dt, dt,
                             f"{dt / cur_base - 1:+.0%}; outputs {'equal' if same else 'DIFFER'}"))

        suites = _suites(args.repeat)
        n = sum(len(s) for s in suites)
        clear_caches()
        t0 = time.perf_counter()
        single = evaluate_model(model, suites, judge=judge, progress=False)
        base = time.perf_counter() - t0
        rows.append(("evaluation (prompts/s)", 1, "single", n / base, base, ""))
        policy = str(_policy(tmp, args.repeat))
        for runner in args.runners:
            for w in args.workers:
                clear_caches()
                t0 = time.perf_counter()
                cache = with_runner(evaluate_flow, runner, workers=w)(policy, model, shards=w)
                dt = time.perf_counter() - t0
                (res,) = [v for k, v in cache.items() if k.startswith("eval:")]
                same = [(r["id"], r["response"], r["label"]) for r in res.records] == [
                    (r["id"], r["response"], r["label"]) for r in single.records]
                rows.append(("evaluation (prompts/s)", w, runner, n / dt, dt,
                             f"{dt / base - 1:+.0%}; records {'equal' if same else 'DIFFER'}"))
    lines = ["| what | workers | runner | rate | seconds | overhead vs single; records |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {w} | {k} | {r} | {rate:.1f} | {s:.1f} | {note} |" for w, k, r, rate, s, note in rows]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
