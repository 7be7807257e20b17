"""What the command line describes, built: encoder settings, the image set, the network and
the evaluator, table families, and where evaluations run."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from qsearch.codecs.codec import EncoderSettings
from qsearch.errors import QSearchError
from qsearch.jsonfile import read_json_object


def encoder_settings(args, codec: str | None = None) -> EncoderSettings:
    """The encoder and its lossless settings every table is compared under (``codec``: one of
    a baseline's list, default ``--codec``)."""
    codec = codec or args.codec
    if "," in codec:
        raise QSearchError(f"--codec {codec}: one codec here (a list is for qsearch baseline)")
    return EncoderSettings(
        args.subsampling, args.optimize, args.progressive, args.smallest, codec, one_size(args)
    )


def one_size(args) -> str:
    """The one ``--size`` of a command that sends images at one size."""
    if "," in args.size and args.command != "baseline":
        raise QSearchError(f"--size {args.size}: one size here (a list is for qsearch baseline)")
    return args.size.split(",")[0]


def codecs(args) -> list[str]:
    """The codecs a baseline sweeps, each checked (known, installed) before any work."""
    names = [name.strip() for name in args.codec.split(",") if name.strip()]
    for name in names:
        encoder_settings(args, name)
    return names


def read_folder_class_map(path: Path | None) -> dict[str, int] | None:
    """A JSON object mapping class-folder names to the classifier's output indices."""
    if path is None:
        return None
    mapping = read_json_object(
        path, "a JSON object of class folder -> output index", f"--class-map {path}"
    )
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in mapping.values()):
        raise QSearchError(
            f"--class-map {path}: must be a JSON object of class folder -> output index (>= 0)"
        )
    return mapping


def build_evaluator(args, split: str | None = None, codec: str | None = None):
    """The evaluator the arguments describe, on ``split`` (default ``args.split``), encoding
    with ``codec`` (default ``--codec``)."""
    from qsearch.images import InputGeometry
    from qsearch.search.evaluator import EVALUATORS

    check_images(args, split)
    settings = encoder_settings(args, codec)  # checked before the network loads
    if task_of(args).declared:
        return build_task_evaluator(args, split, settings)
    if getattr(args, "networks", None):
        return build_networks(args, split)
    if args.evaluator == "networks":
        raise QSearchError("--evaluator networks needs --networks A,B (the networks to judge with)")
    evaluator_class = EVALUATORS[args.evaluator]
    if evaluator_class.name != "classifier":
        return evaluator_class(load_split(args, InputGeometry.centre_crop(), split), settings)
    return classifier_evaluator(args, network(args), split, settings)


def network(args):
    """The classifier ``--model`` (``--weights``, declared inputs) names, with ``--adapter``
    applied where given."""
    from qsearch.models import load_classifier

    declared = declaration(args)
    if getattr(args, "adapter", None) is not None:
        from qsearch.models.adapter import load_adapted

        return load_adapted(args.adapter, args.model, args.weights, args.device, declared)
    return load_classifier(args.model, args.weights, args.device, declared=declared)


def classifier_evaluator(args, classifier, split: str | None, settings=None):
    """The classifier evaluator of one network on the images it prepares."""
    from qsearch.search.evaluator import EVALUATORS

    return EVALUATORS["classifier"](
        load_split(args, classifier.preprocessing, split),
        classifier,
        settings or encoder_settings(args),
        batch_size=args.batch_size,
        forward=args.forward,
    )


def build_networks(args, split: str | None):
    """Several networks judging every table together (``--networks A,B --combine worst``);
    each declares its own inputs (its defaults or the sidecar beside its model file)."""
    from qsearch.models import load_classifier
    from qsearch.search.evaluator import EVALUATORS

    given = [
        f"--{k.replace('_', '-')}"
        for k in ("model", "weights", "adapter")
        if getattr(args, k, None)
    ]
    given += [f"--{k.replace('_', '-')}" for k in SHORTHANDS if getattr(args, k, None)]
    given += ["--declare"] if getattr(args, "declare", None) else []
    if given or getattr(args, "early_rejection", False):
        option = given[0] if given else "--early-rejection"
        raise QSearchError(
            f"{option} does not go with --networks (each network declares its own inputs; "
            "several networks are never stopped early)"
        )
    members = {
        name: classifier_evaluator(args, load_classifier(name, None, args.device), split)
        for name in args.networks
    }
    return EVALUATORS["networks"](members, args.combine)


