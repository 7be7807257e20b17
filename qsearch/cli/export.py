"""``qsearch export``: a table in the form an encoder takes it."""

from __future__ import annotations

import sys
from pathlib import Path

from qsearch.cli.arguments import add_target
from qsearch.errors import QSearchError
from qsearch.tables.qtable import QTable

NAME = "export"
HELP = "write a table in the form an encoder takes it (cjpeg, Pillow, C, ...)"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch export``."""
    parser.add_argument("source", type=Path, help="a run folder (with --target) or a table file")
    add_target(
        parser,
        "with a run: the table chosen for this share of the uncompressed accuracy (e.g. 0.98; "
        "of the finest IJG quality swept for a label-free figure)",
    )
    parser.add_argument("--metric", help="with a run: the accuracy the target is a share of")
    parser.add_argument(
        "--confident",
        action="store_true",
        help="with a run: the table reaching the target with 95%% confidence on the searched images",
    )
    parser.add_argument(
        "--format",
        required=True,
        choices=("cjpeg", "json", "pillow", "imagemagick", "c", "dqt", "numpy"),
        help="cjpeg -qtables text, JSON, a Pillow qtables= literal, ImageMagick's q-table XML, a "
        "C header (natural and zigzag), a minimal JPEG carrying the DQT (nvJPEG), a .npy pair",
    )
    parser.add_argument("--out", type=Path, required=True, help="the file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run(args) -> int:
    """Write a run's chosen table (or a table file) in the form an encoder takes it, saying where
    it comes from in the file where the format has room."""
    from qsearch.atomic import check_new_file
    from qsearch.tables.exports import USAGE, export

    check_new_file(args.out, args.overwrite)
    if (args.source / "study.journal").exists():
        table, note = _chosen_table(args)
    elif args.target is not None or args.confident:
        raise QSearchError(f"{args.source}: --target and --confident go with a run folder")
    else:
        table, note = QTable.load(args.source), f"qsearch table from {args.source}"
    if args.out.resolve() == args.source.resolve():
        raise QSearchError(f"{args.out}: would overwrite its source; choose another --out")
    path = export(table, args.format, args.out, note)
    print(f"wrote {path} ({args.format}): {note.splitlines()[0]}")
    if args.format in USAGE:
        print(f"use it as: {USAGE[args.format].replace('FILE', str(path))}")
    if "WARNING" in note:
        print(note.splitlines()[1], file=sys.stderr)
    return 0


def _chosen_table(args) -> tuple[QTable, str]:
    """The table a run chose for ``--target`` and the lines saying what it is and does."""
    from qsearch.report.runs import Run

    if args.target is None:
        raise QSearchError(f"{args.source}: a run holds many tables; give --target (e.g. 0.98)")
    finished = Run(args.source)
    point = finished.operating_point(args.target, args.metric)
    rule = "confident_table" if args.confident else "table"
    chosen = point[rule]
    if chosen is None:
        raise QSearchError(
            f"{args.source}: no front table reaches {100 * args.target:g}% of the "
            f"{point.get('reference', 'uncompressed')} {point['metric']} on the searched images"
            + (" with 95% confidence" if args.confident else "")
        )
    from qsearch.report.operating import describe

    note = (
        f"qsearch run {finished.directory.resolve()}, {chosen['file']} (trial {chosen['number']}), "
        f"chosen for {100 * args.target:g}% of the {point.get('reference', 'uncompressed')} "
        f"{point['metric']}\n"
        f"{describe(point, rule)}\nencoder settings: {finished.settings}"
    )
    return QTable.load(finished.directory / chosen["file"]), note
