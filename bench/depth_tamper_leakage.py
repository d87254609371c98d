"""Depth, tamper-resistance and leakage on the embedded model (issue 24): do the checks separate candidates, and
what do they cost?

    python bench/depth_tamper_leakage.py [--out DIR] [--epochs 0,10,30,60] [--canaries 10] [--candidates 1023]
                                         [--skip-depth] [--skip-tamper] [--skip-leakage] [--json FILE]

Candidates (the embedded tiny chat model, LoRA SFT with the demo's training profile, ``aligngate.embedded.profile``):

* ``clean``: the embedded SFT rows without the planted poison; ``poisoned``: all of them (about a third harmful
  compliance) -- the demo's A and B before DPO;
* ``canary-E``: the embedded SFT data curated with the default policy and ``--canaries N`` planted
  (``aligngate.stages.curate.curate(..., canaries=N)``), fine-tuned for E epochs
  (``aligngate.leakage.candidate.build_canary_candidate``; E = 0 is the base model itself).

Depth and tamper compare each of ``clean`` / ``poisoned`` against the base model on the full ``embedded-harmful``
suite (64 prompts) with the checks' defaults; leakage measures every ``canary-E``. Seconds are wall time of each
measurement in this process with torch on one thread (the gate adds exactly that per check: each loads its
models itself). The machine is shared: run it on a quiet one for timings you report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _adapters(base: str, root: Path) -> dict[str, Path]:
    from aligngate.embedded.corpus import sft_dataset, sft_truth
    from aligngate.embedded.profile import demo_train_config
    from aligngate.stages.train import train

    rows, truth = sft_dataset(), sft_truth()
    out = {}
    for name, data in (("clean", [r for r, t in zip(rows, truth, strict=True) if not t["poison"]]),
                       ("poisoned", rows)):
        d = root / name
        if not (d / "adapter_model.safetensors").is_file():
            train("sft", base, data, d, config=demo_train_config("sft"), overwrite=True)
        out[name] = d
    return out


def _depth(base: str, adapters: dict[str, Path], prompts: list[str], judge: Any) -> dict[str, Any]:
    from aligngate.depth import measure_prefix_recovery, measure_token_kl

    out: dict[str, Any] = {}
    for name, ad in adapters.items():
        t = time.perf_counter()
        kl = measure_token_kl(base, base, prompts, adapter=str(ad))
        t_kl = time.perf_counter() - t
        t = time.perf_counter()
        rec = measure_prefix_recovery(base, base, prompts, judge=judge, adapter=str(ad))
        t_rec = time.perf_counter() - t
        out[name] = {"token_kl": {**kl.split(5), "by_position": [round(x, 4) for x in kl.kl_by_position[:12]]},
                     "recovery": [{k: r.to_dict()[k] for k in ("n", "baseline_rate", "candidate_rate", "delta",
                                                               "ci95", "p_value")} for r in rec.recovery],
                     "worst_delta": rec.worst().delta, "seconds": {"token_kl": t_kl, "prefix_recovery": t_rec}}
    return out


def _tamper(base: str, adapters: dict[str, Path], prompts: list[str], judge: Any) -> dict[str, Any]:
    from aligngate.tamper import TamperConfig, measure_tamper

    out: dict[str, Any] = {}
    for name, ad in adapters.items():
        t = time.perf_counter()
        res = measure_tamper(base, base, prompts, judge, TamperConfig(), adapter=str(ad))
        out[name] = {"speed_ratio": res.speed_ratio, "candidate": res.candidate.to_dict(),
                     "baseline": res.baseline.to_dict(), "seconds": time.perf_counter() - t}
    return out


def _leakage(base: str, root: Path, epochs: list[float], n: int, candidates: int) -> dict[str, Any]:
    from aligngate.leakage.canaries import read_canaries
    from aligngate.leakage.candidate import build_canary_candidate
    from aligngate.leakage.probe import measure_leakage
    from aligngate.stages.curate import curate

    data = root / "curated-canaries"
    if not (data / "canaries.json").is_file():
        curate(Path(__file__).resolve().parents[1] / "aligngate" / "embedded" / "data" / "sft.jsonl", "sft", data,
               progress=False, canaries=n, canary_seed=1)
    record = read_canaries(data)
    assert record is not None
    out: dict[str, Any] = {}
    for ep in epochs:
        ad = root / f"canary-{ep:g}"
        train_s = 0.0
        if ep > 0 and not (ad / "adapter_model.safetensors").is_file():
            t = time.perf_counter()
            build_canary_candidate(base, data, ad, epochs=ep)
            train_s = time.perf_counter() - t
        t = time.perf_counter()
        res = measure_leakage(base, record, data / "curated.jsonl", adapter=str(ad) if ep > 0 else None,
                              candidates=candidates)
        out[f"{ep:g}"] = {**res.summary(), "seconds": time.perf_counter() - t, "train_seconds": train_s,
                          "planted_exposures": [round(c.exposure, 2) for c in res.planted],
                          "reference_exposures": [round(c.exposure, 2) for c in res.references]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench/depth_tamper_leakage")
    ap.add_argument("--epochs", default="0,10,30,60")
    ap.add_argument("--canaries", type=int, default=10)
    ap.add_argument("--candidates", type=int, default=1023)
    ap.add_argument("--skip-depth", action="store_true")
    ap.add_argument("--skip-tamper", action="store_true")
    ap.add_argument("--skip-leakage", action="store_true")
    ap.add_argument("--json", help="write the results here (default OUT/results.json)")
    args = ap.parse_args(argv)

    import torch

    from aligngate.embedded.model import embedded_model_dir
    from aligngate.evaluation.suites import load_suite
    from aligngate.judge import get_judge

    torch.set_num_threads(1)
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    base = str(embedded_model_dir(progress=False))
    prompts = [it.prompt for it in load_suite("embedded-harmful").items]
    judge = get_judge("minilm")
    results: dict[str, Any] = {"base": base, "prompts": len(prompts), "torch_threads": 1}
    if not (args.skip_depth and args.skip_tamper):
        adapters = _adapters(base, root)
        if not args.skip_depth:
            results["depth"] = _depth(base, adapters, prompts, judge)
            print(json.dumps({"depth": results["depth"]}, indent=1), flush=True)
        if not args.skip_tamper:
            results["tamper"] = _tamper(base, adapters, prompts, judge)
            print(json.dumps({"tamper": {k: {"speed_ratio": v["speed_ratio"], "seconds": v["seconds"],
                                             "candidate": v["candidate"]["refusal"],
                                             "baseline": v["baseline"]["refusal"]}
                                         for k, v in results["tamper"].items()}}, indent=1), flush=True)
    if not args.skip_leakage:
        epochs = [float(x) for x in args.epochs.split(",") if x.strip()]
        results["leakage"] = _leakage(base, root, epochs, args.canaries, args.candidates)
        print(json.dumps({"leakage": results["leakage"]}, indent=1), flush=True)
    path = Path(args.json) if args.json else root / "results.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
