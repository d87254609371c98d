"""``aligngate train --method sft|dpo|reward --base MODEL --data FILE --out DIR [--config FILE] [--quantize 4bit]``.

``sft``/``dpo``: a LoRA adapter (safetensors) plus tokenizer in DIR; ``reward``: a reward model (sequence
classification, full or LoRA). Always ``DIR/manifest.json``. Output is staged and moved into place atomically.
Exit 0 on success, 2 on any error. Progress and library logs go to stderr; stdout carries only the summary.
"""

from __future__ import annotations

import argparse
from typing import Any

from aligngate.commands._common import add_output_flag, emit

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``train``."""
    p = sub.add_parser("train", help="LoRA SFT / DPO fine-tune or reward-model training, with a sha256 manifest",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=("sft", "dpo", "reward"), help="training method")
    p.add_argument("--base", required=True, help="base model: local Hugging Face directory (or hub id)")
    p.add_argument("--data", required=True, help="training data, JSONL (sft: messages or prompt/completion; "
                                                "dpo/reward: prompt/chosen/rejected)")
    p.add_argument("--out", required=True, help="output directory (must be absent or empty unless --overwrite)")
    p.add_argument("--config", help="YAML or JSON file of training settings (see aligngate.training.TrainConfig)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out directory")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--max-steps", type=int, help="override the config's max_steps")
    p.add_argument("--quantize", choices=("none", "4bit"),
                   help="4bit: QLoRA, the base quantized to 4-bit NF4 with bitsandbytes (sft/dpo; needs a CUDA GPU "
                        "and bitsandbytes, else exit 2); overrides the config's quantize")
    add_output_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train; print a summary; 0 on success (errors raise and the CLI front exits 2)."""
    from aligngate.stages.train import train

    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    if args.quantize is not None:
        overrides["quantize"] = args.quantize
    result = train(args.method, args.base, args.data, args.out, config=args.config, overwrite=args.overwrite,
                   overrides=overrides)
    emit(args, result.summary(), lambda: (f"trained {result.method} in {result.seconds:.1f} s, {result.steps} "
                                          f"steps, final loss {result.final_loss}\n"
                                          f"output:   {result.out_dir}\nmanifest: {result.manifest}"))
    return 0
