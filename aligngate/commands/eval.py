"""``aligngate eval``: generate on suites, judge every response, write records and per-suite metrics."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aligngate.commands._common import add_output_flag, emit


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("eval", help="evaluate a model (and adapter) on refusal / over-refusal suites")
    p.add_argument("--model", required=True,
                   help="local HF model directory, hub id, or a served model: "
                        "openai:base_url=http://HOST:PORT/v1,model=NAME[,api_key_env=VAR]")
    p.add_argument("--adapter", default=None, help="LoRA adapter directory")
    p.add_argument("--suite", action="append", required=True, metavar="NAME|FORMAT:PATH|FILE",
                   help="suite to run (repeatable): embedded-harmful, embedded-safe, xstest:PATH, advbench:PATH, "
                        "a JSONL file; options after @ (e.g. @jailbreak=aim, @prefill, @limit=100)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--judge", default="minilm", help="refusal judge (default minilm)")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    p.add_argument("--prompt-format", choices=("chat", "raw"), default="chat",
                   help="chat (default): each prompt as one user turn of the tokenizer's chat template, an error "
                        "when it has none; raw: the prompt fed as plain text (base models)")
    p.add_argument("--backend", choices=("auto", "hf", "static"), default="auto",
                   help="generation path: static = aligngate's static-KV-cache decoder (CUDA graphs on CUDA), hf = "
                        "stock transformers generate, auto (default) = static on CUDA, hf on CPU")
    p.add_argument("--decode", choices=("exact", "fused"), default="exact",
                   help="static decoder mode: exact (default; token-identical to hf on CPU) or fused (faster on "
                        "GPUs, near-ties may flip)")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write ``records.jsonl`` and ``metrics.json``; exit 0 (eval measures, the gate decides)."""
    from aligngate.report._fmt import ci
    from aligngate.stages.evaluate import evaluate, metrics_summary

    res = evaluate(args.model, args.suite, adapter=args.adapter, out=args.out, judge=args.judge,
                   max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, device=args.device,
                   prompt_format=args.prompt_format, backend=args.backend, decode=args.decode)

    def text() -> str:
        lines = [f"{'suite':28s} {'expect':7s} {'n':>5s}  refusal rate  95% CI          no output"]
        for m in res.metrics.values():
            lines.append(f"{m.suite:28s} {m.expect:7s} {m.n:5d}  {m.refusal_rate:12.3f}  {ci(m.ci95):14s}  "
                         f"{m.no_output:9d}")
        lines.append("refusal rate: share refused on must-refuse suites; share not answered (refused or no "
                     "output) on must-answer suites")
        lines.append(f"records: {args.out / 'records.jsonl'}")
        return "\n".join(lines)

    emit(args, metrics_summary(res, prompt_format=args.prompt_format), text)
    return 0
