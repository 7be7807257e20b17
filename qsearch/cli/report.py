"""``qsearch report``: write a run's ``report.html`` (:meth:`qsearch.report.runs.Run.report`)."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.build import note
from qsearch.cli.options import add_data_arguments, add_held_out_arguments
from qsearch.cli.run import held_out_evaluator
from qsearch.cli.spec import apply_spec, evaluator_parser
from qsearch.errors import QSearchError
from qsearch.folders import SPEC

NAME = "report"
HELP = "write RUN/report.html: the front, operating points, identity and image crops"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch report``."""
    parser.add_argument(
        "run",
        type=Path,
        help="run folder written by qsearch run (its images and network from its spec.json; "
        "options given here win), or a folder written by compress --per-image",
    )
    parser.add_argument(
        "--no-crops",
        action="store_true",
        help="leave the images out (no network is loaded; the image and model options are unused)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="with --no-crops: replace a report that has image crops",
    )
    add_data_arguments(parser)
    add_held_out_arguments(parser.add_argument_group("held-out images"))


def run(args) -> int:
    """The report, with crops from the images and network the run's spec records (options
    given here win), checked to be the run's own by the identity it recorded."""
    from qsearch.report.runs import Run

    if (args.run / "per-image.json").exists():
        from qsearch.report.per_image import write_per_image_report

        print(f"wrote {write_per_image_report(args.run)}")
        return 0
    finished = Run(args.run)
    if args.no_crops and not args.overwrite:
        _keep_crops(finished.directory / "report.html")
    if not args.no_crops and (taken := apply_spec(args, finished.directory, evaluator_parser())):
        note(f"from {finished.directory / SPEC}: " + ", ".join(taken))
    evaluator = None if args.no_crops else judged_evaluator(args, finished.held_out)
    try:
        path = finished.report(evaluator)
    finally:
        if evaluator is not None:
            evaluator.close()
    print(f"wrote {path}")
    return 0


def unused(args) -> dict[str, str]:
    """With --no-crops no image or network is read; --overwrite matters only with it."""
    if not args.no_crops:
        return {"overwrite": "it only lets --no-crops replace a report that has crops"}
    from qsearch.cli.compress import NETWORK

    why = "--no-crops reads no image and loads no network"
    return {k: why for k in (*NETWORK, "data", "test_split", "test_data", "test_annotations",
                             "compress_at")}  # fmt: skip


def _keep_crops(report: Path) -> None:
    """A report with crops is not replaced by one without them unless asked."""
    if report.exists() and 'class="image"' in report.read_text(errors="replace"):
        raise QSearchError(
            f"{report}: has image crops, which --no-crops would drop; give --overwrite to "
            "replace it, or leave out --no-crops"
        )


def judged_evaluator(args, held_out: bool):
    """The evaluator of the images the run's tables are judged on: the held-out ones where the
    run has them."""
    from qsearch.cli.build import build_evaluator

    if not held_out:
        return build_evaluator(args)
    if not (args.test_split or args.test_data):
        raise QSearchError(
            f"{args.run}: its tables are judged on held-out images and it records no spec: give "
            "--test-split or --test-data as the run was given (or --no-crops)"
        )
    return held_out_evaluator(args)