def build_task_evaluator(args, split: str | None, settings: EncoderSettings):
    """The evaluator of ``--task`` (:func:`qsearch.tasks.evaluation.task_evaluator`) of
    a declared model file on the stored images and the labels of ``--annotations``."""
    from qsearch.tasks.annotations import read_label_class_map
    from qsearch.tasks.declaration import declared_steps
    from qsearch.tasks.evaluation import task_evaluator

    if not args.model:
        raise QSearchError(f"--task {args.task} needs --model FILE (a declared model file)")
    refused = [f for f in ("networks", "weights", "early_rejection") if getattr(args, f, None)]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise QSearchError(f"{flag} does not go with --task {args.task}")
    declared = declaration(args)
    spec, _ = declared_steps(args.model, args.task, declared)  # before the images load
    evaluator = task_evaluator(
        args.task, args.model, load_split(args, spec, split), args.annotations,
        declared=declared, class_map=read_label_class_map(args.class_map), settings=settings,
        batch_size=min(args.batch_size, 16), adapter=getattr(args, "adapter", None),
    )  # fmt: skip
    if evaluator.annotations is not None:
        note(f"{args.task} labels: {evaluator.annotations.said()}")
    return evaluator


def task_of(args):
    """The task the arguments name (``classify`` where the command has no ``--task``)."""
    from qsearch.tasks.task import TASKS

    return TASKS[getattr(args, "task", "classify")]


def compress_at(args) -> str:
    """Where images are compressed: as asked, else the network-sized crop to classify and the
    stored image to detect or segment (said once, as it changes what bpp counts)."""
    if args.compress_at is not None:
        return args.compress_at
    task = task_of(args)
    if task.compress_at == "source":
        note(
            f"--task {task.name}: compressing each stored image at its own size "
            "(--compress-at source)"
        )
    return task.compress_at


def check_images(args, split: str | None) -> None:
    """Refuse a missing folder or split before the network loads (which takes seconds)."""
    from qsearch.images import read_split

    if args.data is None:
        return
    if not args.data.exists():
        raise QSearchError(f"{args.data}: not a folder (nothing is there)")
    if args.split_file is not None and (split or args.split) is not None:
        read_split(args.split_file, split or args.split)


def load_split(args, preprocessing, split: str | None):
    """The images the arguments name (the bundled photographs without ``--data``), prepared."""
    from qsearch.images import load_images

    if args.data is None:
        from qsearch.images.samples import sample_photos

        source, split_file, split = sample_photos(), None, None
    else:
        source, split_file, split = args.data, args.split_file, split or args.split
    images = load_images(
        source,
        split_file=split_file,
        split=split,
        compress_at=compress_at(args),
        preprocessing=preprocessing,
        limit=args.limit,
        strict=args.strict,
        labels=args.labels if task_of(args).labels_from_names else "none",
        class_map=read_folder_class_map(args.class_map)
        if task_of(args).labels_from_names
        else None,
    )
    labels = images.label_rule if images.labels is not None else "none"
    note(
        f"{len(images)} images" + (f", labels: {labels}" if task_of(args).labels_from_names else "")
    )
    return images


def note(text: str) -> None:
    """One informational line on stderr (stdout is for results)."""
    print(f"qsearch: note: {text}", file=sys.stderr)


SHORTHANDS = ("mean", "std", "input_size", "resize", "interpolation")
"""Options that stand for a declaration's key of the same name, for every task."""


def declaration(args) -> dict:
    """The network's declaration given on the command line, for every task (it overrides
    ``M.json``): ``--declare``'s pairs, with ``--mean``, ``--std``, ``--input-size``,
    ``--resize`` and ``--interpolation`` as shorthands of their keys (a key given both ways is
    refused)."""
    from qsearch.tasks.declaration import parse_declarations

    declared = parse_declarations(getattr(args, "declare", None))
    for name in SHORTHANDS:
        value = getattr(args, name, None)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if name in declared:
            raise QSearchError(f"{flag} and --declare {name}=...: give the {name} once")
        declared[name] = list(value) if isinstance(value, tuple) else value
    return declared


def check_family(spec: str) -> None:
    """Refuse an unknown ``--base`` before any work (``deepn`` is fitted later, to the images)."""
    from qsearch.tables.families import make_family

    if spec != "deepn":
        make_family(spec)


def evaluator_pool(args):
    """Where a run's evaluations go besides this process: a Dask cluster or local processes,
    each building its evaluator with :func:`evaluator_factory`."""
    from qsearch.search import workers

    factory = evaluator_factory(args)
    if args.dask_scheduler:
        return workers.dask_pool(args.dask_scheduler, factory)
    return workers.process_pool(factory, args.workers) if args.workers > 1 else None


def evaluator_factory(args):
    """A picklable ``() -> evaluator`` for workers: the spec of ``args`` (plain data, read
    back through the same parser as the command line) with this machine's device and batch
    size."""
    from qsearch.cli.spec import evaluator_parser, spec_record

    machine = {"device": args.device, "batch_size": args.batch_size, "command": args.command}
    return partial(evaluator_from_spec, spec_record(args, evaluator_parser()), machine)


def evaluator_from_spec(spec: dict, machine: dict):
    """The evaluator ``spec`` describes, built where it runs (a worker)."""
    from qsearch.cli.spec import evaluator_parser, spec_namespace

    args = spec_namespace(spec, evaluator_parser())
    vars(args).update(machine)
    return build_evaluator(args)
