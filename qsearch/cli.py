"""The ``qsearch`` command: a thin layer over the Python API. Each command is a function of
parsed arguments; ``main(argv)`` is what tests call."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from qsearch.codec import SUBSAMPLINGS, EncoderSettings, encode
from qsearch.errors import QSearchError
from qsearch.images import COMPRESS_AT, Preprocessing, load_images, read_rgb
from qsearch.qtable import QTable

DEFAULT_QUALITIES = tuple(range(5, 100, 5))


# -- shared argument groups --------------------------------------------------------------
def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("images and model")
    group.add_argument("--data", type=Path, help="image folder (default: the embedded sample photos)")
    group.add_argument("--split-file", type=Path, help="JSON file of named lists of image names")
    group.add_argument("--split", help="which list of --split-file to use")
    group.add_argument("--limit", type=int, help="use only the first N images")
    group.add_argument("--compress-at", choices=COMPRESS_AT, default="input",
                       help="compress the network-sized crop (input) or the stored image (source)")
    group.add_argument("--strict", action="store_true", help="an unreadable image is fatal instead of skipped")
    group.add_argument("--evaluator", default="classifier", help="classifier (default) or fidelity")
    group.add_argument("--model", help="efficientnet_lite0 (default), timm/ARCH, torchvision/ARCH or a TorchScript file")
    group.add_argument("--weights", type=Path, help="state-dict file for a timm/torchvision model")
    group.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    group.add_argument("--batch-size", type=int, default=50, help="images per forward pass")
    group.add_argument("--forward", default="auto",
                       help="forward path: auto (fastest within half a point of fp32 top-1), fp32 (exact), "
                            "onnx, bf16, fp16, compile, compile-bf16")
    encoder = parser.add_argument_group("encoder settings (identical for every table compared)")
    encoder.add_argument("--subsampling", choices=SUBSAMPLINGS, default="4:2:0")
    encoder.add_argument("--optimize", action="store_true", help="optimised Huffman tables")
    encoder.add_argument("--progressive", action="store_true")
    encoder.add_argument("--smallest", action="store_true", help=SMALLEST_HELP)


SMALLEST_HELP = "per image, the smaller of an optimised baseline and a progressive file (same pixels)"


def encoder_settings(args) -> EncoderSettings:
    return EncoderSettings(args.subsampling, args.optimize, args.progressive, args.smallest)


def build_evaluator(args, split: str | None = None):
    """The evaluator the arguments describe, on ``split`` (default ``args.split``)."""
    from qsearch.evaluators import EVALUATORS, ClassifierEvaluator

    evaluator_class = EVALUATORS[args.evaluator]
    classifier = None
    preprocessing = Preprocessing()
    if evaluator_class is ClassifierEvaluator:
        from qsearch.models import load_classifier

        classifier = load_classifier(args.model, args.weights, args.device)
        preprocessing = classifier.preprocessing
    if args.data is None:
        from qsearch.samples import sample_photos

        source, split_file, split = sample_photos(), None, None
    else:
        source, split_file, split = args.data, args.split_file, split or args.split
    images = load_images(source, split_file=split_file, split=split, compress_at=args.compress_at,
                         preprocessing=preprocessing, limit=args.limit, strict=args.strict)
    if classifier is not None:
        return ClassifierEvaluator(images, classifier, encoder_settings(args), batch_size=args.batch_size,
                                   forward=args.forward)
    return evaluator_class(images, encoder_settings(args))


def primary_metric(evaluator) -> str:
    """top1 with labels, agreement without; the evaluator's first figure otherwise."""
    metrics = evaluator.accuracy_metrics
    return "top1" if "top1" in metrics else "agreement" if "agreement" in metrics else metrics[0]


def format_metrics(metrics: dict) -> str:
    return "\n".join(f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}"
                     for key, value in metrics.items())


