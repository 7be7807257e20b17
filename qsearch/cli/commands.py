"""The commands of ``qsearch``: each is a function of parsed arguments, a thin layer over the
same Python API that notebooks use."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from qsearch.cli.arguments import parse_options, writable_folder
from qsearch.cli.build import (
    base_family,
    build_evaluator,
    check_family,
    codecs,
    encoder_settings,
    evaluator_pool,
    read_class_map,
)
from qsearch.errors import QSearchError
from qsearch.search.trial import operating_target
from qsearch.tables.qtable import QTable

log = logging.getLogger("qsearch")


def format_metrics(metrics: dict) -> str:
    """One ``name: value`` line per metric."""
    return "\n".join(
        f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}"
        for key, value in metrics.items()
    )


def cmd_evaluate(args) -> int:
    """Score one table (an IJG quality or a table file), or a quality codec at a quality."""
    if (args.quality is None) == (args.qtable is None):
        raise QSearchError("give exactly one of --quality Q or --qtable FILE")
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


def cmd_baseline(args) -> int:
    """Quality sweeps on the same images: of table families under each table codec, of each
    quality codec on its own scale; one CSV each, one plot, and the ladder against IJG."""
    from qsearch.atomic import write_text
    from qsearch.report import ladder
    from qsearch.report.curves import write_csv
    from qsearch.report.plots import plot_curves
    from qsearch.search.study import default_objective

    writable_folder(args.out)
    for spec in args.base:
        check_family(spec)
    names = codecs(args)
    evaluator = build_evaluator(args, codec="jpeg")
    metric = default_objective(evaluator).metric
    args.out.mkdir(parents=True, exist_ok=True)
    swept = {}
    for name in dict.fromkeys(["jpeg", *names]):  # IJG under libjpeg-turbo: the reference
        settings = encoder_settings(args, name)
        families = args.base if name in names else ["ijg"]
        for spec in families if settings.encoder.takes_tables else [None]:
            family = base_family(spec, evaluator) if spec is not None else None
            frame = ladder.sweep(evaluator, settings, args.qualities, family, not args.quiet)
            stem = (str(family) if name == "jpeg" else f"{name}-{family}") if family else name
            write_csv(frame, args.out / f"{stem}.csv")
            swept[stem] = frame
            print(f"{stem}:\n{frame[['quality', metric, 'bpp', 'ratio']].to_string(index=False)}")
    reported = evaluator.accuracy_metrics
    measured = (
        ["top1", "logprob"]
        if "top1" in reported
        else [m for m in ("similarity",) if m in reported] or [metric]
    )
    uncompressed = evaluator.reference or {}
    table = ladder.ladder(swept, swept["ijg"], measured, uncompressed)
    text = ladder.markdown(table)
    write_csv(table, args.out / "ladder.csv")
    write_text(args.out / "ladder.md", text + "\n")
    print(text)
    targets = [
        operating_target(metric, uncompressed[metric], f)
        for f in (0.98, 0.95)
        if metric in uncompressed
    ]
    plot_curves(
        {
            f"{stem} quality {min(args.qualities)}..{max(args.qualities)}": f
            for stem, f in swept.items()
        },
        metric,
        args.out / "baseline.png",
        title=f"{metric} vs bpp on {len(evaluator.images)} images"
        + (f"; dotted: 98% and 95% of the uncompressed {metric}" if targets else ""),
        levels=targets,
    )
    print(f"wrote {len(swept)} CSV file(s), ladder.md, ladder.csv and baseline.png in {args.out}")
    return 0


def cmd_compress(args) -> int:
    """Write every image of SRC as a JPEG carrying the table, never touching SRC itself.

    Pixels are encoded as stored, as ``evaluate`` scores them (EXIF orientation is not applied
    to them), and the EXIF block (orientation tag included) and the ICC profile are kept, so a
    viewer shows the copy as it showed the source; ``--strip`` leaves both out."""
    from qsearch.atomic import write_bytes
    from qsearch.codecs.codec import encode
    from qsearch.images import read_metadata, read_rgb

    qtable = QTable.load(args.qtable)
    settings = encoder_settings(args)
    targets = _compress_targets(args.src, args.dst)
    existing = [t for t in targets.values() if t.exists()]
    if existing and not args.overwrite:
        raise QSearchError(
            f"{existing[0]}: already exists ({len(existing)} of the {len(targets)} targets do); "
            "give --overwrite to replace them, or another destination"
        )
    written, kept = 0, {"exif": 0, "icc_profile": 0}
    for path, target in targets.items():
        try:
            image = read_rgb(path)
            metadata = {} if args.strip else read_metadata(path)
        except QSearchError as error:
            if args.strict:
                raise
            log.warning("%s", error)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(target, encode(image, qtable, settings, metadata))
        except OSError as error:
            raise QSearchError(
                f"{target}: cannot write ({error.strerror}); {written} file(s) were written before it"
            ) from None
        written += 1
        for key in kept:
            kept[key] += bool(metadata.get(key))
    print(
        f"wrote {written} JPEG file(s) to {args.dst} ({len(targets) - written} skipped), folder "
        f"layout kept, pixels as stored; kept EXIF on {kept['exif']} and an ICC profile on "
        f"{kept['icc_profile']}" + (" (--strip)" if args.strip else "")
    )
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
    from qsearch.report.runs import run
    from qsearch.search.pruning import Pruner
    from qsearch.search.searcher import make_searcher
    from qsearch.search.space import make_space
    from qsearch.search.study import default_objective
    from qsearch.search.trial import Objective

    if args.budget is None and args.timeout is None:
        raise QSearchError("give --budget N (trials) and/or --timeout SECONDS")
    if args.test_split and not args.split_file:
        raise QSearchError("--test-split needs --split-file")
    if args.test_split and args.data is None:
        raise QSearchError("--test-split needs --data (the bundled photographs have no splits)")
    if not encoder_settings(args).encoder.takes_tables:
        raise QSearchError(
            f"--codec {args.codec} takes a quality, not a table: tables are searched under jpeg "
            "or mozjpeg (qsearch baseline --codec sweeps the others)"
        )
    searcher = make_searcher(args.searcher, **parse_options(args.option))
    objective_options = {
        "floor": args.floor,
        "relative": not args.absolute_floor,
        "weight": args.weight,
    }
    Objective(metric=args.metric or "top1", **objective_options)  # checked before any work
    pruner = Pruner(args.rejection_z) if args.early_rejection else None
    check_family(args.base)
    writable_folder(args.out)
    if args.test_split:
        check_held_out_split(args)
    evaluator = build_evaluator(args)
    tester = build_evaluator(args, split=args.test_split) if args.test_split else None
    objective = Objective(
        metric=args.metric or default_objective(evaluator).metric, **objective_options
    )
    space = make_space(
        args.space or searcher.default_space, family=base_family(args.base, evaluator)
    )
    pool = evaluator_pool(args)
    try:
        finished = run(
            evaluator,
            searcher,
            args.out,
            objective=objective,
            space=space,
            seed=args.seed,
            budget=args.budget,
            timeout=args.timeout,
            test_evaluator=tester,
            pruner=pruner,
            pool=pool,
            tables_per_ask=args.tables_per_ask,
            progress=not args.quiet,
        )
    finally:
        if pool is not None:
            pool.shutdown()
    print_run(finished)
    return 0


def check_held_out_split(args) -> None:
    """Refuse, before any work, a test split missing from the split file or naming files of the
    searched split (then its figures would not be held out)."""
    from qsearch.images import split_files

    options = dict(labels=args.labels, class_map=read_class_map(args.class_map))
    searched = split_files(args.data, args.split_file, args.split, **options)
    held_out = split_files(args.data, args.split_file, args.test_split, **options)
    common = sorted(set(searched) & set(held_out))
    if common:
        raise QSearchError(
            f"--test-split {args.test_split!r} shares {len(common)} of its {len(held_out)} files "
            f"with --split {args.split!r} (e.g. {common[0].name}): its figures would not be held out"
        )


def cmd_front(args) -> int:
    """Re-export a run's front, tables, plot and summary from its record; with ``--target``,
    name the table to use at that share of the uncompressed accuracy and what it saves."""
    from qsearch.report.runs import Run

    finished = Run(args.run)
    finished.export()
    print_run(finished)
    if args.target is not None:
        print(finished.describe_operating_point(args.target))
    return 0


def print_run(finished) -> None:
    """The front and the summary of an exported run, as ``qsearch run`` and ``front`` print them."""
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
    for fraction in (0.98, 0.95):
        if metric in finished.references.get("search", {}) and metric != "kl":
            print(finished.describe_operating_point(fraction))
    print(
        f"wrote {finished.directory}/trials.csv, front.csv, front.png, summary.json and "
        f"{len(front)} table file(s)"
    )


def cmd_export(args) -> int:
    """Write a run's chosen table (or a table file) in the form an encoder takes it, saying where
    it comes from in the file where the format has room."""
    from qsearch.tables.exports import export

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
            f"{args.source}: no front table reaches {100 * args.target:g}% of the uncompressed "
            f"{point['metric']} on the searched images"
            + (" with 95% confidence" if args.confident else "")
        )
    from qsearch.report.operating import describe

    note = (
        f"qsearch run {finished.directory.resolve()}, {chosen['file']} (trial {chosen['number']}), "
        f"chosen for {100 * args.target:g}% of the uncompressed {point['metric']}\n"
        f"{describe(point, rule)}\nencoder settings: {finished.settings}"
    )
    return QTable.load(finished.directory / chosen["file"]), note


def cmd_inspect(args) -> int:
    """The tables of a JPEG file or of every JPEG in a folder, grouped, with the nearest IJG
    quality of each and the error of that estimate."""
    from qsearch.tables.inspection import inspect_files, nearest_quality

    groups = inspect_files(args.path)
    count = sum(map(len, groups.values()))
    print(f"{args.path}: {count} JPEG file(s), {len(groups)} distinct set(s) of tables")
    for tables, files in sorted(groups.items(), key=lambda item: len(item[1]), reverse=True):
        kind = "luma only (grayscale)" if len(tables) == 1 else f"{len(tables)} tables"
        estimate = nearest_quality(tables).describe()
        print(f"\n{len(files)} file(s), {kind}, e.g. {files[0]}: {estimate}")
        for slot, values in enumerate(tables):
            rows = (" ".join(f"{v:3d}" for v in values[i : i + 8]) for i in range(0, 64, 8))
            print(f"# slot {slot}\n" + "\n".join(rows))
    return 0


def cmd_list(args) -> int:
    """Every searcher, evaluator, search space and codec, with what it is."""
    from qsearch.codecs.encoders import ENCODERS
    from qsearch.search.evaluator import EVALUATORS
    from qsearch.search.searcher import SEARCHERS
    from qsearch.search.space import SPACES

    for title, registry in (
        ("searchers", SEARCHERS),
        ("evaluators", EVALUATORS),
        ("spaces", SPACES),
    ):
        print(f"{title}:")
        for name, description in registry.describe():
            print(f"  {name:<12} {description}")
    print("codecs (--codec):")
    for name, encoder in ENCODERS.items():
        try:
            encoder.available()
            state = encoder.version()
        except QSearchError as error:
            state = str(error)
        kind = "a table" if encoder.takes_tables else "a quality"
        print(f"  {name:<12} takes {kind}; {state}")
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
    from qsearch.images.cache import ImageCache

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
    from qsearch.search.journal import repair_journal

    dropped, kept = repair_journal(args.run)
    print(
        f"{args.run}: dropped {dropped} damaged line(s), kept {kept} trial(s)"
        + (" (the original is in study.journal.damaged)" if dropped else "")
    )
    return 0


def print_error(message: str) -> None:
    """The one line a user sees for a bad input."""
    print(f"qsearch: error: {message}", file=sys.stderr)
