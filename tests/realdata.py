"""Where the real test data lies.

The shared ImageNet sample (800 labelled images and their splits) lies beside the project in
CI and on the developers' machines, not in a user's clone: ``QSEARCH_TEST_DATA`` points at it
(default ``../shared/data/imagenet-sample``). Tests that need it carry the ``imagenet`` mark
and are skipped, saying why, where it is absent, unless ``QSEARCH_REQUIRE_TEST_DATA=1`` (CI),
which makes its absence a failure. Tests that only need some real photographs use the ones
scikit-image ships (:func:`photos`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-sample"
IMAGENET_SAMPLE = Path(os.environ.get("QSEARCH_TEST_DATA") or DEFAULT_SAMPLE)
SPLITS = IMAGENET_SAMPLE / "splits.json"
SHARED_DATA = IMAGENET_SAMPLE.parent
MISSING = f"ImageNet sample not found at {IMAGENET_SAMPLE}; set QSEARCH_TEST_DATA"


COCO128 = SHARED_DATA / "coco128"
SHARED_MODELS = SHARED_DATA.parent / "models"
COCO_MISSING = (
    f"COCO128 and the shared detector/segmenter not found at {COCO128} and {SHARED_MODELS}"
)
DECLARATIONS = Path(__file__).resolve().parent / "data" / "declarations"
YOLOX = json.loads((DECLARATIONS / "yolox_nano.json").read_text())
"""The declaration of the shared YOLOX-Nano, as its README states it."""
SELFIE = json.loads((DECLARATIONS / "selfie_segmentation.json").read_text())
"""The declaration of the MediaPipe selfie segmenter (its one channel: COCO panoptic person)."""


def have_coco() -> bool:
    """Whether COCO128 and the shared detector and segmenter are there."""
    return (COCO128 / "images" / "val2017").is_dir() and (
        SHARED_MODELS / "yolox_nano.onnx"
    ).is_file()


def declare(declaration: dict) -> list[str]:
    """``--declare key=value`` arguments of a declaration."""
    import json

    return [part for k, v in declaration.items() for part in ("--declare", f"{k}={json.dumps(v)}")]


def have_sample() -> bool:
    """Whether the ImageNet sample and its splits are there."""
    return SPLITS.is_file()


def split_names(split: str, count: int) -> list[str]:
    """The first ``count`` file names of a split of the ImageNet sample."""
    return json.loads(SPLITS.read_text())[split][:count]


def photos(count: int | None = None) -> list[Path]:
    """Real photographs shipped by scikit-image (a dependency): present in every clone."""
    from qsearch.images.samples import sample_photos

    return sample_photos()[:count]


PSNR_RUN = [
    "run",
    "--evaluator",
    "fidelity",
    "--metric",
    "psnr",
    "--absolute-floor",
    "--floor",
    "30",
]
"""A search with the real fidelity evaluator (no network), minimising bpp above 30 dB PSNR."""


def sample_args(split: str, limit: int) -> list[str]:
    """Command-line arguments for the first ``limit`` images of a split of the ImageNet sample."""
    return [
        "--data",
        str(IMAGENET_SAMPLE),
        "--split-file",
        str(SPLITS),
        "--split",
        split,
        "--limit",
        str(limit),
    ]


BUILT_IN_SEARCHERS = (
    "random",
    "sorted",
    "quality",
    "mcmc",
    "ga",
    "de",
    "bayes",
    "nsga2",
    "slopes",
    "targets",
    "gradient",
    "sensitivity",
)
"""Every searcher qsearch ships (each must be registered and listed)."""


def assert_drawn_plot(path, labels: tuple[str, ...] = ()) -> None:
    """A saved two-panel plot: ink in each panel, curves in several colours; and, for a run's
    plot, each of ``labels`` in the legend of both panels (through the figure it was drawn from)."""
    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    height, width, _ = image.shape
    assert width > 600 and height > 300, image.shape
    for panel in (image[:, : width // 2], image[:, width // 2 :]):
        assert (panel.min(axis=2) < 128).mean() > 0.005  # axes, ticks, curves drawn in it
    coloured = image[(image.max(axis=2) - image.min(axis=2)) > 60]  # neither white, grey nor black
    assert len({tuple(c // 32) for c in coloured}) >= 2  # at least two curves' colours
