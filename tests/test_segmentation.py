"""Segmentation with a real person segmenter: MediaPipe's selfie segmenter, from the shared
models (CI) and from the ``mediapipe==0.10.21`` wheel a user can install (``make test`` does,
without its dependencies: only the model file inside is read)."""

from __future__ import annotations

import shutil
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qsearch.errors import QSearchError
from qsearch.images import load_images
from qsearch.tables.qtable import QTable
from qsearch.tasks.annotations import read_masks
from qsearch.tasks.declaration import load_task_model
from realdata import COCO128, SELFIE, SHARED_MODELS, photos

VAL_IMAGES = COCO128 / "images" / "val2017"
VAL_MASKS = COCO128 / "segmentation" / "masks" / "val2017"


def wheel_segmenter() -> Path | None:
    """The selfie segmenter inside the installed mediapipe wheel, or None."""
    try:
        found = [f for f in files("mediapipe") or () if f.name == "selfie_segmentation.tflite"]
    except PackageNotFoundError:
        return None
    return Path(str(found[0].locate())) if found else None


def _evaluator(images, model_file: Path, masks=None):
    from qsearch.evaluators.segmenter import SegmenterEvaluator

    return SegmenterEvaluator(images, load_task_model(model_file, "segment", SELFIE), masks)


@pytest.mark.skipif(
    wheel_segmenter() is None,
    reason="mediapipe==0.10.21 is not installed (make test installs it for its model file)",
)
def test_label_free_iou_falls_with_the_bits_on_real_photographs():
    images = load_images([str(p) for p in photos()], compress_at="source", labels="none")
    evaluator = _evaluator(images, wheel_segmenter())
    try:
        assert evaluator.reference["miou_ref"] == pytest.approx(1.0)
        low, high = (evaluator.evaluate(QTable.from_quality(q)) for q in (3, 90))
        assert low["bpp"] < high["bpp"]
        assert low["miou_ref"] < high["miou_ref"] < 1.0
    finally:
        evaluator.close()


@pytest.mark.coco
def test_person_iou_on_val2017_matches_the_segmenters_stated_figure():
    """The README's 0.615: mean person IoU image by image over the val2017 images whose mask
    has at least 5% person pixels, uncompressed; qsearch's pooled miou is over every mask."""
    images = load_images(VAL_IMAGES, compress_at="source", labels="none")
    sizes = [image.shape[:2] for image in images.images]
    masks = read_masks(VAL_MASKS, images.names, sizes)
    evaluator = _evaluator(images, SHARED_MODELS / "selfie_segmentation.tflite", masks)
    try:
        records = evaluator.reference_per_image["miou"]
        people = [
            r["i"][0] / r["u"][0]
            for r, mask in zip(records, masks.items)
            if mask is not None and (mask == 1).mean() >= 0.05
        ]
        assert len(people) == 39
        assert np.mean(people) == pytest.approx(0.615, abs=0.01)
        pooled = sum(r["i"][0] for r in records) / sum(r["u"][0] for r in records)
        assert evaluator.reference["miou"] == pytest.approx(pooled)
        low = evaluator.evaluate(QTable.from_quality(5))
        assert low["miou"] < evaluator.reference["miou"] and low["miou_ref"] < 1.0
    finally:
        evaluator.close()


@pytest.mark.coco
def test_a_mask_whose_size_differs_from_its_image_is_one_line(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    mask = sorted(VAL_MASKS.glob("*.png"))[0]
    shutil.copy(VAL_IMAGES / f"{mask.stem}.jpg", images)
    Image.open(mask).resize((32, 24)).save(masks / mask.name)
    found = load_images(images, compress_at="source", labels="none")
    with pytest.raises(QSearchError, match=rf"{mask.name}: mask 32x24 differs from its image"):
        read_masks(masks, found.names, [i.shape[:2] for i in found.images])


@pytest.mark.coco
def test_a_segmenter_is_judged_on_stored_images_only(tmp_path):
    images = load_images(sorted(VAL_IMAGES.glob("*.jpg"))[:2], labels="none")
    with pytest.raises(QSearchError, match="--compress-at input: a segment network .* source"):
        _evaluator(images, SHARED_MODELS / "selfie_segmentation.tflite")
