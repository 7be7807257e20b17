"""The ``qsearch`` command. ``main(argv)`` is what the console script and the tests call; it
returns the exit status and never lets a traceback reach the user (an unexpected error is one
line and the path of a log file holding the traceback)."""

from __future__ import annotations

import datetime
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

from qsearch import __version__
from qsearch.cli import commands
from qsearch.cli.arguments import Parser, apply_config, names_list, number, triple, whole
from qsearch.codecs.codec import SUBSAMPLINGS
from qsearch.errors import QSearchError
from qsearch.images import COMPRESS_AT, INTERPOLATIONS, LABEL_RULES

DEFAULT_QUALITIES = list(range(5, 100, 5))
SMALLEST_HELP = (
    "per image, the smaller of an optimised baseline and a progressive file (same pixels)"
)
FAMILY_HELP = (
    "ijg (default), mozjpeg-0..8 (mozjpeg's cjpeg -quant-table presets), deepn (fitted to the "
    "images' DCT statistics) or a table file"
)


def add_encoder_arguments(parser) -> None:
    """Lossless encoder settings, identical for every table compared."""
    encoder = parser.add_argument_group("encoder settings (identical for every table compared)")
    encoder.add_argument(
        "--subsampling",
        choices=SUBSAMPLINGS,
        default="4:2:0",
        help="chroma subsampling (default 4:2:0)",
    )
    encoder.add_argument("--optimize", action="store_true", help="optimised Huffman tables")
    encoder.add_argument("--progressive", action="store_true", help="progressive files")
    encoder.add_argument("--smallest", action="store_true", help=SMALLEST_HELP)
    encoder.add_argument(
        "--codec",
        default="jpeg",
        help="encoder: jpeg (libjpeg-turbo, default), mozjpeg (trellis, takes tables), jpegli, "
        "webp, avif, jxl (a quality each); baseline takes a comma list (the codec ladder)",
    )


def add_data_arguments(parser) -> None:
    """Images, labels, the network and how it wants its inputs."""
    group = parser.add_argument_group("images")
    group.add_argument(
        "--data",
        type=Path,
        help="image folder (default: the photographs bundled with scikit-image)",
    )
    group.add_argument("--split-file", type=Path, help="JSON file of named lists of image names")
    group.add_argument("--split", help="which list of --split-file to use")
    group.add_argument("--limit", type=whole(1), help="use only the first N images")
    group.add_argument(
        "--labels",
        choices=LABEL_RULES,
        default="auto",
        help="where labels come from: folders (one subfolder per class), imagenet (nSYNSET_* "
        "file names), none, or auto (folders if there are subfolders, imagenet if most "
        "files are so named, else none); the rule used is printed and recorded",
    )
    group.add_argument(
        "--class-map",
        type=Path,
        metavar="FILE",
        help="JSON object class-folder -> network output index, for folders ordered otherwise",
    )
    group.add_argument(
        "--compress-at",
        choices=COMPRESS_AT,
        default="input",
        help="compress the network-sized crop (input, default) or the stored image (source)",
    )
    group.add_argument(
        "--strict",
        action="store_true",
        help="an unreadable or unlabelable image is fatal instead of skipped",
    )
    model = parser.add_argument_group("network")
    model.add_argument(
        "--evaluator",
        default="classifier",
        help="classifier (a frozen network, default) or fidelity (PSNR/SSIM, no network)",
    )
    model.add_argument(
        "--model",
        help="efficientnet_lite0 (default), efficientnet_lite1/2 (extra packages), "
        "timm/ARCH or torchvision/ARCH with --weights, or a model file "
        "(TorchScript .pt, torch.export .pt2, ONNX .onnx) with an optional M.json",
    )
    model.add_argument(
        "--weights", type=Path, help="state-dict file for a timm/ARCH or torchvision/ARCH model"
    )
    model.add_argument(
        "--networks",
        type=names_list,
        help="judge every table on several networks at once, e.g. "
        "efficientnet_lite0,efficientnet_lite1 (each with its own inputs; replaces --model)",
    )
    model.add_argument(
        "--combine",
        choices=("worst", "mean"),
        default="worst",
        help="with --networks: a table keeps the mean uncompressed accuracy minus the worst "
        "(default) or the mean of the networks' losses",
    )
    model.add_argument(
        "--mean", type=triple, help="input normalisation mean R,G,B in 0..1 (overrides M.json)"
    )
    model.add_argument(
        "--std", type=triple, help="input normalisation std R,G,B in 0..1 (overrides M.json)"
    )
    model.add_argument(
        "--input-size", type=whole(8), help="network input side in pixels (overrides M.json)"
    )
    model.add_argument(
        "--resize", type=whole(8), help="short side before the centre crop (overrides M.json)"
    )
    model.add_argument(
        "--interpolation", choices=tuple(INTERPOLATIONS), help="resize filter (overrides M.json)"
    )
    model.add_argument(
        "--device", help="torch device, e.g. cpu or cuda:1 (default: cuda when present, else cpu)"
    )
    model.add_argument(
        "--batch-size", type=whole(1), default=50, help="images per forward pass (default 50)"
    )
    model.add_argument(
        "--forward",
        default="auto",
        choices=("auto", "fp32", "onnx", "bf16", "fp16", "compile", "compile-bf16"),
        help="forward path: auto (fastest within half a point of fp32 top-1, default), fp32 (exact)",
    )
    add_encoder_arguments(parser)


