"""What the command line describes, built: encoder settings, the image set, the network and
the evaluator, table families, and where evaluations run."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from qsearch.codec import EncoderSettings
from qsearch.errors import QSearchError


def encoder_settings(args) -> EncoderSettings:
    """The lossless encoder settings every table is compared under."""
    return EncoderSettings(args.subsampling, args.optimize, args.progressive, args.smallest)


def read_class_map(path: Path | None) -> dict[str, int] | None:
    """A JSON object mapping class-folder names to the network's output indices."""
    if path is None:
        return None
    try:
        mapping = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"--class-map {path}: not a readable JSON file ({error})") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in mapping.values()
    ):
        raise QSearchError(
            f"--class-map {path}: must be a JSON object of class folder -> output index (>= 0)"
        )
    return mapping


def build_evaluator(args, split: str | None = None):
    """The evaluator the arguments describe, on ``split`` (default ``args.split``)."""
    from qsearch.evaluator import EVALUATORS
    from qsearch.images import Preprocessing, load_images

    evaluator_class = EVALUATORS[args.evaluator]
    classifier = None
    preprocessing = Preprocessing()
    if evaluator_class.name == "classifier":
        from qsearch.models import load_classifier

        classifier = load_classifier(
            args.model, args.weights, args.device, declared=declared_preprocessing(args)
        )
        preprocessing = classifier.preprocessing
    if args.data is None:
        from qsearch.samples import sample_photos

        source, split_file, split = sample_photos(), None, None
    else:
        source, split_file, split = args.data, args.split_file, split or args.split
    images = load_images(
        source,
        split_file=split_file,
        split=split,
        compress_at=args.compress_at,
        preprocessing=preprocessing,
        limit=args.limit,
        strict=args.strict,
        labels=args.labels,
        class_map=read_class_map(args.class_map),
    )
    note(
        f"{len(images)} images, labels: {images.label_rule if images.labels is not None else 'none'}"
    )
    if classifier is not None:
        return evaluator_class(
            images,
            classifier,
            encoder_settings(args),
            batch_size=args.batch_size,
            forward=args.forward,
        )
    return evaluator_class(images, encoder_settings(args))


def note(text: str) -> None:
    """One informational line on stderr (stdout is for results)."""
    print(f"qsearch: note: {text}", file=sys.stderr)


def declared_preprocessing(args) -> dict:
    """The network's input declaration given on the command line (it overrides a sidecar's)."""
    names = ("mean", "std", "input_size", "resize", "interpolation")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def check_family(spec: str) -> None:
    """Refuse an unknown ``--base`` before any work (``deepn`` is fitted later, to the images)."""
    from qsearch.families import make_family

    if spec != "deepn":
        make_family(spec)


def base_family(spec: str, evaluator):
    """The table family ``--base`` names; ``deepn`` is fitted to the evaluator's (search) images."""
    from qsearch.families import make_family

    return make_family(spec, evaluator.images.images if spec == "deepn" else None)


def evaluator_pool(args):
    """Where a run's evaluations go besides this process: a Dask cluster or local processes."""
    from qsearch import workers

    factory = partial(build_evaluator, args)
    if args.dask_scheduler:
        return workers.dask_pool(args.dask_scheduler, factory)
    return workers.process_pool(factory, args.workers) if args.workers > 1 else None
