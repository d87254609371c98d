"""``aligngate embedded-model``: print the embedded tiny chat model's directory (building it if needed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Register the sub-command."""
    p = sub.add_parser("embedded-model", help="print the embedded tiny chat model's directory, building it first "
                                              "if not cached")
    p.add_argument("--cache-dir", type=Path, default=None, help="cache root (default $ALIGNGATE_CACHE or "
                                                                 "~/.cache/aligngate)")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if cached")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build or find the model; its directory is the last line on stdout."""
    from aligngate.embedded.model import embedded_model_dir

    path = embedded_model_dir(args.cache_dir, rebuild=args.rebuild)
    print(path)
    return 0
