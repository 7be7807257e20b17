"""``qsearch adapt``: fine-tune a copy of the network to compressed images, without labels by
default (:func:`qsearch.models.adapt.adapt`), and write it as a model file every command takes."""

from __future__ import annotations

from pathlib import Path

from qsearch.cli.arguments import number, whole, writable_folder
from qsearch.cli.build import declared_preprocessing, encoder_settings, load_split
from qsearch.cli.options import add_data_arguments
from qsearch.errors import QSearchError

NAME = "adapt"
HELP = "fine-tune a copy of the network to compressed images; resumable; writes a model file"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch adapt``."""
    add_data_arguments(parser)
    group = parser.add_argument_group("adaptation")
    group.add_argument(
        "--learn",
        choices=("batchnorm", "head", "all"),
        default="batchnorm",
        help="which weights learn: BatchNorm scales and shifts (default), the head, or all",
    )
    group.add_argument("--epochs", type=whole(1), default=3, help="epochs (default 3)")
    group.add_argument(
        "--learning-rate", type=number(above=0), default=1e-3, help="AdamW's (default 1e-3)"
    )
    group.add_argument("--batch", type=whole(1), default=16, help="images per step (default 16)")
    group.add_argument("--seed", type=whole(0), default=0, help="random seed (default 0)")
    group.add_argument(
        "--qualities",
        type=whole(1, 100),
        nargs=2,
        default=[10, 90],
        metavar=("LOW", "HIGH"),
        help="each image compressed at an IJG quality drawn from LOW..HIGH (default 10 90)",
    )
    group.add_argument(
        "--qtable",
        type=Path,
        action="append",
        help="adapt to this table instead (repeatable; a table file or a JPEG's tables)",
    )
    group.add_argument("--run", type=Path, help="adapt to the tables of this run's front instead")
    group.add_argument(
        "--label-weight",
        type=number(low=0),
        default=0.0,
        help="add cross-entropy against the labels, with this weight (default 0: label-free)",
    )
    group.add_argument(
        "--validation-split",
        help="images of --split-file that choose the epoch kept and check uncompressed outputs",
    )
    group.add_argument("--onnx", action="store_true", help="also write adapted.onnx")
    group.add_argument("--out", type=Path, required=True, help="folder (resumes if present)")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Adapt, then say where the model file is and what it does on the validation images."""
    from qsearch.models import load_classifier
    from qsearch.models.adapt import Adaptation, adapt

    if args.validation_split and not args.split_file:
        raise QSearchError("--validation-split needs --split-file")
    if args.task != "classify":
        raise QSearchError(f"--task {args.task}: qsearch adapt adapts classifiers only")
    adaptation = Adaptation(
        learn=args.learn,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch,
        seed=args.seed,
        qualities=tuple(args.qualities),
        tables=_tables(args),
        settings=encoder_settings(args),
        label_weight=args.label_weight,
    )
    writable_folder(args.out)
    classifier = load_classifier(
        args.model, args.weights, args.device, declared=declared_preprocessing(args)
    )
    images = load_split(args, classifier.preprocessing, None)
    validation = (
        load_split(args, classifier.preprocessing, args.validation_split)
        if args.validation_split
        else None
    )
    adapted = adapt(classifier, images, args.out, adaptation, validation, progress=not args.quiet)
    for epoch, figures in enumerate(adapted.history):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in figures.items())
        print(f"epoch {epoch}{' (frozen)' if epoch == 0 else ''}: {shown}")
    print(f"wrote {adapted.path} with {adapted.path.name}.json and {adapted.path.name}.record.json")
    if args.onnx:
        from qsearch.models.adapt import write_onnx

        print(f"wrote {write_onnx(adapted)} and its sidecar")
    return 0


def _tables(args) -> tuple:
    """The tables adapted to: ``--qtable`` files, or a run's front."""
    from qsearch.tables.qtable import QTable

    if args.qtable and args.run:
        raise QSearchError("give --qtable or --run, not both")
    if args.run:
        from qsearch.report.runs import Run

        finished = Run(args.run)
        return tuple(QTable.load(finished.directory / name) for name in finished.front["table"])
    return tuple(QTable.load(path) for path in args.qtable or ())
