"""``qsearch compress``: a folder of JPEGs carrying one table
(:func:`qsearch.codecs.compress.compress`), or each image at its own quality with
``--per-image`` (:func:`qsearch.rate.job.compress_per_image`)."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import number, quality_list, whole
from qsearch.cli.build import build_evaluator, encoder_settings, evaluator_pool, note, task_of
from qsearch.cli.options import add_data_arguments
from qsearch.errors import QSearchError
from qsearch.tables.qtable import QTable

NAME = "compress"
HELP = "write a folder of JPEGs with a table, or each image at its own quality (--per-image)"
PER_IMAGE = ("target", "calibrate", "rule", "margin", "qualities", "save_predictor", "predictor",
             "workers", "dask_scheduler")  # fmt: skip
NETWORK = (
    "labels", "class_map", "split_file", "split", "limit", "annotations", "task", "declare",
    "evaluator", "model", "weights", "adapter", "mean", "std", "input_size", "resize",
    "interpolation", "device", "batch_size", "forward",
)  # fmt: skip
"""What only a per-image job reads: the calibration images' labels and the network."""


def add_arguments(parser) -> None:
    """The arguments of ``qsearch compress``."""
    parser.add_argument(
        "--qtable",
        type=Path,
        help="cjpeg -qtables text file or JSON table pair: the table every file carries; with "
        "--per-image the base its qualities scale (IJG's when absent)",
    )
    parser.add_argument("src", type=Path, help="an image or a folder of images (never modified)")
    parser.add_argument(
        "dst", type=Path, help="destination folder, outside SRC (FILE.jpg per source file)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files already in DST (without it, any existing target is refused first)",
    )
    parser.add_argument(
        "--strip",
        action="store_true",
        help="leave out EXIF and the ICC profile (kept by default, orientation tag included)",
    )
    per_image = parser.add_argument_group(
        "per-image rate control (each image the smallest quality its network reads the same)"
    )
    per_image.add_argument(
        "--per-image",
        action="store_true",
        help="choose each image's quality with the network; writes DST/manifest.csv and the "
        "calibration in DST/per-image.json",
    )
    per_image.add_argument(
        "--target",
        type=number(above=0),
        metavar="SHARE",
        help="share of the uncompressed figure to keep on the calibration images (top-1 with "
        "labels, agreement with the uncompressed answer without), e.g. 0.98",
    )
    per_image.add_argument(
        "--calibrate",
        type=Path,
        metavar="CALIB",
        help="folder of calibration images (labels read as --data reads them); its images "
        "should look like SRC's and need not be SRC's",
    )
    per_image.add_argument(
        "--rule",
        choices=("threshold", "tradeoff"),
        default="threshold",
        help="threshold (default): the smallest quality whose per-image figure reaches a "
        "calibrated floor; tradeoff: per image the quality minimising bpp + weight x (1 - "
        "figure), the weight calibrated",
    )
    per_image.add_argument(
        "--margin",
        type=number(low=0),
        help="threshold rule: the least floor of the per-image figure (default 0.5), a margin "
        "for receivers that decode or resize another way",
    )
    per_image.add_argument(
        "--qualities",
        type=quality_list,
        metavar="Q,Q,...",
        help="the qualities to choose among (default 5,10,15,20,25,30,40,50,60,70,80,90,95,100)",
    )
    per_image.add_argument(
        "--save-predictor",
        type=Path,
        metavar="FILE",
        help="also write a predictor of each image's quality from cheap image features, learnt "
        "on the calibration images (a small JSON file), for senders without the network",
    )
    per_image.add_argument(
        "--predictor",
        type=Path,
        metavar="FILE",
        help="choose each image's quality with a predictor file instead of the network (no "
        "--calibrate, --target or network options)",
    )
    per_image.add_argument(
        "--workers",
        type=whole(1),
        default=1,
        help="judge and encode chunks of SRC in N worker processes, each loading the network "
        "once (the same N writes the same bytes)",
    )
    per_image.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="judge and encode chunks of SRC on the workers of this Dask scheduler",
    )
    add_data_arguments(parser)