def build_parser() -> Parser:
    """The whole command line: every argument of every subcommand documented."""
    parser = Parser(
        prog="qsearch", description="Search JPEG quantization tables for machine vision."
    )
    parser.add_argument("--version", action="version", version=f"qsearch {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what qsearch does (INFO level)"
    )
    commands_ = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )

    evaluate = commands_.add_parser("evaluate", help="score one table on the images")
    add_data_arguments(evaluate)
    evaluate.add_argument("--quality", type=whole(1, 100), help="IJG quality 1..100")
    evaluate.add_argument("--qtable", type=Path, help="cjpeg -qtables text file or JSON table pair")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=commands.cmd_evaluate)

    baseline = commands_.add_parser(
        "baseline", help="quality sweeps of table families: a CSV each and one plot"
    )
    add_data_arguments(baseline)
    baseline.add_argument("--base", nargs="+", default=["ijg"], metavar="FAMILY", help=FAMILY_HELP)
    baseline.add_argument(
        "--qualities",
        type=whole(1, 100),
        nargs="+",
        default=DEFAULT_QUALITIES,
        metavar="Q",
        help="IJG qualities of the sweep (default 5 10 ... 95)",
    )
    baseline.add_argument(
        "--out",
        type=Path,
        default=Path("qsearch-baseline"),
        help="folder for FAMILY.csv and baseline.png (default qsearch-baseline)",
    )
    baseline.add_argument("--quiet", action="store_true", help="no progress bar")
    baseline.set_defaults(func=commands.cmd_baseline)

    run = commands_.add_parser("run", help="search tables; resumable; exports the Pareto front")
    run.add_argument(
        "--config", type=Path, help="TOML file of these options (command-line options win)"
    )
    add_data_arguments(run)
    search = run.add_argument_group("search")
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
        "--metric", help="accuracy metric of the front (default top1, or agreement without labels)"
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
        "IJG curve (see benchmarks/RESULTS.md for the forward passes it saves)",
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
    search.add_argument("--test-split", help="re-score the front on this split of --split-file")
    search.add_argument(
        "--out", type=Path, default=Path("runs/latest"), help="run folder (resumes if present)"
    )
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=commands.cmd_run)

    front = commands_.add_parser("front", help="re-export a run's front, tables, plot and summary")
    front.add_argument("run", type=Path, help="run folder written by qsearch run")
    front.add_argument(
        "--target",
        type=number(above=0),
        metavar="FRACTION",
        help="also name the table to use at this share of the uncompressed accuracy (e.g. 0.98) "
        "and the bits it saves against the IJG curve",
    )
    front.set_defaults(func=commands.cmd_front)

    listing = commands_.add_parser("list", help="list searchers, evaluators and search spaces")
    listing.set_defaults(func=commands.cmd_list)

    compress = commands_.add_parser("compress", help="write a folder of JPEGs with a table")
    compress.add_argument(
        "--qtable", type=Path, required=True, help="cjpeg -qtables text file or JSON table pair"
    )
    compress.add_argument("src", type=Path, help="an image or a folder of images (never modified)")
    compress.add_argument(
        "dst", type=Path, help="destination folder, outside SRC (FILE.jpg per source file)"
    )
    compress.add_argument(
        "--strict", action="store_true", help="an unreadable image is fatal instead of skipped"
    )
    compress.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files already in DST (without it, any existing target is refused first)",
    )
    compress.add_argument(
        "--strip",
        action="store_true",
        help="leave out EXIF and the ICC profile (kept by default, orientation tag included)",
    )
    add_encoder_arguments(compress)
    compress.set_defaults(func=commands.cmd_compress)

    export = commands_.add_parser(
        "export", help="write a table in the form an encoder takes it (cjpeg, Pillow, C, ...)"
    )
    export.add_argument("source", type=Path, help="a run folder (with --target) or a table file")
    export.add_argument(
        "--target",
        type=number(above=0),
        metavar="FRACTION",
        help="with a run: the table chosen for this share of the uncompressed accuracy (e.g. 0.98)",
    )
    export.add_argument("--metric", help="with a run: the accuracy the target is a share of")
    export.add_argument(
        "--confident",
        action="store_true",
        help="with a run: the table reaching the target with 95%% confidence on the searched images",
    )
    export.add_argument(
        "--format",
        required=True,
        choices=("cjpeg", "json", "pillow", "imagemagick", "c", "dqt", "numpy"),
        help="cjpeg -qtables text, JSON, a Pillow qtables= literal, ImageMagick's q-table XML, a "
        "C header (natural and zigzag), a minimal JPEG carrying the DQT (nvJPEG), a .npy pair",
    )
    export.add_argument("--out", type=Path, required=True, help="the file to write")
    export.set_defaults(func=commands.cmd_export)

    inspect = commands_.add_parser(
        "inspect",
        help="the tables of a JPEG file or of every JPEG in a folder, nearest IJG quality",
    )
    inspect.add_argument("path", type=Path, help="a JPEG file or a folder of them")
    inspect.set_defaults(func=commands.cmd_inspect)

    model = commands_.add_parser(
        "model", help="describe a model file's inputs in the sidecar qsearch reads (M.json)"
    )
    model.add_argument(
        "action", choices=("describe",), help="describe: write M.json beside the model file M"
    )
    model.add_argument(
        "file", type=Path, help="TorchScript (.pt), torch.export (.pt2) or ONNX (.onnx) file"
    )
    model.add_argument("--mean", type=triple, help="input normalisation mean R,G,B in 0..1")
    model.add_argument("--std", type=triple, help="input normalisation std R,G,B in 0..1")
    model.add_argument("--input-size", type=whole(8), help="network input side in pixels")
    model.add_argument("--resize", type=whole(8), help="short side before the centre crop")
    model.add_argument("--interpolation", choices=tuple(INTERPOLATIONS), help="resize filter")
    model.set_defaults(func=commands.cmd_model)

    cache = commands_.add_parser("cache", help="show or empty the prepared-image cache")
    cache.add_argument(
        "action", choices=("info", "clear"), help="info: what is cached; clear: remove it all"
    )
    cache.set_defaults(func=commands.cmd_cache)

    repair = commands_.add_parser(
        "repair", help="drop damaged lines of a run's journal, keeping every intact trial"
    )
    repair.add_argument("run", type=Path, help="run folder written by qsearch run")
    repair.set_defaults(func=commands.cmd_repair)
    return parser


