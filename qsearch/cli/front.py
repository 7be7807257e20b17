"""``qsearch front``: re-export a run's front, tables, plot and summary (:class:`qsearch.report.runs.Run`)."""

from __future__ import annotations

import json
from pathlib import Path

from qsearch.cli.arguments import add_target

NAME = "front"
HELP = "re-export a run's front, tables, plot and summary"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch front``."""
    parser.add_argument("run", type=Path, help="run folder written by qsearch run")
    add_target(
        parser,
        "also name the table to use at this share of the uncompressed accuracy (e.g. 0.98; "
        "of the finest IJG quality swept for a label-free figure) and the bits it saves "
        "against the IJG curve",
    )


def run(args) -> int:
    """Re-export a run's front, tables, plot and summary from its record; with ``--target``,
    name the table to use at that share of the uncompressed accuracy and what it saves."""
    from qsearch.report.runs import Run

    finished = Run(args.run)
    finished.export()
    print_run(finished, (0.98, 0.95) if args.target is None else ())  # the target's block once
    if args.target is not None:
        print(finished.describe_operating_point(args.target))
    return 0


def print_run(finished, fractions: tuple[float, ...] = (0.98, 0.95)) -> None:
    """The front, the summary and the operating points at ``fractions`` of an exported run,
    as ``qsearch run`` and ``front`` print them."""
    front, metric = finished.front, finished.metric
    columns = [
        c
        for c in ("number", metric, "bpp", "ratio", f"test_{metric}", "test_bpp", "table")
        if c in front
    ]
    print(front[columns].to_string(index=False))
    summary = {
        k: v for k, v in finished.summary.items() if k not in ("identity", "operating_points")
    }
    print(json.dumps(summary, indent=2))
    for fraction in fractions:
        if metric in finished.references.get("search", {}):
            print(finished.describe_operating_point(fraction))
    print(
        f"wrote {finished.directory}/trials.csv, front.csv, front.png, summary.json and "
        f"{len(front)} table file(s)"
    )