# -- commands ------------------------------------------------------------------------------
def cmd_evaluate(args) -> int:
    if (args.quality is None) == (args.qtable is None):
        raise QSearchError("give exactly one of --quality Q or --qtable FILE")
    qtable = QTable.from_quality(args.quality) if args.quality is not None else QTable.load(args.qtable)
    evaluator = build_evaluator(args)
    metrics = evaluator.evaluate(qtable)
    print(json.dumps(metrics) if args.json else format_metrics(metrics))
    return 0


def cmd_baseline(args) -> int:
    from qsearch.plotting import plot_curves
    from tqdm import tqdm

    evaluator = build_evaluator(args)
    metric = primary_metric(evaluator)
    args.out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for spec in args.base:
        family = base_family(spec, evaluator)
        rows = [{"quality": q, **evaluator.evaluate(family.at(q))}
                for q in tqdm(args.qualities, desc=f"{family} quality sweep", unit="table")]
        frame = pd.DataFrame(rows)
        frame.to_csv(args.out / f"{family}.csv", index=False)
        curves[f"{family} quality {min(args.qualities)}..{max(args.qualities)}"] = frame
        print(f"{family}:\n{frame[['quality', metric, 'bpp', 'ratio']].to_string(index=False)}")
    plot_curves(curves, metric, args.out / "baseline.png", title=f"{metric} vs bpp, {evaluator.settings.describe()}")
    print(f"wrote {', '.join(f'{args.out}/{name.split()[0]}.csv' for name in curves)} and {args.out / 'baseline.png'}")
    return 0


def base_family(spec: str, evaluator):
    """The table family ``--base`` names; ``deepn`` is fitted to the evaluator's (search) images."""
    from qsearch.families import make_family

    return make_family(spec, evaluator.images.images if spec == "deepn" else None)


def cmd_compress(args) -> int:
    qtable = QTable.load(args.qtable)
    settings = encoder_settings(args)
    sources = sorted(p for p in args.src.rglob("*") if p.is_file()) if args.src.is_dir() else [args.src]
    if not sources:
        raise QSearchError(f"{args.src}: no files to compress")
    written = 0
    for path in sources:
        try:
            image = read_rgb(path)
        except QSearchError as error:
            if args.strict:
                raise
            logging.warning("%s", error)
            continue
        target = (args.dst / path.relative_to(args.src) if args.src.is_dir() else args.dst / path.name).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode(image, qtable, settings))
        written += 1
    print(f"wrote {written} JPEG file(s) to {args.dst} ({len(sources) - written} skipped)")
    return 0


