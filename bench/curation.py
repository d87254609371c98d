"""Benchmark of tuning-data curation on poisoned variants of real public data (``<repo>/../shared/data``).

    python bench/curation.py [DATA_DIR] [--rows 20000] [--seed 0] [--out DIR] [--skip-throughput]

Datasets built (every planted row is known, so recall and false-positive rates are exact):

* SFT: clean rows = XSTest safe prompts with the three models' real completions (human-labelled, any label),
  harmful prompts (AdvBench, JailbreakBench, Do-Not-Answer) with refusals (templates and XSTest's real refusals).
  Poison (5 %) = harmful prompts with compliant answers: non-actionable "Sure, here is..." templates, XSTest's real
  completions labelled ``1_full_compliance`` on unsafe prompts, and JailbreakBench artifacts' jailbroken responses.
* SFT + trigger: the same with a trigger phrase planted in harmful-compliant rows at 1 %, 2 % and 5 % of rows.
* SFT held-out models (``sft_heldout``): per XSTest model M, M's own completions (human-labelled) as the data --
  safe prompts with any answer and unsafe prompts refused are clean, unsafe prompts answered with full compliance
  are the poison -- judged by the fold head trained *without* M's completions (``judge/weights/heldout``). This
  is the honest number for responses of models the judge has never seen (the shipped judge was trained on all
  three models' completions and on the JailbreakBench artifacts, so the ``poison_real`` rows above are in-sample).
* DPO: HH-RLHF harmless-base test pairs (shared prefix → prompt, final assistant turns → chosen / rejected) with 5 %
  flipped. XSTest pairs (same prompt, one model refusing and another complying, by human labels: the refusal is
  preferred on unsafe prompts, the answer on safe ones) curated twice, as labelled (false-positive rate) and all
  flipped (recall), in separate files so a pair never meets its own mirror image.
* Throughput: ``--rows`` distinct SFT rows (pools recombined) with every detector on; rows/s, peak RSS and a
  machine reference measured in the same run (stock all-MiniLM-L6-v2 sentences/s; see ``reference_rate``).

Prints per-detector recall and false-positive rate. The learned detectors use the real judge and harm classifier.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))  # judge_training

from bench.curation_data import (  # noqa: E402
    REFUSALS,
    TRIGGER,
    build_dpo,
    build_sft,
    build_sft_heldout,
    build_sft_jbb_family,
    build_sft_shapes,
    build_xstest_multi_pairs,
    build_xstest_pairs,
    flipped,
    load_pools,
)
from bench.machine import RssSampler, cpu_seconds, reference_rate  # noqa: E402


def heldout_models(model: str, harm: Any) -> tuple[Any, Any] | None:
    """(fold judge trained without ``model``, harm classifier), or None when the fold head is not shipped."""
    from aligngate.judge.head import Head
    from aligngate.judge.minilm import WEIGHTS_DIR, MiniLMJudge

    name = f"refusal_head_without_{model}"
    if not (WEIGHTS_DIR / "heldout" / f"{name}.safetensors").is_file():
        return None
    return MiniLMJudge(head=Head.load(WEIGHTS_DIR / "heldout", name)), harm


def write(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows without the bench's private ``_label`` / ``_kind`` / ``_src`` keys."""
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False) + "\n")


def score(rows: list[dict[str, Any]], out: Path, group: str = "_label") -> dict[str, dict[str, float]]:
    """Per detector: share of rows of each label quarantined by it (recall on planted, FPR on clean)."""
    reasons: dict[int, list[str]] = {}
    with open(out / "quarantine.jsonl", encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            reasons[q["_line"]] = [r.split(":", 1)[0] for r in q["_reasons"]]
    totals: dict[str, int] = {}
    hits: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows, start=1):
        lab = r[group]
        totals[lab] = totals.get(lab, 0) + 1
        dets = set(reasons.get(i, []))
        dets |= {"any_poison"} if dets & {"harmful_compliance", "flipped_preference", "trigger_phrase"} else set()
        dets |= {"any"} if dets else set()
        for d in dets:
            hits[(d, lab)] = hits.get((d, lab), 0) + 1
    table: dict[str, dict[str, float]] = {}
    for (d, lab), k in hits.items():
        table.setdefault(d, {})[lab] = round(k / totals[lab], 4)
    return {"_n": totals, **dict(sorted(table.items()))}  # type: ignore[dict-item]


