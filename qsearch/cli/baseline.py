"""``qsearch baseline``: what a user could do without searching, written to a folder
(:func:`qsearch.report.baseline.baseline`)."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import whole, writable_folder
from qsearch.cli.build import (
    build_evaluator,
    check_family,
    codecs,
    encoder_settings,
)
from qsearch.cli.options import (
    FAMILY_HELP,
    add_data_arguments,
)
from qsearch.tables.qtable import IJG_QUALITIES

NAME = "baseline"
HELP = "quality sweeps of table families: a CSV each and one plot"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch baseline``."""
    add_data_arguments(parser)
    parser.add_argument("--base", nargs="+", default=["ijg"], metavar="FAMILY", help=FAMILY_HELP)
    parser.add_argument(
        "--qualities",
        type=whole(1, 100),
        nargs="+",
        default=list(IJG_QUALITIES),
        metavar="Q",
        help="IJG qualities of the sweep (default 5 10 ... 95)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("qsearch-baseline"),
        help="folder for each sweep (NAME.csv), ladder.md, ladder.csv and baseline.png "
        "(default qsearch-baseline)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Sweep the families and codecs the arguments name; print and write the ladder."""
    from qsearch.report.baseline import baseline, check_baseline_folder
    from qsearch.report.ladder import markdown

    writable_folder(args.out)
    check_baseline_folder(args.out)
    for spec in args.base:
        check_family(spec)
    names = codecs(args)
    evaluator = build_evaluator(args, codec="jpeg")
    result = baseline(
        evaluator,
        families=args.base,  # deepn is fitted to the swept images
        codecs=names,
        qualities=args.qualities,
        settings=encoder_settings(args, "jpeg"),
        sizes=args.size.split(",")[1:],
        progress=not args.quiet,
    )
    columns = ["quality", result.metric, "bpp", "ratio"]
    for name, frame in result.sweeps.items():
        print(f"{name}:\n{frame[columns].to_string(index=False)}")
    print("\n\n".join([markdown(result.ladder), *result.best]))
    result.write(args.out)
    print(
        f"wrote {len(result.sweeps)} CSV file(s), ladder.md, ladder.csv and baseline.png in "
        f"{args.out}"
    )
    return 0
