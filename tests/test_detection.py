"""Detection on the real YOLOX-Nano and the real COCO128 labels: the mAP qsearch prints equals
pycocotools on an independent decoding, pooled resamples equal pycocotools on the resampled
images, every declared layout reads the same boxes, and bad labels or declarations are one line
naming the file or value. (No COCO detector installable from PyPI ships its weights, so these
need ../shared; CI runs them.)"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from independent import coco_eval
from PIL import Image

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.images import load_images
from qsearch.tables.qtable import QTable
from qsearch.tasks.annotations import read_boxes
from qsearch.tasks.boxes import BOX_LAYOUTS, DetectorHead
from qsearch.tasks.coco import PooledAP
from qsearch.tasks.declaration import load_task_model
from realdata import COCO128, SHARED_MODELS, YOLOX, declare

pytestmark = pytest.mark.coco
VAL_IMAGES = COCO128 / "images" / "val2017"
VAL_LABELS = COCO128 / "detection" / "labels" / "val2017"
DETECTOR = SHARED_MODELS / "yolox_nano.onnx"


@pytest.fixture(scope="module")
def val_images():
    return load_images(VAL_IMAGES, compress_at="source", labels="none")


@pytest.fixture(scope="module")
def detector_evaluator(val_images):
    from qsearch.evaluators.detector import DetectorEvaluator

    model = load_task_model(DETECTOR, "detect", YOLOX)
    sizes = [image.shape[:2] for image in val_images.images]
    boxes = read_boxes(VAL_LABELS, val_images.names, sizes, 80)
    evaluator = DetectorEvaluator(val_images, model, boxes)
    yield evaluator
    evaluator.close()


def _independent_reference() -> tuple[float, float]:
    """YOLOX-Nano on the stored val2017 images, judged by :mod:`independent`."""
    from independent import Sent, yolox_map

    sent = []
    for path in sorted(VAL_IMAGES.glob("*.jpg")):
        with Image.open(path) as image:
            sent.append(Sent(path, VAL_LABELS / f"{path.stem}.txt", (image.height, image.width)))
    return yolox_map(DETECTOR, sent)


@pytest.mark.slow
def test_evaluate_uncompressed_map_equals_an_independent_pycocotools_reference(capsys):
    reference_map, reference_ap50 = _independent_reference()
    assert abs(reference_map - 0.338) < 0.005  # the figure the detector's README states
    argv = ["evaluate", "--task", "detect", "--model", str(DETECTOR), *declare(YOLOX),
            "--data", str(VAL_IMAGES), "--annotations", str(VAL_LABELS), "--uncompressed", "--json"]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert abs(printed["map"] - reference_map) < 0.005
    assert abs(printed["ap50"] - reference_ap50) < 0.005
    assert printed["map_ref"] == pytest.approx(1.0)


def _as_pycocotools(evaluator, chosen: np.ndarray) -> tuple[list, list, list]:
    """The evaluator's uncompressed boxes and the labels of the ``chosen`` images (repeats
    allowed, each a new image) in pycocotools' form."""
    from qsearch.tasks.coco import coco_dicts

    found = [evaluator._uncompressed[k] for k in chosen]
    return coco_dicts(found, [evaluator._truth[k] for k in chosen])


def test_pooled_map_of_a_weighted_resample_equals_pycocotools_on_the_resampled_images(
    detector_evaluator,
):
    records = detector_evaluator.reference_per_image["map"]
    pooled = PooledAP(records)
    every = np.arange(len(records))
    assert pooled() == pytest.approx(
        coco_eval(*_as_pycocotools(detector_evaluator, every)), abs=1e-4
    )
    chosen = np.random.default_rng(3).integers(0, len(records), len(records))
    weights = np.bincount(chosen, minlength=len(records))
    resampled = coco_eval(*_as_pycocotools(detector_evaluator, chosen))
    assert pooled(weights) == pytest.approx(resampled, abs=1e-4)
    assert abs(pooled(weights)[0] - pooled()[0]) > 1e-3  # the resample does move the figure


def test_compression_costs_map_and_agreement_with_the_uncompressed_boxes(detector_evaluator):
    low = detector_evaluator.evaluate(QTable.from_quality(10))
    high = detector_evaluator.evaluate(QTable.from_quality(90))
    assert low["bpp"] < high["bpp"]
    assert low["map"] < high["map"] <= detector_evaluator.reference["map"] + 0.01
    assert low["map_ref"] < high["map_ref"] < 1.0


