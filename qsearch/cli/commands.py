"""The commands of ``qsearch``: each is a function of parsed arguments, a thin layer over the
same Python API that notebooks use."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from qsearch.atomic import write_text
from qsearch.cli.arguments import parse_options, writable_folder
from qsearch.cli.build import (
    base_family,
    build_evaluator,
    check_family,
    encoder_settings,
    evaluator_pool,
)
from qsearch.errors import QSearchError
from qsearch.qtable import QTable

log = logging.getLogger("qsearch")


def format_metrics(metrics: dict) -> str:
    """One ``name: value`` line per metric."""
    return "\n".join(
        f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}"
        for key, value in metrics.items()
    )


def cmd_evaluate(args) -> int:
    """Score one table (an IJG quality or a table file) on the images."""
    if (args.quality is None) == (args.qtable is None):
        raise QSearchError("give exactly one of --quality Q or --qtable FILE")
    qtable = (
        QTable.from_quality(args.quality) if args.quality is not None else QTable.load(args.qtable)
    )
    evaluator = build_evaluator(args)
    metrics = evaluator.evaluate(qtable)
    print(json.dumps(metrics) if args.json else format_metrics(metrics))
    return 0


def cmd_baseline(args) -> int:
    """Quality sweeps of table families: one CSV per family and one plot."""
    import pandas as pd
    from tqdm import tqdm

    from qsearch.plotting import plot_curves
    from qsearch.report import write_csv
    from qsearch.study import default_objective

    writable_folder(args.out)
    for spec in args.base:
        check_family(spec)
    evaluator = build_evaluator(args)
    metric = default_objective(evaluator).metric
    args.out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for spec in args.base:
        family = base_family(spec, evaluator)
        rows = [
            {"quality": q, **evaluator.evaluate(family.at(q))}
            for q in tqdm(
                args.qualities, desc=f"{family} quality sweep", unit="table", disable=args.quiet
            )
        ]
        frame = pd.DataFrame(rows)
        write_csv(frame, args.out / f"{family}.csv")
        curves[f"{family} quality {min(args.qualities)}..{max(args.qualities)}"] = frame
        print(f"{family}:\n{frame[['quality', metric, 'bpp', 'ratio']].to_string(index=False)}")
    plot_curves(
        curves,
        metric,
        args.out / "baseline.png",
        title=f"{metric} vs bpp on {len(evaluator.images)} images, {evaluator.settings.describe()}",
    )
    print(
        f"wrote {', '.join(f'{args.out}/{name.split()[0]}.csv' for name in curves)} and {args.out / 'baseline.png'}"
    )
    return 0


def cmd_compress(args) -> int:
    """Write every image of SRC as a JPEG carrying the table, never touching SRC itself."""
    from qsearch.atomic import write_bytes
    from qsearch.codec import encode
    from qsearch.images import read_rgb

    qtable = QTable.load(args.qtable)
    settings = encoder_settings(args)
    targets = _compress_targets(args.src, args.dst)
    written = 0
    for path, target in targets.items():
        try:
            image = read_rgb(path)
        except QSearchError as error:
            if args.strict:
                raise
            log.warning("%s", error)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, encode(image, qtable, settings))
        written += 1
    print(f"wrote {written} JPEG file(s) to {args.dst} ({len(targets) - written} skipped)")
    return 0


def _compress_targets(src: Path, dst: Path) -> dict[Path, Path]:
    """Source file -> destination file; refuses (before anything is written) a destination that
    is or lies inside the source, and two sources that would land on one file."""
    if not src.exists():
        raise QSearchError(f"{src}: no such file or folder")
    source_root, destination = src.resolve(), dst.resolve()
    if src.is_dir() and (destination == source_root or source_root in destination.parents):
        raise QSearchError(
            f"{dst}: the destination is inside the source folder {src}; choose another folder"
        )
    if dst.exists() and not dst.is_dir():
        raise QSearchError(f"{dst}: the destination is a file, not a folder")
    sources = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    if not sources:
        raise QSearchError(f"{src}: no files to compress")
    targets: dict[Path, Path] = {}
    claimed: dict[Path, Path] = {}
    for path in sources:
        relative = path.relative_to(src) if src.is_dir() else Path(path.name)
        target = (dst / relative).with_suffix(".jpg")
        if target.resolve() in claimed:
            raise QSearchError(
                f"{path} and {claimed[target.resolve()]} would both be written as {target}; "
                "rename one of them"
            )
        if target.resolve() == path.resolve():
            raise QSearchError(
                f"{target}: writing it would overwrite its own source; choose another folder"
            )
        claimed[target.resolve()] = path
        targets[path] = target
    return targets


def cmd_run(args) -> int:
    """Search tables; resumable; exports the Pareto front (and re-scores it on a test split)."""
    from qsearch import report
    from qsearch.pruning import Pruner
    from qsearch.searcher import make_searcher
    from qsearch.space import make_space
    from qsearch.study import Study, default_objective
    from qsearch.trial import Objective

    if args.budget is None and args.timeout is None:
        raise QSearchError("give --budget N (trials) and/or --timeout SECONDS")
    if args.test_split and not args.split_file:
        raise QSearchError("--test-split needs --split-file")
    searcher = make_searcher(args.searcher, **parse_options(args.option))
    objective_options = {
        "floor": args.floor,
        "relative": not args.absolute_floor,
        "weight": args.weight,
    }
    Objective(
        metric=args.metric or "top1", **objective_options
    )  # checks the floor and weight before any work
    pruner = Pruner(args.rejection_z) if args.early_rejection else None
    check_family(args.base)
    writable_folder(args.out)
    evaluator = build_evaluator(args)
    objective = Objective(
        metric=args.metric or default_objective(evaluator).metric, **objective_options
    )
    space = make_space(
        args.space or searcher.default_space, family=base_family(args.base, evaluator)
    )
    pool = evaluator_pool(args)
    study = Study(
        evaluator,
        searcher,
        objective,
        args.out,
        space=space,
        seed=args.seed,
        pruner=pruner,
        pool=pool,
    )
    references = {"search": evaluator.reference or {}}
    try:
        ijg = report.cached_frame(
            args.out / report.IJG_SEARCH, lambda: report.quality_curve(evaluator)
        )
        if (
            pruner is not None
        ):  # the IJG curve the report needs anyway: tables must beat it from the first on
            pruner.rivals = report.rival_points(ijg, objective.metric, objective.rate)
        study.optimize(args.budget, args.timeout, args.tables_per_ask, progress=not args.quiet)
        if args.test_split:
            tester = build_evaluator(args, split=args.test_split)
            report.rescore(
                tester,
                {t.qtable.key: t.qtable for t in study.front()},
                args.out / report.TEST_SCORES,
            )
            report.cached_frame(args.out / report.IJG_TEST, lambda: report.quality_curve(tester))
            references["test"] = tester.reference or {}
        write_text(args.out / report.REFERENCE, json.dumps(references, indent=2))
    finally:
        study.close()
        if pool is not None:
            pool.shutdown()
    return export(args.out)


def cmd_front(args) -> int:
    """Re-export a run's front, tables, plot and summary from its record; with ``--target``,
    name the table to use at that share of the uncompressed accuracy and what it saves."""
    status = export(args.run)
    if args.target is not None:
        print(operating_point_line(args.run, args.target))
    return status


def operating_point_line(directory: Path, fraction: float) -> str:
    """The cheapest front table reaching ``fraction`` of the uncompressed accuracy, and its saving
    against the IJG curve at equal accuracy (on the test split when the run has one)."""
    import pandas as pd

    from qsearch import report
    from qsearch.study import load_record

    _, objective, _ = load_record(directory)
    references = (
        json.loads((directory / report.REFERENCE).read_text())
        if (directory / report.REFERENCE).exists()
        else {}
    )
    held_out = (directory / report.TEST_SCORES).exists() and "test" in references
    where = "test" if held_out else "search"
    if objective.metric not in references.get(where, {}):
        raise QSearchError(
            f"{directory}: no uncompressed {objective.metric} recorded; rerun its qsearch run command"
        )
    front = pd.read_csv(directory / "front.csv")
    if held_out:
        front = front.assign(
            bpp=front["test_bpp"], **{objective.metric: front[f"test_{objective.metric}"]}
        )
    ijg = pd.read_csv(directory / (report.IJG_TEST if held_out else report.IJG_SEARCH))
    (point,) = report.operating_points(
        front, ijg, objective.metric, references[where][objective.metric], fractions=(fraction,)
    )
    if point.get("table") is None:
        return f"no front table reaches {100 * fraction:g}% of the uncompressed {objective.metric} ({point['target']})"
    saving = (
        "IJG does not reach it"
        if point["saving_percent"] is None
        else f"{point['saving_percent']:+.1f}% bits"
    )
    return (
        f"at {100 * fraction:g}% of the uncompressed {objective.metric} ({point['target']:.4f}, {where} images): "
        f"use {directory / point['table']} ({point['bpp']:.3f} bpp), {saving} vs the IJG curve at equal accuracy"
    )


def export(directory: Path) -> int:
    """Write a run's exports and print its front and summary."""
    import pandas as pd

    from qsearch import report
    from qsearch.study import load_record

    trials, objective, identity = load_record(directory)
    if not trials:
        raise QSearchError(
            f"{directory}: the run has no trials yet; run its qsearch run command first"
        )
    if not (directory / report.IJG_SEARCH).exists():
        raise QSearchError(
            f"{directory}: has no IJG reference curve yet; rerun the same qsearch run command"
        )
    summary = report.export_run(directory, trials, objective, identity)
    front = pd.read_csv(directory / "front.csv")
    columns = [
        c
        for c in (
            "number",
            objective.metric,
            "bpp",
            "ratio",
            f"test_{objective.metric}",
            "test_bpp",
            "table",
        )
        if c in front
    ]
    print(front[columns].to_string(index=False))
    print(json.dumps({k: v for k, v in summary.items() if k != "identity"}, indent=2))
    print(
        f"wrote {directory}/trials.csv, front.csv, front.png, summary.json and {len(front)} table file(s)"
    )
    return 0


