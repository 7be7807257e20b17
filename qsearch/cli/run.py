"""``qsearch run``: search tables, resumably, and export the front (:func:`qsearch.experiment.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from qsearch.cli.arguments import number, parse_options, whole, writable_folder
from qsearch.cli.build import (
    build_evaluator,
    check_family,
    encoder_settings,
    evaluator_pool,
    note,
    read_folder_class_map,
)
from qsearch.cli.front import print_run
from qsearch.cli.options import (
    FAMILY_HELP,
    add_data_arguments,
    add_held_out_arguments,
)
from qsearch.cli.spec import apply_spec, spec_record
from qsearch.errors import QSearchError

NAME = "run"
HELP = "search tables; resumable; exports the Pareto front"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch run``."""
    parser.add_argument(
        "--config", type=Path, help="TOML file of these options (command-line options win)"
    )
    add_data_arguments(parser)
    search = parser.add_argument_group("search")
    search.add_argument("--searcher", default="nsga2", help="see `qsearch list` (default nsga2)")
    search.add_argument(
        "--space", help="search space: bands, full, quality, monotone (default: the searcher's own)"
    )
    search.add_argument(
        "--base",
        default="ijg",
        metavar="FAMILY",
        help="tables the space is built around and searches start from: " + FAMILY_HELP,
    )
    search.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="searcher option, repeatable (values parse as JSON: pop_size=30, anchors=[50,85])",
    )
    search.add_argument(
        "--budget", type=whole(1), help="distinct tables to evaluate, counting earlier sessions"
    )
    search.add_argument("--timeout", type=number(above=0), help="seconds for this session")
    search.add_argument("--seed", type=whole(0), default=0, help="random seed (default 0)")
    search.add_argument(
        "--tables-per-ask",
        type=whole(1),
        help="tables per ask (default: the searcher's natural batch)",
    )
    search.add_argument(
        "--metric", help="accuracy metric of the front (default top1, or similarity without labels)"
    )
    search.add_argument(
        "--floor",
        type=number(),
        default=0.95,
        help="single-objective: accuracy floor, a fraction of the uncompressed value (default 0.95)",
    )
    search.add_argument(
        "--absolute-floor", action="store_true", help="--floor is an absolute accuracy"
    )
    search.add_argument(
        "--weight", type=number(above=0), help="single-objective: minimise bpp - WEIGHT x accuracy"
    )
    search.add_argument(
        "--early-rejection",
        action="store_true",
        help="stop a table once a confidence bound shows it cannot enter the front or beat the "
        "IJG curve: fewer forward passes on hopeless tables",
    )
    search.add_argument(
        "--rejection-z",
        type=number(low=0),
        default=1.0,
        metavar="Z",
        help="width of the early-rejection bound in standard errors (default 1.0; larger is stricter)",
    )
    search.add_argument(
        "--workers",
        type=whole(1),
        default=1,
        help="evaluate a batch's tables in N worker processes, each loading the model once",
    )
    search.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="evaluate on the workers of this Dask scheduler (e.g. tcp://10.0.0.5:8786)",
    )
    add_held_out_arguments(search)
    search.add_argument(
        "--out",
        type=Path,
        help="run folder (resumes if present; default: a new folder runs/DATE-TIME-SEARCHER, "
        "printed at the start)",
    )
    search.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Search tables; resumable; exports the Pareto front (and re-scores it on a test split)."""
    from qsearch.experiment import run
    from qsearch.report.html import REPORT
    from qsearch.search.pruning import Pruner
    from qsearch.search.searcher import make_searcher
    from qsearch.search.space import make_space
    from qsearch.search.study import default_objective
    from qsearch.tables.families import make_family

    if args.out is not None and (taken := apply_spec(args, args.out, run_parser())):
        note(f"resuming {args.out} with its spec.json: " + ", ".join(taken))
    searcher = make_searcher(args.searcher, **parse_options(args.option))
    check_before_work(args)
    evaluator = build_evaluator(args)
    tester = held_out_evaluator(args)
    space = make_space(
        args.space or searcher.default_space,
        family=make_family(args.base, evaluator.images.images),  # deepn: fitted to them
    )
    pool = evaluator_pool(args)
    try:
        finished = run(
            evaluator,
            searcher,
            args.out,
            objective=objective(args, args.metric or default_objective(evaluator).metric),
            space=space,
            seed=args.seed,
            budget=args.budget,
            timeout=args.timeout,
            test_evaluator=tester,
            pruner=Pruner(args.rejection_z) if args.early_rejection else None,
            pool=pool,
            tables_per_ask=args.tables_per_ask,
            progress=not args.quiet,
            spec=spec_record(args, run_parser()),
        )
    finally:
        if pool is not None:
            pool.shutdown()
    print_run(finished)
    print(
        f"wrote {finished.directory / REPORT}: open it in a browser (plot, operating points, crops)"
    )
    return 0


def run_parser() -> argparse.ArgumentParser:
    """The options of ``qsearch run`` alone (what a run's spec records and is read back by)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_arguments(parser)
    return parser


def held_out_evaluator(args):
    """The evaluator of the held-out images: a split of --split-file, or the --test-data folder
    (with its own --test-annotations, and --limit too); None without either."""
    if args.test_split:
        return build_evaluator(args, split=args.test_split)
    if args.test_data is None:
        return None
    held_out = vars(args) | {
        "data": args.test_data, "annotations": args.test_annotations, "split_file": None,
        "split": None,
    }  # fmt: skip
    return build_evaluator(argparse.Namespace(**held_out))


def objective(args, metric: str):
    """The objective the flags describe, for ``metric``."""
    from qsearch.search.trial import Objective

    return Objective(
        metric=metric, floor=args.floor, relative=not args.absolute_floor, weight=args.weight
    )


def check_before_work(args) -> None:
    """Every refusal that needs no network: limits, splits, codec, objective, family, the
    output folder (a user's own files are never overwritten) and the held-out split."""
    from qsearch.atomic import check_output_folder
    from qsearch.search.journal import JOURNAL

    if args.budget is None and args.timeout is None:
        raise QSearchError("give --budget N (trials) and/or --timeout SECONDS")
    check_held_out_arguments(args)
    if not encoder_settings(args).encoder.takes_tables:
        raise QSearchError(
            f"--codec {args.codec} takes a quality, not a table: tables are searched under jpeg "
            "or mozjpeg (qsearch baseline --codec sweeps the others)"
        )
    objective(args, args.metric or "top1")
    check_family(args.base)
    if args.out is None:
        args.out = new_run_folder(args.searcher)
        note(f"this run writes to {args.out} (give --out {args.out} to resume it)")
    writable_folder(args.out)
    check_output_folder(args.out, JOURNAL, "qsearch run")
    if args.test_split:
        check_held_out_split(args)


def new_run_folder(searcher: str, parent: Path = Path("runs")) -> Path:
    """A folder no earlier run used, named by the time and the searcher."""
    import datetime

    stem = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{searcher}"
    found, count = parent / stem, 1
    while found.exists():
        count += 1
        found = parent / f"{stem}-{count}"
    return found


def check_held_out_arguments(args) -> None:
    """Held-out images come from one place: a split of --split-file, or a --test-data folder,
    labelled where the searched images are."""
    refusals = (
        (args.test_split and args.test_data,
         "give one of --test-split and --test-data (the held-out images)"),
        (args.test_data and args.annotations and not args.test_annotations,
         "--test-data with --annotations needs --test-annotations (the held-out images' "
         "labels): the held-out figures would otherwise lack the searched metric"),
        (args.test_annotations and not args.test_data,
         "--test-annotations goes with --test-data (the held-out folder)"),
        (args.test_split and (not args.split_file or args.data is None),
         "--test-split needs --data and --split-file (the bundled photographs have no splits)"),
    )  # fmt: skip
    for refused, message in refusals:
        if refused:
            raise QSearchError(message)


def check_held_out_split(args) -> None:
    """Refuse, before any work, a test split missing from the split file or sharing images
    (by content) with the searched split (then its figures would not be held out)."""
    from qsearch.images import split_files
    from qsearch.images.files import content_digest
    from qsearch.images.splits import check_held_out

    options = dict(labels=args.labels, class_map=read_folder_class_map(args.class_map))
    searched = split_files(args.data, args.split_file, args.split, **options)
    held_out = split_files(args.data, args.split_file, args.test_split, **options)
    check_held_out(
        [content_digest(p) for p in searched],
        [content_digest(p) for p in held_out],
        [p.name for p in held_out],
        f"--test-split {args.test_split!r}",
        f"--split {args.split!r}",
    )
