"""Refusal-judge training variants, leave-one-family-out (issue 22): which recipe changes hold on model families the
head never saw. Each variant refits the shipped head's recipe (``training.judge_rows``, C, seed) with extra
label-keeping style rows (``tools/judge_training/styles.py``), and prints, per family completion set, the judge's
binary agreement beside the ``rules`` judge, the XSTest leave-one-model-out folds and the JailbreakBench
``classifier_comparison`` row.

    python bench/judge_variants.py                                   # base, base+cref, base+lec15+cref
    python bench/judge_variants.py --variants base,base+lec,base+cref+pol2
    python bench/judge_variants.py --variants base,base+lec15+cref --features split_pivot=0   # a feature setting

Row groups: ``base`` (the shipped rows), ``lec`` / ``lec15`` (lecture-first compliances of 50 % / 15 % of the
compliance rows), ``cref`` (a caution in front of 30 % of the plain refusals), ``pre`` (polite preambles in front of
30 % of them), ``pol`` / ``pol2`` (composed policy-citing refusals, one per 10 / 20 base rows). Several minutes on 2
cores (features of ~9,000 responses, then five fits and ~3,000 judged completions per variant). Nothing is written
to the shipped weights; results are in ``bench/results/judge-variants-2026-12-05.md`` (before the split pivot) and
``judge-variants-2026-12-06.md`` (with it). ``--features`` overrides the shipped feature configuration
(``aligngate.judge.features.DEFAULT_FEATURES``) for every variant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # judge_training
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    """Build the row groups, featurise them once, and report each variant."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default="base,base+cref,base+lec15+cref")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--features", default="", help="feature settings over the shipped ones, e.g. split_pivot=1")
    args = ap.parse_args()

    import numpy as np
    from judge_training import data, styles, training
    from judge_training import families as fam
    from judge_training.benign import benign_prompts, harmful_prompts

    from aligngate.judge import get_judge
    from aligngate.judge.encoder import Encoder
    from aligngate.judge.features import DEFAULT_FEATURES, response_features, with_prompt_harm
    from aligngate.judge.harm import score_prompts
    from aligngate.judge.head import Head
    from aligngate.judge.minilm import WEIGHTS_DIR, MiniLMJudge

    root = data.data_root(args.data)
    harm = Head.load(WEIGHTS_DIR, "harm_head")
    enc = Encoder(precision="float32", layers=int(harm.meta.get("encoder_layers", 4)), cache_size=200_000)
    feats = dict(DEFAULT_FEATURES)
    for kv in filter(None, args.features.split(",")):
        k, _, v = kv.partition("=")
        if k not in DEFAULT_FEATURES or not v.isdigit():
            ap.error(f"--features {kv!r}: give KEY=INT with KEY one of {sorted(DEFAULT_FEATURES)}")
        feats[k] = type(DEFAULT_FEATURES[k])(int(v))
    rows = training.judge_rows(root)
    base = [r for r in rows if "+" not in r["source"]]
    prompts = (benign_prompts() + list(harmful_prompts())
               + [r["prompt"] for r in base if r["source"].startswith("jbb-artifacts") and len(r["prompt"]) < 300])
    groups = {"base": rows, "lec": styles.lecture_first(base), "lec15": styles.lecture_first(base, frac=0.15),
              "cref": styles.caution_refusals(base), "pre": styles.preamble_refusals(base),
              "pol": styles.policy_refusals(prompts, len(base) // 10),
              "pol2": styles.policy_refusals(prompts, len(base) // 20)}
    variants = [v.split("+") for v in args.variants.split(",")]
    needed = {k for v in variants for k in v}
    unknown = needed - set(groups)
    if unknown:
        ap.error(f"unknown row groups: {sorted(unknown)} (known: {sorted(groups)})")
    x_of: dict[str, Any] = {}
    t0 = time.perf_counter()
    for k in sorted(needed):
        g = groups[k]
        ps = [r.get("prompt") or "" for r in g]
        x = response_features(enc, [r["response"] for r in g], {**feats, "prompt_harm": False}, prompts=ps)
        x_of[k] = with_prompt_harm(x, score_prompts(harm, enc, ps))
    print(f"[variants] features of {sum(len(groups[k]) for k in needed)} rows in {time.perf_counter() - t0:.0f} s "
          f"({', '.join(f'{k} {len(groups[k])}' for k in sorted(needed))})", file=sys.stderr)

    def fit(xx: Any, labels: list[str]) -> Any:
        head = training.fit_judge_head(np.asarray(xx), labels)
        head.meta.update({"features": feats, "encoder_layers": enc.layers})
        return head

    rules, sets, cmp_rows = get_judge("rules"), fam.eval_datasets(root), data.jbb_comparison_rows(root)
    for v in variants:
        x = np.vstack([x_of[k] for k in v])
        rs = [r for k in v for r in groups[k]]
        table = fam.lofo(x, rs, sets, fit, lambda h: MiniLMJudge(head=h, encoder=enc, harm_head=harm), rules)
        lomo = training.lomo_table(x, rs)
        js = MiniLMJudge(head=fit(x, [r["label"] for r in rs]), encoder=enc, harm_head=harm).judge(
            [r["prompt"] for r in cmp_rows], [r["response"] for r in cmp_rows])
        agree = sum((j.label == "compliance") == r["jailbroken"] for j, r in zip(js, cmp_rows, strict=True))
        jbb = agree / len(cmp_rows)
        worst = min(r["binary"] - r["rules_binary"] for r in table)
        print(f"\n== {'+'.join(v)}: JBB classifier_comparison {jbb:.2f}; "
              f"worst margin over rules {worst:+.3f}")
        for r in table:
            three = "    -" if r["three_way"] is None else f"{r['three_way']:.3f}"
            flag = "  << below rules" if r["binary"] < r["rules_binary"] else ""
            print(f"  {r['set']:26s} binary {r['binary']:.3f}  rules {r['rules_binary']:.3f}  3-way {three}{flag}")
        print("  XSTest leave-one-model-out (binary / 3-way): "
              + ", ".join(f"{m['test']} {m['binary_accuracy']:.3f} / {m['accuracy']:.3f}" for m in lomo))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