def _log_internal_error(error: BaseException) -> Path:
    folder = Path(tempfile.gettempdir()) / "qsearch-logs"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"error-{stamp}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(error)))
    return path


FLAGS = {
    "floor": "--floor",
    "relative": "--absolute-floor",
    "weight": "--weight",
    "metric": "--metric",
    "z": "--rejection-z",
    "limit": "--limit",
    "compress_at": "--compress-at",
    "labels": "--labels",
    "split": "--split",
    "split_file": "--split-file",
    "combine": "--combine",
    "networks": "--networks",
    "class_map": "--class-map",
    "budget": "--budget",
    "mean": "--mean",
    "std": "--std",
    "device": "--device",
    "codec": "--codec",
    "optimize": "--optimize",
    "progressive": "--progressive",
    "smallest": "--smallest",
    "subsampling": "--subsampling",
}
"""Library parameter -> the flag that sets it: errors name what the user typed."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on a bad input, 1 on an internal error, 130 on Ctrl-C."""
    parser = build_parser()
    try:
        args = apply_config(parser, argv)
    except QSearchError as error:
        commands.print_error(str(error))
        return 2
    except SystemExit as leaving:  # --help, --version
        return int(leaving.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="qsearch: %(levelname)s: %(message)s",
        force=True,
    )
    try:
        return args.func(args)
    except QSearchError as error:
        commands.print_error(error.spoken(FLAGS))
        return 2
    except KeyboardInterrupt:
        print("qsearch: interrupted; the same command resumes", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        try:
            where = f"traceback in {_log_internal_error(error)}"
        except OSError:
            where = "no log file could be written"
        first = str(error).splitlines()[0] if str(error) else ""
        print(
            f"qsearch: internal error: {type(error).__name__}: {first} ({where})", file=sys.stderr
        )
        return 1
