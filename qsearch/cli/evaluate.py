"""``qsearch evaluate``: score one table (an IJG quality or a table file), or a quality codec at a quality."""

from __future__ import annotations

import json
from pathlib import Path

from qsearch.cli.arguments import whole
from qsearch.cli.build import (
    build_evaluator,
    encoder_settings,
)
from qsearch.cli.options import (
    add_data_arguments,
)
from qsearch.errors import QSearchError
from qsearch.tables.qtable import QTable

NAME = "evaluate"
HELP = "score one table on the images"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch evaluate``."""
    add_data_arguments(parser)
    parser.add_argument("--quality", type=whole(1, 100), help="IJG quality 1..100")
    parser.add_argument("--qtable", type=Path, help="cjpeg -qtables text file or JSON table pair")
    parser.add_argument(
        "--uncompressed",
        action="store_true",
        help="the network's figures on the uncompressed images (the reference of every share)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    """Score one table (an IJG quality or a table file), or a quality codec at a quality."""
    if [args.quality is not None, args.qtable is not None, args.uncompressed].count(True) != 1:
        raise QSearchError("give exactly one of --quality Q, --qtable FILE or --uncompressed")
    if args.uncompressed:
        reference = build_evaluator(args).reference or {}
        print(json.dumps(reference) if args.json else format_metrics(reference))
        return 0
    settings = encoder_settings(args)
    if not settings.encoder.takes_tables and args.qtable is not None:
        raise QSearchError(f"--codec {args.codec} takes a quality (--quality Q), not a table")
    setting = (
        QTable.load(args.qtable)
        if args.qtable is not None
        else QTable.from_quality(args.quality)
        if settings.encoder.takes_tables
        else args.quality
    )
    evaluator = build_evaluator(args)
    metrics = dict(evaluator.evaluate(setting))
    print(json.dumps(metrics) if args.json else format_metrics(metrics))
    return 0


def format_metrics(metrics: dict) -> str:
    """One ``name: value`` line per metric."""
    return "\n".join(
        f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}"
        for key, value in metrics.items()
    )
