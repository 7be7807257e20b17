"""``qsearch adapt``: fine-tune a copy of the network to compressed images, without labels by
default (:func:`qsearch.models.adapt.adapt`), and write what it learned as an adapter every
command takes (``--adapter``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from qsearch.cli.arguments import number, whole, writable_folder
from qsearch.cli.build import (
    declaration,
    encoder_settings,
    load_split,
    network,
    read_folder_class_map,
    task_of,
)
from qsearch.cli.options import add_data_arguments
from qsearch.errors import QSearchError

NAME = "adapt"
HELP = "fine-tune a copy of the network (classifier, detector, segmenter) to compressed images"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch adapt``."""
    add_data_arguments(parser, several_folders=True)
    group = parser.add_argument_group("adaptation")
    group.add_argument(
        "--learn",
        choices=("batchnorm", "head", "biases", "all"),
        help="which weights learn: BatchNorm scales and shifts (a classifier's default), the "
        "head (a classifier's last layer; a detector's module named head), every bias (a "
        "detector's or segmenter's default: an ONNX export folds BatchNorm into its "
        "convolutions), or all",
    )
    group.add_argument("--epochs", type=whole(1), default=6, help="epochs (default 6)")
    group.add_argument(
        "--learning-rate", type=number(above=0), default=3e-4, help="AdamW's (default 3e-4)"
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
        help="add cross-entropy against the labels where images have them, with this weight "
        "(default 0: label-free)",
    )
    group.add_argument(
        "--drift",
        type=number(low=0),
        default=0.02,
        help="the most an epoch's outputs on uncompressed validation images may diverge from "
        "the frozen network's (mean KL, nats) for it to be kept (default 0.02)",
    )
    group.add_argument(
        "--max-changed",
        type=number(low=0),
        default=0.05,
        metavar="SHARE",
        help="the largest share of uncompressed validation images whose answer an epoch may "
        "change for it to be kept (default 0.05)",
    )
    group.add_argument(
        "--validation-split",
        help="images of --split-file that choose the epoch kept and check uncompressed outputs",
    )
    group.add_argument(
        "--judged-split",
        help="a split of --split-file the adapted network will be judged on: refused if any of "
        "its images (by content) is among those adapted on",
    )
    group.add_argument("--out", type=Path, required=True, help="folder (resumes if present)")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def unused(args) -> dict[str, str]:
    """Options that do nothing in ``adapt``, and why."""
    found = {
        "networks": "adapt trains one network; run it once a network (--model)",
        "combine": "adapt trains one network",
        "evaluator": "adapt trains the network itself; no evaluator judges tables here",
        "forward": "training runs the network in fp32",
        "batch_size": "adapt's batch is --batch",
        "size": "adaptation compresses images at the size the network is trained on them",
    }
    if task_of(args).declared:
        found["weights"] = f"--task {args.task} runs a model file (--model), weights and all"
    return found


def run(args) -> int:
    """Adapt, then say where the adapter is and what it does on the validation images."""
    from qsearch.atomic import check_output_folder
    from qsearch.models.adapt import RECORD, Adaptation, adapt

    _check(args)
    adaptation = Adaptation(
        learn=args.learn or task_of(args).default_learn,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch,
        seed=args.seed,
        qualities=tuple(args.qualities),
        tables=_tables(args),
        settings=encoder_settings(args),
        label_weight=args.label_weight,
        drift=args.drift,
        changed=args.max_changed,
    )
    writable_folder(args.out)
    check_output_folder(args.out, "identity.json", "qsearch adapt")
    learner, preprocessing = _learner(args)
    images = _adaptation_images(args, preprocessing)
    validation = (
        load_split(_one_folder(args), preprocessing, args.validation_split)
        if args.validation_split
        else None
    )
    _refuse_judged(args, images, validation)
    adapted = adapt(learner, images, args.out, adaptation, validation, progress=not args.quiet)
    for epoch, figures in enumerate(adapted.history):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in figures.items())
        kept = " (kept)" if epoch == adapted.best_epoch else ""
        print(f"epoch {epoch}{' (frozen)' if epoch == 0 else ''}{kept}: {shown}")
    print(f"wrote {adapted.path} with {adapted.path.name}.json and {RECORD}")
    return 0


def _learner(args):
    """The network that adapts, and how images are prepared for it."""
    from qsearch.models.learner import ClassifierLearner

    if not task_of(args).declared:
        classifier = network(args)
        return ClassifierLearner(classifier), classifier.preprocessing
    from qsearch.tasks.adapt import TaskLearner

    if not args.model:
        raise QSearchError(f"--task {args.task} needs --model FILE (a declared model file)")
    learner = TaskLearner(args.model, args.task, declaration(args))
    return learner, learner.model.spec


def _check(args) -> None:
    """Refusals that need no image: splits without a split file, several folders with one."""
    for option in ("validation_split", "judged_split"):
        if getattr(args, option) and not args.split_file:
            raise QSearchError(f"--{option.replace('_', '-')} needs --split-file")
    if args.split_file and args.data and len(args.data) > 1:
        raise QSearchError("--split-file picks images of one --data folder; give one folder")


def _with_data(args, folder) -> argparse.Namespace:
    """The arguments with ``--data`` as one folder (or none), as the image loader reads them."""
    return argparse.Namespace(**{**vars(args), "data": folder})


def _one_folder(args) -> argparse.Namespace:
    return _with_data(args, args.data[0] if args.data else None)


def _adaptation_images(args, preprocessing):
    """Every folder of ``--data`` (the split of ``--split-file`` in one), prepared alike."""
    from qsearch.images import ImageSet

    folders = args.data or [None]
    sets = [load_split(_with_data(args, folder), preprocessing, None) for folder in folders]
    return ImageSet.joined(sets)


def _refuse_judged(args, images, validation) -> None:
    """A split that will judge the adapted network shares no image with those adapted on, nor
    with the validation images (which choose the epoch)."""
    if not args.judged_split:
        return
    from qsearch.images import split_files
    from qsearch.images.files import content_digest
    from qsearch.images.splits import check_held_out

    judged = split_files(
        args.data[0], args.split_file, args.judged_split, labels=args.labels,
        class_map=read_folder_class_map(args.class_map),
    )  # fmt: skip
    adapted_on = list(images.digests) + (list(validation.digests) if validation else [])
    check_held_out(
        adapted_on, [content_digest(p) for p in judged], [p.name for p in judged],
        f"--judged-split {args.judged_split!r}", "the images adapted on",
    )  # fmt: skip


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