def parse_options(pairs: list[str]) -> dict:
    """``key=value`` searcher options; values are JSON when they parse as JSON, else strings."""
    options = {}
    for pair in pairs or []:
        key, separator, value = pair.partition("=")
        if not separator:
            raise QSearchError(f"--option {pair!r} is not KEY=VALUE")
        try:
            options[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            options[key.replace("-", "_")] = value
    return options


def cmd_run(args) -> int:
    from qsearch import report
    from qsearch.searchers import SEARCHERS, make_searcher
    from qsearch.space import make_space
    from qsearch.study import Study, default_objective
    from qsearch.trial import Objective

    if args.budget is None and args.timeout is None:
        raise QSearchError("give --budget N (trials) and/or --timeout SECONDS")
    evaluator = build_evaluator(args)
    options = parse_options(args.option)
    if SEARCHERS[args.searcher].needs_model:
        if not hasattr(evaluator, "classifier"):
            raise QSearchError(f"searcher {args.searcher} learns from the network: use --evaluator classifier")
        options.update(classifier=evaluator.classifier, images=evaluator.images)
    try:
        space = make_space(args.space or SEARCHERS[args.searcher].default_space, family=base_family(args.base, evaluator))
        searcher = make_searcher(args.searcher, space, args.seed, **options)
    except TypeError as error:
        raise QSearchError(f"searcher {args.searcher}: {error}") from None
    objective = Objective(metric=args.metric or default_objective(evaluator).metric, floor=args.floor,
                          relative=not args.absolute_floor, weight=args.weight)
    rivals = ()
    if args.early_rejection:  # the IJG curve the report needs anyway, computed first to prune against
        args.out.mkdir(parents=True, exist_ok=True)
        ijg = report.cached_frame(args.out / report.IJG_SEARCH, lambda: report.quality_curve(evaluator))
        rivals = report.rival_points(ijg, objective.metric, objective.rate)
    pool = evaluator_pool(args)
    study = Study(evaluator, searcher, objective, args.out, early_rejection=args.early_rejection, pool=pool,
                  rivals=rivals, rejection_z=args.rejection_z)
    try:
        study.optimize(args.budget, args.timeout, args.tables_per_ask, progress=not args.quiet)
        report.cached_frame(args.out / report.IJG_SEARCH, lambda: report.quality_curve(evaluator))
        if args.test_split:
            tester = build_evaluator(args, split=args.test_split)
            report.rescore(tester, {t.qtable.key: t.qtable for t in study.front()}, args.out / report.TEST_SCORES)
            report.cached_frame(args.out / report.IJG_TEST, lambda: report.quality_curve(tester))
    finally:
        study.close()
        if pool is not None:
            pool.shutdown()
    return _export(args.out)


def evaluator_pool(args):
    """Where a run's evaluations go besides this process: a Dask cluster or local processes."""
    from functools import partial

    from qsearch import workers

    factory = partial(build_evaluator, args)
    if args.dask_scheduler:
        return workers.dask_pool(args.dask_scheduler, factory)
    return workers.process_pool(factory, args.workers) if args.workers > 1 else None


def cmd_front(args) -> int:
    return _export(args.run)


def _export(directory: Path) -> int:
    from qsearch import report
    from qsearch.study import load_record

    trials, objective, signature = load_record(directory)
    if not (directory / report.IJG_SEARCH).exists():
        raise QSearchError(f"{directory}: has no IJG reference curve yet; rerun the same qsearch run command")
    summary = report.export_run(directory, trials, objective, signature)
    front = pd.read_csv(directory / "front.csv")
    columns = [c for c in ("number", objective.metric, "bpp", "ratio", f"test_{objective.metric}", "test_bpp", "table")
               if c in front]
    print(front[columns].to_string(index=False))
    print(json.dumps(summary, indent=2))
    print(f"wrote {directory}/trials.csv, front.csv, front.png, summary.json and {len(front)} table file(s)")
    return 0


def cmd_list(args) -> int:
    from qsearch.evaluators import EVALUATORS
    from qsearch.searchers import SEARCHERS
    from qsearch.space import SPACES

    for title, registry in (("searchers", SEARCHERS), ("evaluators", EVALUATORS), ("spaces", SPACES)):
        print(f"{title}:")
        for name, description in registry.describe():
            print(f"  {name:<12} {description}")
    return 0


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qsearch", description="Search JPEG quantization tables for machine vision.")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("evaluate", help="score one table")
    add_data_arguments(evaluate)
    evaluate.add_argument("--quality", type=int, help="IJG quality 1..100")
    evaluate.add_argument("--qtable", type=Path, help="cjpeg -qtables text file or JSON table pair")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=cmd_evaluate)

    baseline = commands.add_parser("baseline", help="evaluate quality sweeps of table families; CSV and plot")
    add_data_arguments(baseline)
    baseline.add_argument("--base", nargs="+", default=["ijg"], metavar="FAMILY",
                          help="ijg (default), mozjpeg-0..8, deepn (fitted to the images) or a table file")
    baseline.add_argument("--qualities", type=int, nargs="+", default=list(DEFAULT_QUALITIES))
    baseline.add_argument("--out", type=Path, default=Path("qsearch-baseline"))
    baseline.set_defaults(func=cmd_baseline)

    run = commands.add_parser("run", help="search tables; resumable; exports the Pareto front")
    run.add_argument("--config", type=Path, help="TOML file of these options (command-line options win)")
    add_data_arguments(run)
    search = run.add_argument_group("search")
    search.add_argument("--searcher", default="nsga2", help="see `qsearch list` (default nsga2)")
    search.add_argument("--space", help="search space (default: the searcher's own)")
    search.add_argument("--base", default="ijg", metavar="FAMILY",
                        help="tables the space is built around and searches start from: ijg (default), "
                             "mozjpeg-0..8, deepn (fitted to the search images) or a table file")
    search.add_argument("--option", action="append", metavar="KEY=VALUE", help="searcher option, repeatable")
    search.add_argument("--budget", type=int, help="distinct tables to evaluate, counting earlier sessions")
    search.add_argument("--timeout", type=float, help="seconds for this session")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--tables-per-ask", type=int, help="tables per ask (default: the searcher's natural batch)")
    search.add_argument("--metric", help="accuracy metric of the front (default top1, or agreement without labels)")
    search.add_argument("--floor", type=float, default=0.95,
                        help="single-objective: accuracy floor, a fraction of the uncompressed value (default 0.95)")
    search.add_argument("--absolute-floor", action="store_true", help="--floor is an absolute accuracy")
    search.add_argument("--weight", type=float, help="single-objective: minimise bpp - WEIGHT x accuracy instead")
    search.add_argument("--early-rejection", action="store_true",
                        help="stop a table once a confidence bound shows it cannot enter the front or beat the "
                             "IJG curve (see benchmarks/RESULTS.md for the forward passes it saves)")
    search.add_argument("--rejection-z", type=float, default=1.0, metavar="Z",
                        help="width of the early-rejection bound in standard errors (default 1.0; larger is stricter)")
    search.add_argument("--workers", type=int, default=1,
                        help="evaluate a batch's tables in N worker processes, each loading the model once")
    search.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="evaluate on the workers of this Dask scheduler (e.g. tcp://10.0.0.5:8786)")
    search.add_argument("--test-split", help="re-score the front on this split of --split-file")
    search.add_argument("--out", type=Path, default=Path("runs/latest"), help="run directory (resumes if present)")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    front = commands.add_parser("front", help="re-export a run's front, tables, plot and summary")
    front.add_argument("run", type=Path)
    front.set_defaults(func=cmd_front)

    listing = commands.add_parser("list", help="list searchers, evaluators and search spaces")
    listing.set_defaults(func=cmd_list)

    compress = commands.add_parser("compress", help="write a folder of JPEGs with a table")
    compress.add_argument("--qtable", type=Path, required=True)
    compress.add_argument("src", type=Path)
    compress.add_argument("dst", type=Path)
    compress.add_argument("--strict", action="store_true")
    compress.add_argument("--subsampling", choices=SUBSAMPLINGS, default="4:2:0")
    compress.add_argument("--optimize", action="store_true")
    compress.add_argument("--progressive", action="store_true")
    compress.add_argument("--smallest", action="store_true", help=SMALLEST_HELP)
    compress.set_defaults(func=cmd_compress)
    return parser


def apply_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` TOML file supplies defaults that the command line overrides."""
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is None:
        return args
    import tomllib

    try:
        config = tomllib.loads(args.config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise QSearchError(f"{args.config}: not a readable TOML file ({error})") from None
    subparser = parser._subparsers._group_actions[0].choices[args.command]
    known = {action.dest: action for action in subparser._actions}
    defaults = {}
    for key, value in config.items():
        dest = key.replace("-", "_")
        if dest not in known:
            raise QSearchError(f"{args.config}: unknown option {key!r}")
        action = known[dest]
        defaults[dest] = action.type(value) if action.type and not isinstance(value, list) else value
    subparser.set_defaults(**defaults)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = apply_config(parser, argv)
    except QSearchError as error:
        print(f"qsearch: error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="qsearch: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except QSearchError as error:
        print(f"qsearch: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qsearch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