def cmd_list(args) -> int:
    """Every searcher, evaluator and search space, with what it is."""
    from qsearch.evaluator import EVALUATORS
    from qsearch.searcher import SEARCHERS
    from qsearch.space import SPACES

    for title, registry in (
        ("searchers", SEARCHERS),
        ("evaluators", EVALUATORS),
        ("spaces", SPACES),
    ):
        print(f"{title}:")
        for name, description in registry.describe():
            print(f"  {name:<12} {description}")
    return 0


def cmd_model(args) -> int:
    """Write the input declaration a model file is used with (its sidecar and the options given)."""
    from qsearch.cli.build import declared_preprocessing
    from qsearch.models import load_classifier, write_sidecar

    if not args.file.is_file():
        raise QSearchError(f"{args.file}: no such model file")
    classifier = load_classifier(
        str(args.file), device="cpu", declared=declared_preprocessing(args)
    )
    path = write_sidecar(args.file, classifier)
    print(f"wrote {path}:\n{path.read_text()}", end="")
    return 0


def cmd_cache(args) -> int:
    """Show or empty the prepared-image cache."""
    from qsearch.cache import ImageCache

    cache = ImageCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} prepared image set(s) from {cache.folder}")
        return 0
    entries = cache.entries()
    total = sum(e.bytes for e in entries)
    print(
        f"{cache.folder}: {len(entries)} prepared image set(s), {total / 2**20:.1f} MiB "
        f"of a {cache.limit / 2**30:.1f} GiB limit (QSEARCH_CACHE, QSEARCH_CACHE_LIMIT)"
    )
    for entry in reversed(entries):
        index = entry.index
        print(
            f"  {entry.key[:12]}  {len(index.get('names', [])):>5} images  {entry.bytes / 2**20:8.1f} MiB  "
            f"{index.get('compress_at', '?'):<6} {index.get('folder', '?')}"
        )
    return 0


def cmd_repair(args) -> int:
    """Drop the damaged lines of a run's journal, keeping every intact trial."""
    from qsearch.study import repair_journal

    dropped, kept = repair_journal(args.run)
    print(
        f"{args.run}: dropped {dropped} damaged line(s), kept {kept} trial(s)"
        + (" (the original is in study.journal.damaged)" if dropped else "")
    )
    return 0


def print_error(message: str) -> None:
    """The one line a user sees for a bad input."""
    print(f"qsearch: error: {message}", file=sys.stderr)