def test_every_layout_reads_the_same_boxes_from_the_same_network_output(
    detector_evaluator, val_images
):
    """The YOLOX output re-expressed in the YOLOv5, YOLOv8 and decoded-rows layouts gives the
    same detections: the layouts differ in shape only, never silently in meaning."""
    model = detector_evaluator.model
    spec, place = model.spec, detector_evaluator._places[0]
    raw = model.runtime(spec.tensor(spec.canvas(val_images.images[0])[None]))[0]
    head = model.head
    wanted = head.detections(raw, spec, place)
    boxes, scores, classes = BOX_LAYOUTS["yolox"](raw, head, spec)
    centre = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)
    as_v5 = np.concatenate([centre, raw[:, 4:]], 1)
    as_v8 = np.concatenate([centre, raw[:, 4:5] * raw[:, 5:]], 1).T
    as_rows = np.concatenate([boxes, scores[:, None], classes[:, None]], 1)
    for layout, output in (("yolov5", as_v5), ("yolov8", as_v8), ("boxes", as_rows)):
        found = DetectorHead(layout, 80, head.score_threshold, head.nms_iou).detections(
            output, spec, place
        )
        assert np.allclose(found.boxes, wanted.boxes, atol=1e-3), layout
        assert np.array_equal(found.classes, wanted.classes), layout


def test_a_layout_that_does_not_fit_the_output_names_both_shapes(val_images):
    from qsearch.evaluators.detector import DetectorEvaluator

    model = load_task_model(DETECTOR, "detect", {**YOLOX, "classes": 20})
    with pytest.raises(
        QSearchError, match=r"expects one image's output of shape 3549x25 .* gives 3549x85"
    ):
        DetectorEvaluator(val_images.subset(range(2)), model)


def test_a_declaration_missing_a_field_the_task_needs_is_one_line(tmp_path):
    model = tmp_path / "yolox_nano.onnx"
    shutil.copy(DETECTOR, model)
    declared = {k: v for k, v in YOLOX.items() if k != "channels"}
    (tmp_path / "yolox_nano.onnx.json").write_text(json.dumps(declared))
    with pytest.raises(
        QSearchError,
        match=r"yolox_nano.onnx.json .*no 'channels', which a detect model must declare",
    ):
        load_task_model(model, "detect")
    assert load_task_model(model, "detect", {"channels": "bgr"}).spec.channels == "bgr"


@pytest.fixture
def labels(tmp_path):
    """A copy of four images and their labels, to spoil."""
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir(), labels.mkdir()
    for path in sorted(VAL_IMAGES.glob("*.jpg"))[:4]:
        shutil.copy(path, images)
        if (VAL_LABELS / f"{path.stem}.txt").exists():
            shutil.copy(VAL_LABELS / f"{path.stem}.txt", labels)
    return images, labels


def _read(images, labels):
    found = load_images(images, compress_at="source", labels="none")
    return found, read_boxes(labels, found.names, [i.shape[:2] for i in found.images], 80)


def test_bad_labels_are_one_line_naming_the_file(labels):
    images, folder = labels
    first = sorted(folder.glob("*.txt"))[0]
    original = first.read_text()
    first.write_text("91 0.5 0.5 0.1 0.1\n")
    with pytest.raises(
        QSearchError, match=rf"{first.name}:1: class 91 is beyond the network's 80 classes"
    ):
        _read(images, folder)
    first.write_text(original + "3 0.95 0.5 0.2 0.1\n")
    with pytest.raises(
        QSearchError,
        match=rf"{first.name}:{len(original.splitlines()) + 1}: box .* outside its image",
    ):
        _read(images, folder)
    first.unlink()
    _, boxes = _read(images, folder)
    assert (
        boxes.missing == 1 and len(boxes.items[0].classes) == 0
    )  # counted: no boxes, not an error