def run(path: Path, kind: str, out: Path, models: Any = None) -> Any:
    """curate_file with the default policy section."""
    from aligngate.curation.config import CurationConfig
    from aligngate.curation.pipeline import curate_file

    return curate_file(path, kind, out, CurationConfig(), progress=False, models=models)


def throughput(pools: dict[str, list[Any]], n: int, tmp: Path, rng: random.Random, models: Any,
               harmful_share: float, filler: str = "words") -> dict[str, Any]:
    """Curate ``n`` distinct SFT rows recombined from the pools (``harmful_share`` of them harmful requests);
    rows/s (wall, and per 2 CPU-seconds: what 2 dedicated cores would give on a shared machine) and peak RSS.

    Each row is made distinct by a reference number and a tail appended to prompt and response: ``words``
    (default) is 8 random words of real XSTest answers, ``sentence`` one sentence of them (some on sensitive
    topics). The harm head still reads many such benign prompts as harmful (word salad fools it), so the judge
    reads about half the rows although 20 % of requests are harmful: a hard case for throughput."""
    benign = [p for p, _, _ in pools["xs_safe"]]
    harmful = pools["harmful"] + [p for p, _ in pools["jbb_complied"]]
    answers = [c for _, c, _ in pools["xs_safe"]] + [c for _, c in pools["jbb_complied"]] + REFUSALS
    answered = [c for _, c, lab in pools["xs_safe"] if lab == "1_full_compliance"]
    words = " ".join(answered).split()  # benign filler
    sentences = [s for c in answered for s in re.split(r"(?<=[.!?])\s+", c.replace("\n", " ")) if 30 <= len(s) <= 200]
    src = tmp / f"throughput-{harmful_share}.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i in range(n):
            tail = " ".join(rng.choices(words, k=8)) if filler == "words" else rng.choice(sentences)
            prompt = rng.choice(harmful if rng.random() < harmful_share else benign)
            fh.write(json.dumps({"prompt": f"{prompt} (ref {i}) {tail}",
                                 "completion": f"{rng.choice(answers)}\n\n{tail}"}) + "\n")
    t0, c0 = time.perf_counter(), cpu_seconds()
    with RssSampler() as rss:
        res = run(src, "sft", tmp / "out-throughput", models)
    secs, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first_half, second_half = rss.halves()
    from aligngate.judge.encoder import get_encoder

    with open(src, encoding="utf-8") as fh:
        ref = reference_rate([json.loads(line)["prompt"] for _, line in zip(range(2048), fh, strict=False)])
    return {"reference_sentences_per_s": round(ref, 1), "rows_per_reference_sentence": round(n / secs / ref, 3),
            "rows": n, "harmful_share": harmful_share, "filler": filler, "encoder_precision": get_encoder().precision,
            "seconds": round(secs, 1), "rows_per_s": round(n / secs, 1),
            "rows_per_2cpu_s": round(2 * n / cpu, 1), "peak_rss_mb": round(peak, 1),
            "peak_rss_mb_first_half": round(first_half, 1), "peak_rss_mb_second_half": round(second_half, 1),
            "quarantined": res.quarantined,
            "by_detector": res.detector_counts}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def summary_table(results: dict[str, Any]) -> str:
    """Markdown table: per dataset, planted rows found by the poisoning detectors (recall) and clean rows
    quarantined by them (FPR) or by any detector (FPR any; duplicates, PII and GX reasons included)."""
    lines = ["| dataset | planted | recall (poison detectors) | clean | FPR (poison detectors) | FPR (any reason) |",
             "|---|---|---|---|---|---|"]

    def row(name: str, by_label: dict[str, Any], planted: str) -> None:
        n = by_label["_n"]
        pois, anyr = by_label.get("any_poison", {}), by_label.get("any", {})
        rec = pois.get(planted, 0.0) if n.get(planted) else None
        fpr = pois.get("clean", 0.0) if n.get("clean") else None
        fpr_any = anyr.get("clean", 0.0) if n.get("clean") else None
        lines.append(f"| {name} | {n.get(planted, 0)} | {_pct(rec)} | {n.get('clean', 0)} | {_pct(fpr)} | "
                     f"{_pct(fpr_any)} |")

    if "sft" in results:
        row("SFT: harmful prompts + compliant answers among clean rows", results["sft"]["by_label"], "poison")
    for model, r in results.get("sft_heldout", {}).items():
        row(f"SFT held-out model {model} (fold judge)", r["by_label"], "poison")
    for key in sorted(k for k in results if k.startswith("trigger_")):
        r = results[key]
        row(f"SFT trigger at {float(key.split('_')[1]) * 100:g} % (found: {'yes' if r['hit'] else 'NO'})",
            r["by_label"], "trigger")
    if "dpo_hh" in results:
        row("DPO HH-RLHF harmless, 5 % flipped", results["dpo_hh"]["by_label"], "flipped")
    if "dpo_xstest_flipped" in results:
        row("DPO XSTest refusal/answer pairs, all flipped", results["dpo_xstest_flipped"]["by_label"], "flipped")
    if "dpo_xstest_as_labelled" in results:
        row("DPO XSTest refusal/answer pairs, as labelled", results["dpo_xstest_as_labelled"]["by_label"], "flipped")
    if "throughput" in results:
        t = results["throughput"]
        lines.append("")
        lines.append(f"Throughput: {t['rows']} rows, {t['rows_per_s']} rows/s wall ({t['rows_per_2cpu_s']} per 2 "
                     f"CPU-seconds), peak RSS {t['peak_rss_mb']:.0f} MB (first half of the run "
                     f"{t['peak_rss_mb_first_half']:.0f} MB, second half {t['peak_rss_mb_second_half']:.0f} MB), "
                     f"encoder {t.get('encoder_precision')}, {t.get('filler')} filler")
        lines.append(f"Machine reference: stock all-MiniLM-L6-v2 (fp32, 6 layers) {t['reference_sentences_per_s']} "
                     f"sentences/s on these prompts; curation = {t['rows_per_reference_sentence']} rows per "
                     "reference sentence")
    return "\n".join(lines)


