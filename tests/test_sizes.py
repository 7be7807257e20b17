"""Sending images at the size the network reads: never enlarged, bits per stored pixel, boxes
and masks placed back on the stored pixels, and part of a run's identity. Real photographs,
the real codec, a real segmenter (the mediapipe wheel's) and the shared YOLOX-Nano on COCO."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from test_segmentation import wheel_segmenter
from tinydetector import write_tiny_detector

from qsearch.cli import main
from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.codecs.sizes import sent_shape
from qsearch.errors import QSearchError
from qsearch.images import InputGeometry, load_images, read_rgb
from qsearch.tables.qtable import QTable
from qsearch.tasks.declaration import load_task_model
from qsearch.tasks.inputs import InputSpec
from realdata import COCO128, SELFIE, SHARED_MODELS, YOLOX, photos

Q95 = QTable.from_quality(95)
NUMBERS = dict(channels="rgb", scale=1, mean=(0, 0, 0), std=(1, 1, 1), layout="nchw")


def test_an_image_smaller_than_the_size_is_never_enlarged():
    image = read_rgb(photos(1)[0])[:100, :80]
    assert sent_shape(100, 80, "short:256") == (100, 80)
    small = EncoderSettings(size="short:256")
    assert encode(image, Q95, small) == encode(image, Q95, EncoderSettings())
    assert sent_shape(480, 640, "long:416") == (312, 416)
    assert sent_shape(480, 640, "short:256") == (256, 341)
    big = read_rgb(photos(1)[0])
    assert decode(encode(big, Q95, EncoderSettings(size="long:100"))).shape[:2] == (100, 100)


def test_a_centre_crop_is_one_geometry_whose_placement_reads_back_to_the_stored_pixels():
    image = read_rgb(photos(1)[0])
    height, width = image.shape[:2]
    crop = InputGeometry.centre_crop(224, 256, "bicubic")
    scale = 256 / min(height, width)  # by hand: the short side to 256, the centre 224 cut out
    size = (max(224, round(width * scale)), max(224, round(height * scale)))
    left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
    resized = Image.fromarray(image).resize(size, Image.Resampling.BICUBIC)
    expected = np.asarray(resized.crop((left, top, left + 224, top + 224)))
    assert np.array_equal(crop.canvas(image), expected)
    cut = crop.placement(height, width).to_stored(np.array([[0, 0, 224, 224]], np.float32))
    x, y = size[0] / width, size[1] / height
    assert np.allclose(cut, [[left / x, top / y, (left + 224) / x, (top + 224) / y]], atol=1e-3)
    assert crop.sent_size() == "short:256" and crop.describe().endswith("centre crop 224")
    with pytest.raises(QSearchError, match="at most the resize size 200"):
        InputGeometry.centre_crop(224, 200)


def test_boxes_from_a_sent_image_are_placed_on_the_stored_pixels():
    spec = InputSpec(416, 416, "letterbox", **NUMBERS)
    sent = sent_shape(480, 640, spec.sent_size())
    place = spec.placement_sent(480, 640, sent)
    whole = place.to_stored(np.array([[0, 0, 416, 312]], dtype=np.float32))
    assert np.allclose(whole, [[0, 0, 640, 480]], atol=1.5)
    centre = InputSpec(416, 416, "letterbox-centre", **NUMBERS)
    place = centre.placement_sent(480, 640, sent_shape(480, 640, centre.sent_size()))
    assert np.allclose(place.to_stored(np.array([[0, 52, 416, 364]], np.float32)),
                       [[0, 0, 640, 480]], atol=1.5)  # fmt: skip


@pytest.mark.skipif(wheel_segmenter() is None, reason="mediapipe==0.10.21 is not installed")
def test_a_segmenters_masks_sent_small_land_on_the_stored_pixels():
    from qsearch.evaluators.segmenter import SegmenterEvaluator

    images = load_images([str(p) for p in photos(6)], compress_at="source", labels="none")
    model = load_task_model(wheel_segmenter(), "segment", SELFIE)
    stored = SegmenterEvaluator(images, model, None)
    sent = SegmenterEvaluator(images, model, None, EncoderSettings(size="network"))
    try:
        assert sent.settings.size == "short:256"
        near, far = sent.evaluate(Q95, per_image=True), stored.evaluate(Q95, per_image=True)
        assert near["miou_ref"] > 0.9  # the masks, resized back, cover what the stored ones do
        assert near["bpp"] < far["bpp"]
        files = [encode(i, Q95, sent.settings) for i in images.images]
        assert near["bpp"] == pytest.approx(8 * sum(map(len, files)) / images.pixels)
    finally:
        stored.close()
        sent.close()


@pytest.mark.coco
def test_a_detectors_boxes_sent_small_land_on_the_stored_pixels():
    from qsearch.evaluators.detector import DetectorEvaluator

    images = load_images(COCO128 / "images" / "val2017", compress_at="source", labels="none",
                         limit=24)  # fmt: skip
    model = load_task_model(SHARED_MODELS / "yolox_nano.onnx", "detect", YOLOX)
    sent = DetectorEvaluator(images, model, None, EncoderSettings(size="network"))
    switched = DetectorEvaluator(images, model, None)
    try:
        assert sent.settings.size == "long:416"
        found = sent.evaluate(Q95)
        assert found["map_ref"] > 0.7  # boxes left at the sent scale would match nothing
        switched.use_encoder(EncoderSettings(size="network"))  # a baseline's second size
        assert switched.settings.size == "long:416"
        assert switched.evaluate(Q95)["map_ref"] == pytest.approx(found["map_ref"])
    finally:
        sent.close()
        switched.close()


def test_the_size_is_part_of_a_runs_identity(tmp_path, capsys):
    tiny = write_tiny_detector(tmp_path / "tiny.onnx")
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        shutil.copy(path, folder / path.name)
    run = ["run", "--task", "detect", "--model", str(tiny), "--data", str(folder), "--searcher",
           "quality", "--budget", "2", "--quiet", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main([*run, "--size", "network"]) == 0
    assert main([*run, "--size", "stored"]) == 2
    assert "sent at long:128 -> 4:2:0" in capsys.readouterr().err


def test_evaluators_comparing_stored_pixels_refuse_a_sent_size(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photos(1)[0], folder / "one.png")
    fidelity = ["evaluate", "--evaluator", "fidelity", "--data", str(folder), "--quality", "50"]
    assert main([*fidelity, "--size", "short:64"]) == 2
    assert "compares the stored pixels" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(folder), "--quality", "50", "--size", "network"]) == 2
    assert "give --compress-at source" in capsys.readouterr().err


def test_compress_writes_the_sent_images_and_their_scales(tmp_path):
    table = tmp_path / "q50.txt"
    QTable.from_quality(50).save(table)
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        shutil.copy(path, folder / path.name)
    assert main(["compress", "--qtable", str(table), "--size", "long:200", str(folder),
                 str(tmp_path / "out")]) == 0  # fmt: skip
    rows = (tmp_path / "out" / "sizes.csv").read_text().splitlines()[1:]
    for row in rows:
        name, stored_w, stored_h, width, height, scale = row.split(",")
        with Image.open(tmp_path / "out" / name) as written:
            assert written.size == (int(width), int(height)) and max(written.size) == 200
        assert float(scale) == pytest.approx(int(width) / int(stored_w), abs=1e-6)
    with pytest.raises(QSearchError):
        EncoderSettings(size="long:4")


def test_baseline_sweeps_every_curve_at_each_size_in_bits_per_stored_pixel(tmp_path, capsys):
    """``--size stored,network``: IJG and each codec's curve at both sizes, the network's curve
    cheaper at a quality since its files are smaller while counted over the same stored
    pixels, and the rung with the fewest bits at each target named; a list is refused where
    one size is sent."""
    import pandas as pd

    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(4):
        shutil.copy(path, folder / path.name)
    common = ["--data", str(folder), "--compress-at", "source", "--forward", "fp32"]
    out = tmp_path / "ladder"
    assert main(["baseline", *common, "--qualities", "30", "70", "--size", "stored,network",
                 "--codec", "jpeg,webp", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    curves = {name: pd.read_csv(out / f"{name}.csv") for name in
              ("ijg", "webp", "ijg@network", "webp@network")}  # fmt: skip
    stored_pixels = sum(read_rgb(p).shape[0] * read_rgb(p).shape[1] for p in folder.iterdir())
    for name in ("ijg", "webp"):
        assert (curves[f"{name}@network"]["bpp"] < curves[name]["bpp"]).all()
        for frame in (curves[name], curves[f"{name}@network"]):
            assert np.allclose(frame["bpp"], 8 * frame["bytes"] / stored_pixels)
    ladder = (out / "ladder.md").read_text()
    assert "| ijg@network |" in ladder and "| webp@network |" in ladder
    assert "fewest bits at 95% of the IJG quality 70 similarity" in ladder
    assert "fewest bits" in printed
    assert main(["evaluate", *common, "--quality", "50", "--size", "stored,network"]) == 2
    assert "one size here" in capsys.readouterr().err