NETWORK_SIZE = ("task", "declare", "model", "weights", "adapter", "resize", "input_size", "device")
"""What ``--size network`` reads to learn the network's size without --per-image."""


def unused(args) -> dict[str, str]:
    """Options that do nothing in the command as given, and why."""
    if not args.per_image:
        return _unused_with_one_table(args)
    if args.predictor is not None:
        why = "a predictor file carries its qualities and runs no network"
        return {name: why for name in (*PER_IMAGE, *NETWORK, "qtable") if name != "predictor"}
    found = {
        "data": "the images are SRC; the calibration images are --calibrate",
        "compress_at": "per image, the stored images are compressed and judged",
        "split_file": "the calibration images are the whole --calibrate folder",
        "split": "the calibration images are the whole --calibrate folder",
        "limit": "every image of --calibrate calibrates",
    }
    if args.rule == "tradeoff":
        found["margin"] = "the tradeoff rule has no floor"
    return found


def _unused_with_one_table(args) -> dict[str, str]:
    """Without --per-image: no calibration, and the network only to learn --size network."""
    found = {name: "it is read only with --per-image" for name in PER_IMAGE}
    for name in NETWORK:
        if args.size != "network" or name not in NETWORK_SIZE:
            found[name] = "it is read only with --per-image" + (
                " (or --size network)" if name in NETWORK_SIZE else ""
            )
    return found | {
        "data": "compress reads SRC (and CALIB with --per-image)",
        "compress_at": "compress writes the stored images",
    }


def run(args) -> int:
    """Write every image of SRC as a JPEG carrying the table (SRC is never touched)."""
    if args.per_image:
        return _per_image(args)
    from qsearch.codecs.compress import compress

    if args.qtable is None:
        raise QSearchError("give --qtable FILE (the table every file carries) or --per-image")
    settings = encoder_settings(args)
    if settings.size == "network":
        settings = settings.with_size(network_size(args))
        note(f"--size network: this network reads images at {settings.size}")
    done = compress(
        QTable.load(args.qtable),
        args.src,
        args.dst,
        settings=settings,
        strip=args.strip,
        strict=args.strict,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {len(done.written)} JPEG file(s) to {args.dst} ({len(done.skipped)} skipped), "
        f"folder layout kept, pixels "
        f"{'as stored' if settings.size == 'stored' else 'sent at ' + settings.size}; kept EXIF "
        f"on {done.kept_exif} and an ICC profile "
        f"on {done.kept_icc}" + (" (--strip)" if args.strip else "")
    )
    if settings.size != "stored":
        shrunk = sum(row["scale"] < 1 for row in done.scales)
        print(
            f"sent at {settings.size}: {shrunk} of {len(done.scales)} image(s) shrunk (none "
            f"enlarged); {args.dst}/sizes.csv gives each file's stored and sent size and scale"
        )
    if done.written_bytes > done.source_bytes:
        note(
            f"the files written are {100 * (done.written_bytes / done.source_bytes - 1):.0f}% "
            f"larger than their sources ({done.written_bytes / 1e6:.2f} MB against "
            f"{done.source_bytes / 1e6:.2f} MB): the table is finer than the sources' own"
        )
    return 0


def network_size(args) -> str:
    """The size the network of ``--task``/``--model`` reads, from its declaration (a task's
    model file) or its preprocessing (a classifier)."""
    if not task_of(args).declared:
        from qsearch.cli.build import network

        return network(args).preprocessing.sent_size()
    from qsearch.cli.build import declaration
    from qsearch.tasks.declaration import declared_steps

    if not args.model:
        raise QSearchError(f"--task {args.task} needs --model FILE (a declared model file)")
    spec, _ = declared_steps(args.model, args.task, declaration(args))
    return spec.sent_size()


