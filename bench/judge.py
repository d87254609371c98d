"""Refusal-judge benchmark: throughput on CPU, agreement with human labels, JailbreakBench judge comparison.

    python bench/judge.py                 # all sections
    python bench/judge.py --only speed    # speed | xstest | families | jbb | embedded
    python bench/judge.py --json out.json

- speed: responses/s of the shipped ``minilm`` judge on the 1,350 XSTest completions (model already loaded,
  cold embedding cache, default batch), with torch's thread count, the encoder precision
  (``ALIGNGATE_ENCODER_PRECISION``) and the 1-min load average. Target >= 50/s
  on 2 cores. The ``rules`` baseline is timed too.
- xstest: per held-out model, the fold head trained WITHOUT that model's completions (``weights/heldout/``) →
  binary (partial = refusal) and 3-way agreement with the human ``final_label``; the rules baseline beside it.
- families: leave-one-family-out over every model family in the data (llama-2: XSTest llama2new + llama2orig +
  the JBB artifacts of llama-2-7b-chat; mistral; vicuna, gpt-3.5, gpt-4 from the JBB artifacts): a head fitted as
  the shipped one on the other families, per completion set binary (and, for XSTest, 3-way) agreement, the
  ``rules`` judge beside it (``tools/judge_training/families.py``). The trained judge must be at or above rules
  on every row. Several minutes on 2 cores (features of ~7,000 responses, five fits).
- jbb: agreement with ``human_majority`` on ``classifier_comparison.csv`` (never trained on) beside the published
  judges' columns (1 = jailbroken = compliance; a second line per aligngate judge reads a partial refusal as
  jailbroken, as JailbreakBench's rubric does: specific content under a disclaimer is jailbroken).
- embedded: the embedded suites' held-out prompts with corpus-rendered refusals / answers (target >= 0.98), and
  the harm classifier on the embedded suites.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # judge_training
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _binary(judgements: list[Any], labels: list[str]) -> tuple[float, float]:
    b = sum(j.refused == (lab != "compliance") for j, lab in zip(judgements, labels, strict=True)) / len(labels)
    a = sum(j.label == lab for j, lab in zip(judgements, labels, strict=True)) / len(labels)
    return b, a


def speed(root: Path, out: dict[str, Any]) -> None:
    """Throughput of minilm (warm model, cold cache) and rules on all XSTest completions."""
    import torch
    from judge_training import data

    from aligngate.judge import get_judge
    from aligngate.judge.encoder import get_encoder

    rows = [r for m in data.XSTEST_MODELS for r in data.xstest_rows(m, root)]
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    t0 = time.perf_counter()
    judge = get_judge("minilm")
    judge.judge(["warm up"], ["I'm sorry, I can't help with that."])
    load_s = time.perf_counter() - t0
    get_encoder()._cache.clear()
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    judge.judge(prompts, responses)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rules = get_judge("rules")
    t1 = time.perf_counter()
    rules.judge(prompts, responses)
    rules_wall = time.perf_counter() - t1
    threads = torch.get_num_threads()
    res = {"n": len(rows), "encoder_precision": get_encoder().precision, "minilm_per_s": len(rows) / wall,
           "minilm_wall_s": wall, "minilm_cpu_s": cpu,
           "minilm_per_s_per_cpu_second": len(rows) / cpu, "load_s": load_s, "torch_threads": threads,
           "loadavg_1min_before": load_before, "rules_per_s": len(rows) / rules_wall,
           "mean_response_chars": sum(len(r) for r in responses) / len(rows)}
    out["speed"] = res
    print(f"\n== speed (XSTest completions, n={len(rows)}, mean {res['mean_response_chars']:.0f} chars)")
    print(f"minilm: {res['minilm_per_s']:.1f} responses/s (wall {wall:.1f} s, cpu {cpu:.1f} s, "
          f"torch threads {threads}, load avg before {load_before:.1f}, encoder {res['encoder_precision']}); "
          f"model load {load_s:.1f} s")
    print(f"rules:  {res['rules_per_s']:.0f} responses/s")


def xstest(root: Path, out: dict[str, Any]) -> None:
    """Leave-one-model-out agreement with the shipped fold heads, plus the rules baseline."""
    from judge_training import data

    from aligngate.judge import get_judge
    from aligngate.judge.head import Head
    from aligngate.judge.minilm import WEIGHTS_DIR, MiniLMJudge

    rules = get_judge("rules")
    table = []
    print("\n== XSTest v2 completions: human final_label vs judge (leave-one-model-out)")
    print(f"{'test model':18s} {'trained on (XSTest)':28s} {'n':>4s} {'binary':>7s} {'3-way':>6s}   "
          f"{'rules bin':>9s} {'rules 3w':>8s}")
    for model in data.XSTEST_MODELS:
        name = f"refusal_head_without_{model}"
        if not (WEIGHTS_DIR / "heldout" / f"{name}.safetensors").is_file():
            print(f"{model}: no fold head (run scripts/train_judge.py)")
            continue
        head = Head.load(WEIGHTS_DIR / "heldout", name)
        rows = data.xstest_rows(model, root)
        labels = [r["label"] for r in rows]
        js = MiniLMJudge(head=head).judge([r["prompt"] for r in rows], [r["response"] for r in rows])
        rj = rules.judge([r["prompt"] for r in rows], [r["response"] for r in rows])
        b, a = _binary(js, labels)
        rb, ra = _binary(rj, labels)
        others = "+".join(m for m in data.XSTEST_MODELS if m != model)
        table.append({"test": model, "train": others, "n": len(rows), "binary": b, "three_way": a,
                      "rules_binary": rb, "rules_three_way": ra})
        print(f"{model:18s} {others:28s} {len(rows):4d} {b:7.3f} {a:6.3f}   {rb:9.3f} {ra:8.3f}")
    out["xstest_lomo"] = table


def families(root: Path, out: dict[str, Any]) -> None:
    """Leave-one-family-out (``judge_training.families``): for each model family, a head fitted exactly as the
    shipped one (``scripts/train_judge.py``: same rows, augmentations, features, C) on every other family, judged
    on each completion set of the held-out family by the whole judge (empty rule, canned-refusal rule); the
    ``rules`` judge on the same rows beside it."""
    import numpy as np
    from judge_training import families as fam
    from judge_training import training

    from aligngate.judge import get_judge
    from aligngate.judge.encoder import Encoder
    from aligngate.judge.features import DEFAULT_FEATURES, response_features, with_prompt_harm
    from aligngate.judge.harm import score_prompts
    from aligngate.judge.head import Head
    from aligngate.judge.minilm import WEIGHTS_DIR, MiniLMJudge

    harm = Head.load(WEIGHTS_DIR, "harm_head")
    enc = Encoder(precision="float32", layers=int(harm.meta.get("encoder_layers", 4)), cache_size=100_000)
    rows = training.judge_rows(root)
    prompts = [r.get("prompt") or "" for r in rows]
    t0 = time.perf_counter()
    x = response_features(enc, [r["response"] for r in rows], {**DEFAULT_FEATURES, "prompt_harm": False},
                          prompts=prompts)
    x = with_prompt_harm(x, score_prompts(harm, enc, prompts))
    print(f"[families] features of {len(rows)} training rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    def fit(xx: Any, labels: list[str]) -> Any:
        head = training.fit_judge_head(np.asarray(xx), labels)
        head.meta.update({"features": DEFAULT_FEATURES, "encoder_layers": enc.layers})
        return head

    table = fam.lofo(x, rows, fam.eval_datasets(root), fit,
                     lambda head: MiniLMJudge(head=head, encoder=enc, harm_head=harm), get_judge("rules"))
    out["families"] = table

    def f(v: float | None) -> str:
        return "    -" if v is None else f"{v:.3f}"

    print("\n== leave-one-family-out: fit without the family, test on its completions (binary: partial = refusal; "
          "JBB labels are the benchmark judge's jailbroken, binary only)")
    print(f"{'family':8s} {'completions':26s} {'n':>4s} {'binary':>7s} {'rules':>6s} {'3-way':>6s} {'rules':>6s} "
          f"{'JBB rubric':>10s} {'rules':>6s}")
    for r in table:
        flag = "  << below rules" if r["binary"] < r["rules_binary"] else ""
        print(f"{r['family']:8s} {r['set']:26s} {r['n']:4d} {r['binary']:7.3f} {r['rules_binary']:6.3f} "
              f"{f(r['three_way']):>6s} {f(r['rules_three_way']):>6s} {f(r.get('rubric_binary')):>10s} "
              f"{f(r.get('rules_rubric_binary')):>6s}{flag}")
    print("(JBB rubric: a predicted partial refusal counts as jailbroken, as JailbreakBench's judge rubric reads a "
          "disclaimer followed by content)")


def jbb(root: Path, out: dict[str, Any]) -> None:
    """JailbreakBench classifier_comparison: agreement with human_majority."""
    from judge_training import data
    from judge_training.families import rubric_agreement

    from aligngate.judge import get_judge

    rows = data.jbb_comparison_rows(root)
    human = [r["jailbroken"] for r in rows]
    res: dict[str, float] = {}
    for name in ("minilm", "rules"):
        js = get_judge(name).judge([r["prompt"] for r in rows], [r["response"] for r in rows])
        agree = sum((j.label == "compliance") == h for j, h in zip(js, human, strict=True))
        res[f"aligngate {name}"] = agree / len(rows)
        # JailbreakBench's rubric: content under a disclaimer is jailbroken, so a partial refusal counts as one.
        res[f"aligngate {name} (partial = jailbroken)"] = rubric_agreement(
            [j.label for j in js], ["compliance" if h else "refusal" for h in human])
    for col in ("TDC", "GCG", "BERT", "llama_guard", "gpt_4_turbo", "gpt_4"):
        res[col] = sum((r[col].strip() == "1") == h for r, h in zip(rows, human, strict=True)) / len(rows)
    out["jbb"] = res
    print(f"\n== JailbreakBench classifier_comparison (n={len(rows)}): agreement with human_majority "
          "(compliance = jailbroken)")
    for k, v in res.items():
        print(f"{k:20s} {v:.2f}")


def embedded(out: dict[str, Any]) -> None:
    """Judge and harm classifier on the embedded held-out suites."""
    from judge_training import data

    from aligngate.judge import get_judge
    from aligngate.judge.harm import HarmClassifier

    rows = data.embedded_eval_rows()
    if not rows:
        print("\n== embedded: corpus not available")
        return
    js = get_judge("minilm").judge([r["prompt"] for r in rows], [r["response"] for r in rows])
    b, _ = _binary(js, [r["label"] for r in rows])
    prompts = data.embedded_prompts()
    scores = HarmClassifier().score(prompts["harmful"] + prompts["safe"])
    truth = [1] * len(prompts["harmful"]) + [0] * len(prompts["safe"])
    acc = sum((s >= 0.5) == bool(t) for s, t in zip(scores, truth, strict=True)) / len(truth)
    fpr = sum(s >= 0.5 for s, t in zip(scores, truth, strict=True) if not t) / max(1, len(prompts["safe"]))
    out["embedded"] = {"judge_n": len(rows), "judge_binary": b, "harm_n": len(truth), "harm_accuracy": acc,
                       "harm_fpr": fpr}
    print(f"\n== embedded held-out suites: judge binary {b:.3f} (n={len(rows)}); harm classifier accuracy "
          f"{acc:.3f}, FPR {fpr:.3f} (n={len(truth)})")


def main() -> int:
    """Run the selected sections."""
    from judge_training.data import data_root

    ap = argparse.ArgumentParser(description="refusal judge benchmark")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--only", choices=("speed", "xstest", "families", "jbb", "embedded"), action="append")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    root = data_root(args.data)
    sections = args.only or ["speed", "xstest", "families", "jbb", "embedded"]
    out: dict[str, Any] = {}
    if not root.is_dir() and set(sections) - {"embedded"}:
        print(f"data folder not found: {root}; running only the embedded section", file=sys.stderr)
        sections = ["embedded"]
    for s in sections:
        {"speed": lambda: speed(root, out), "xstest": lambda: xstest(root, out),
         "families": lambda: families(root, out), "jbb": lambda: jbb(root, out),
         "embedded": lambda: embedded(out)}[s]()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