@pytest.mark.slow
def test_a_run_searches_on_train2017_and_judges_on_val2017_with_pooled_intervals(tmp_path, capsys):
    """A small real run: searched on 24 train2017 images, its front judged on 24 val2017
    images with bootstrap intervals that recompute mAP; a changed label file is a changed run."""
    labels = tmp_path / "labels"
    shutil.copytree(COCO128 / "detection" / "labels", labels)
    train = tmp_path / "train"
    train.mkdir()
    for path in sorted((COCO128 / "images" / "train2017").glob("*.jpg"))[:24]:
        shutil.copy(path, train)
    args = ["run", "--task", "detect", "--model", str(DETECTOR), *declare(YOLOX), "--data", str(train),
            "--annotations", str(labels / "train2017"), "--test-data", str(VAL_IMAGES), "--test-annotations",
            str(labels / "val2017"), "--limit", "24", "--searcher", "random", "--budget", "3",
            "--metric", "map", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    test = summary["test"]
    assert (
        test["images"] == 24
        and test["bd_rate_ci95_low"] <= test["bd_rate_vs_ijg_percent"] <= test["bd_rate_ci95_high"]
    )
    identity = summary["identity"]
    assert "YOLO boxes" in identity["annotations"] and "yolox" in identity["output"]
    first = sorted((labels / "train2017").glob("*.txt"))[0]
    first.write_text(first.read_text() + "0 0.5 0.5 0.1 0.1\n")
    capsys.readouterr()
    assert main(args) != 0
    assert "annotations" in capsys.readouterr().err


def test_crowd_regions_count_as_pycocotools_counts_them(detector_evaluator):
    """Every fifth labelled box a crowd: matched detections neither hit nor miss, at each
    threshold separately, as COCOeval's ignore rules say."""
    from qsearch.tasks.coco import match

    evaluator, records = detector_evaluator, []
    images, truth, found = _as_pycocotools(evaluator, np.arange(len(evaluator.images)))
    crowds = {a["id"] for a in truth if a["id"] % 5 == 0}
    for note in truth:
        note["iscrowd"] = int(note["id"] in crowds)
    start = 1
    for k, labelled in enumerate(evaluator._truth):
        flags = np.array([i in crowds for i in range(start, start + len(labelled.classes))])
        start += len(labelled.classes)
        records.append(match(evaluator._uncompressed[k], labelled.boxes, labelled.classes, flags))
    assert any(len(row) > 3 for r in records for row in r["det"])  # some matched a crowd
    assert PooledAP(records)() == pytest.approx(coco_eval(images, truth, found), abs=1e-4)


def test_a_coco_instances_file_gives_the_figures_of_the_same_boxes_as_yolo_files(
    detector_evaluator, val_images, tmp_path
):
    from qsearch.evaluators.detector import DetectorEvaluator
    from qsearch.tasks.annotations import read_coco

    coco_ids = [i for i in range(1, 91) if i not in {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}]
    images, truth, _ = _as_pycocotools(detector_evaluator, np.arange(len(val_images)))
    for image, name in zip(images, val_images.names):
        image["file_name"] = name
    for note in truth:
        note["category_id"] = coco_ids[note["category_id"]]
    path = tmp_path / "instances_val2017.json"
    path.write_text(json.dumps({"images": images, "annotations": truth,
                                "categories": [{"id": i} for i in coco_ids]}))  # fmt: skip
    sizes = [image.shape[:2] for image in val_images.images]
    labels = read_coco(path, val_images.names, sizes, 80)
    evaluator = DetectorEvaluator(val_images, detector_evaluator.model, labels)
    assert evaluator.reference["map"] == pytest.approx(
        detector_evaluator.reference["map"], abs=1e-6
    )
    path.write_text(json.dumps({"images": images, "annotations": truth,
                                "categories": [{"id": i} for i in coco_ids[:60]]}))  # fmt: skip
    with pytest.raises(QSearchError, match="60 categories for a network of 80 classes"):
        read_coco(path, val_images.names, sizes, 80)


def test_a_declaration_that_reads_its_own_boxes_wrongly_is_refused(val_images):
    """YOLOX's rows read as YOLOv5's fit the shapes but not the meaning: the uncompressed
    images' boxes judged against themselves, 1 by construction, score less, and are refused."""
    from qsearch.evaluators.detector import DetectorEvaluator

    model = load_task_model(DETECTOR, "detect", {**YOLOX, "output": "yolov5"})
    with pytest.raises(
        QSearchError, match=r"judged against themselves score map_ref 0\.\d+, not 1"
    ):
        DetectorEvaluator(val_images.subset(range(8)), model)