def _per_image(args) -> int:
    """Calibrate on CALIB, then compress SRC image by image."""
    from qsearch.codecs.compress import compress_targets
    from qsearch.rate.job import MARGIN, compress_per_image
    from qsearch.rate.ladder import QUALITIES, Ladder
    from qsearch.tables.families import make_family

    if args.predictor is not None:
        return _predicted(args)
    missing = [f"--{k}" for k in ("target", "calibrate") if getattr(args, k) is None]
    if missing:
        raise QSearchError(f"--per-image needs {' and '.join(missing)}")
    if not args.calibrate.is_dir():
        raise QSearchError(f"--calibrate {args.calibrate}: not a folder")
    compress_targets(args.src, args.dst)  # the folders checked before the network loads
    family = make_family(str(args.qtable)) if args.qtable is not None else make_family("ijg")
    ladder = Ladder(family, args.qualities or QUALITIES)
    args.data, args.compress_at = args.calibrate, "source"
    evaluator = build_evaluator(args)
    pool = evaluator_pool(args)
    try:
        manifest = compress_per_image(
            evaluator, args.src, args.dst, target=args.target, rule=args.rule,
            margin=MARGIN if args.margin is None else args.margin, ladder=ladder,
            save_predictor=args.save_predictor, strip=args.strip, strict=args.strict,
            overwrite=args.overwrite, pool=pool,
        )  # fmt: skip
    finally:
        evaluator.close()
        if pool is not None:
            pool.shutdown()
    _say(args, manifest)
    return 0


def _predicted(args) -> int:
    """Compress SRC image by image with a predictor file: no network."""
    from qsearch.rate.job import compress_predicted

    manifest = compress_predicted(
        args.predictor, args.src, args.dst, settings=encoder_settings(args), strip=args.strip,
        strict=args.strict, overwrite=args.overwrite,
    )  # fmt: skip
    _say(args, manifest)
    return 0


def _say(args, manifest) -> None:
    """What was written and what it saves; the report beside the files."""
    _saving(args, manifest)
    if not manifest.empty:
        from qsearch.report.per_image import write_per_image_report

        print(f"wrote {write_per_image_report(args.dst)}: open it in a browser")


def _saving(args, manifest) -> None:
    from qsearch.rate.calibration import Calibration
    from qsearch.rate.folder import read_record

    record = read_record(args.dst) or {}
    if "calibration" in record:
        calibration = Calibration.from_dict(record["calibration"], str(args.dst))
        note(f"calibrated on {args.calibrate}: {calibration.describe()}")
    else:
        from qsearch.rate.predictor import Predictor

        predictor = Predictor.load(args.predictor)
        note(f"qualities predicted by {args.predictor} from image features (no network)" + (
            f": one quality for every image, q{predictor.qualities[int(predictor.weights[0])]}, "
            "since the features did not beat it on the calibration images"
            if predictor.one_quality else ""))  # fmt: skip
    if manifest.empty:
        print(f"wrote no file to {args.dst} (no readable image in {args.src})")
        return
    bpp = 8 * manifest["bytes"].sum() / manifest["pixels"].sum()
    print(
        f"wrote {len(manifest)} JPEG file(s) to {args.dst}, each at its own quality (median "
        f"{manifest['quality'].median():g}, {manifest['quality'].min()}..{manifest['quality'].max()}"
        f"), {bpp:.3f} bpp over the stored pixels; manifest.csv and per-image.json beside them"
    )
    if "calibration" in record and record["calibration"]["one_quality"] is not None:
        one = record["calibration"]["one_quality"]
        reference = 8 * manifest["one_quality_bytes"].sum() / manifest["pixels"].sum()
        floor = (
            record["calibration"]["value"] if record["calibration"]["rule"] == "threshold" else 0
        )
        kept = int((manifest["fidelity"] >= max(floor, 1e-9)).sum())
        print(
            f"the same images at q{one}, the one quality reaching the target on the calibration "
            f"images: {reference:.3f} bpp; per image {100 * (bpp / reference - 1):+.1f}% bits; "
            f"the network's per-image figure kept its floor on {kept} of {len(manifest)} images"
        )