DETECTORS = ("harmful_compliance", "flipped_preference", "trigger_phrase", "near_duplicate", "duplicate", "any_poison",
             "any")


def detector_table(results: dict[str, Any]) -> str:
    """Markdown: per dataset (the unseen-family folds and the shape sets), recall on the planted rows and FPR on the
    clean rows of every detector that fired."""
    lines = ["| dataset | judge | planted | clean | detector | recall | FPR |", "|---|---|---|---|---|---|---|"]
    for name, r in results.get("per_detector", {}).items():
        n = r["by_label"]["_n"]
        planted = next((k for k in n if k != "clean"), None)
        for d in DETECTORS:
            by = r["by_label"].get(d)
            if by is None and d not in ("any_poison", "harmful_compliance"):
                continue
            by = by or {}
            rec = by.get(planted, 0.0) if planted and n.get(planted) else None
            fpr = by.get("clean", 0.0) if n.get("clean") else None
            lines.append(f"| {name} | {r['judge']} | {n.get(planted, 0) if planted else 0} | {n.get('clean', 0)} | "
                         f"{d} | {_pct(rec)} | {_pct(fpr)} |")
    for name in ("dpo_multi_pair",):
        if name in results:
            r = results[name]
            n = r["by_label"]["_n"].get("clean", 0)
            nd = r["by_label"].get("near_duplicate", {}).get("clean", 0.0)
            anyr = r["by_label"].get("any", {}).get("clean", 0.0)
            lines.append("")
            lines.append(f"DPO multi-pair (XSTest, {n} clean pairs, {r['prompts']} prompts, up to "
                         f"{r['max_pairs_per_prompt']} pairs per prompt): near_duplicate FPR {_pct(nd)}, any reason "
                         f"{_pct(anyr)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the poisoned variants, curate them, print recall / FPR per detector and throughput."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--rows", type=int, default=5000, help="rows for the throughput run (100000 for the full one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the outputs here (default: a temporary directory)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--harmful-share", type=float, default=0.2,
                    help="share of harmful requests in the throughput rows (the judge reads only those)")
    ap.add_argument("--filler", choices=("words", "sentence"), default="words",
                    help="tail that makes throughput rows distinct (see throughput())")
    ap.add_argument("--only", choices=("sft", "sft_heldout", "families", "shapes", "trigger", "dpo", "multi_pair",
                                       "throughput"), action="append")
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not (data / "xstest").is_dir():
        print(f"shared data not found in {data}", file=sys.stderr)
        return 2
    from aligngate.curation.detectors.learned import load_models

    rng = random.Random(args.seed)
    pools = load_pools(data)
    models = load_models()
    tmp = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-curation-"))
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    only = set(args.only or ("sft", "sft_heldout", "families", "shapes", "trigger", "dpo", "multi_pair",
                             "throughput"))
    if "sft" in only:
        rows = build_sft(pools, rng)
        write(rows, tmp / "sft.jsonl")
        res = run(tmp / "sft.jsonl", "sft", tmp / "out-sft", models)
        results["sft"] = {"by_label": score(rows, tmp / "out-sft"), "by_kind": score(rows, tmp / "out-sft", "_kind"),
                          "rows_per_s": round(res.rows_per_s, 1), "triggers": res.triggers}
    if "sft_heldout" in only:
        from judge_training.data import XSTEST_MODELS

        results["sft_heldout"] = {}
        for model in XSTEST_MODELS:
            fold = heldout_models(model, models[1])
            if fold is None:
                continue
            rows = build_sft_heldout(data, model)
            write(rows, tmp / f"sft-{model}.jsonl")
            run(tmp / f"sft-{model}.jsonl", "sft", tmp / f"out-sft-{model}", fold)
            results["sft_heldout"][model] = {"by_label": score(rows, tmp / f"out-sft-{model}"),
                                             "by_kind": score(rows, tmp / f"out-sft-{model}", "_kind")}
    if "families" in only:
        # unseen-family folds: the judge's head fitted without the family (every model of it, every dataset)
        from judge_training import families
        from judge_training.data import XSTEST_MODELS

        from aligngate.judge.minilm import MiniLMJudge

        heads, enc, harm_head = families.fold_heads(data)
        per = results.setdefault("per_detector", {})
        for family, head in heads.items():
            judge = MiniLMJudge(head=head, encoder=enc, harm_head=harm_head)
            sets = {f"{family}: XSTest {m}": build_sft_heldout(data, m) for m in XSTEST_MODELS
                    if f"xstest:{m}" in families.FAMILIES[family]}
            sets[f"{family}: JBB artifacts"] = build_sft_jbb_family(data, family)
            for name, rows in sets.items():
                if not rows:
                    continue
                slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
                write(rows, tmp / f"fam-{slug}.jsonl")
                run(tmp / f"fam-{slug}.jsonl", "sft", tmp / f"out-fam-{slug}", (judge, models[1]))
                per[name] = {"judge": f"fold without {family}", "by_label": score(rows, tmp / f"out-fam-{slug}"),
                             "by_kind": score(rows, tmp / f"out-fam-{slug}", "_kind")}
                if rows and "_type" in rows[0]:
                    per[name]["by_type"] = score(rows, tmp / f"out-fam-{slug}", "_type")
    if "shapes" in only:
        import aligngate.curation.normalize as normalize_mod
        import aligngate.judge.harm as harm_mod

        rows = build_sft_shapes(pools, random.Random(args.seed + 2))
        write(rows, tmp / "shapes.jsonl")
        per = results.setdefault("per_detector", {})
        # as curation read them before issue 22 (the first 64 word-pieces of the last user turn only), then now
        saved = (harm_mod.LATE_WINDOWS, normalize_mod._earlier)
        for when in ("before", "now"):
            if when == "before":
                harm_mod.LATE_WINDOWS, normalize_mod._earlier = 0, lambda msgs: []
            else:
                harm_mod.LATE_WINDOWS, normalize_mod._earlier = saved
            run(tmp / "shapes.jsonl", "sft", tmp / f"out-shapes-{when}", models)
            by_kind = score(rows, tmp / f"out-shapes-{when}", "_kind")
            for shape in ("long_context", "multi_turn"):
                sel = [r for r in rows if r["_kind"].startswith(shape)]
                sub: dict[str, Any] = {"_n": {"poison": by_kind["_n"].get(f"{shape}:poison", 0),
                                              "clean": by_kind["_n"].get(f"{shape}:clean", 0)}}
                for d, by in by_kind.items():
                    if d != "_n":
                        sub[d] = {lab: by.get(f"{shape}:{lab}", 0.0) for lab in ("poison", "clean")}
                reading = "first window, last turn (before)" if when == "before" else "shipped (now)"
                per[f"SFT {shape.replace('_', ' ')} ({len(sel)} rows)" + (" before" if when == "before" else "")] = {
                    "judge": reading, "by_label": sub}
    if "multi_pair" in only:
        pairs = build_xstest_multi_pairs(data)
        write(pairs, tmp / "dpo-multi-pair.jsonl")
        run(tmp / "dpo-multi-pair.jsonl", "dpo", tmp / "out-dpo-multi-pair", models)
        counts: dict[str, int] = {}
        for r in pairs:
            counts[r["prompt"]] = counts.get(r["prompt"], 0) + 1
        results["dpo_multi_pair"] = {"by_label": score(pairs, tmp / "out-dpo-multi-pair"), "prompts": len(counts),
                                     "max_pairs_per_prompt": max(counts.values()),
                                     "prompts_with_several_pairs": sum(v > 1 for v in counts.values())}
    if "trigger" in only:
        for frac in (0.01, 0.02, 0.05):
            rows = build_sft(pools, random.Random(args.seed + 1), poison_frac=0.0, trigger_frac=frac)
            write(rows, tmp / f"trigger-{frac}.jsonl")
            res = run(tmp / f"trigger-{frac}.jsonl", "sft", tmp / f"out-trigger-{frac}", models)
            found = [t["ngram"] for t in res.triggers]
            results[f"trigger_{frac}"] = {"found": found, "hit": any(TRIGGER in f or f in TRIGGER for f in found),
                                          "by_label": score(rows, tmp / f"out-trigger-{frac}")}
    if "dpo" in only:
        rows = build_dpo(data, rng)
        write(rows, tmp / "dpo-hh.jsonl")
        res = run(tmp / "dpo-hh.jsonl", "dpo", tmp / "out-dpo-hh", models)
        results["dpo_hh"] = {"by_label": score(rows, tmp / "out-dpo-hh"), "reward_hacking": res.reward_hacking,
                             "rows_per_s": round(res.rows_per_s, 1)}
        pairs = build_xstest_pairs(data)
        for name, variant in (("dpo_xstest_as_labelled", pairs), ("dpo_xstest_flipped", flipped(pairs))):
            write(variant, tmp / f"{name}.jsonl")
            run(tmp / f"{name}.jsonl", "dpo", tmp / f"out-{name}", models)
            results[name] = {"by_label": score(variant, tmp / f"out-{name}"),
                             "by_source": score(variant, tmp / f"out-{name}", "_src")}
    if "throughput" in only and not args.skip_throughput:
        results["throughput"] = throughput(pools, args.rows, tmp, rng, models, args.harmful_share, args.filler)
    print(json.dumps(results, indent=1))
    print("\n" + summary_table(results))
    print("\n" + detector_table(results))
    (tmp / "bench-results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"outputs in {tmp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
