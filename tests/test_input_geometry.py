"""One input description for every task: a classifier's short-side resize and centre crop is
one resize mode of the geometry detectors and segmenters declare, with the same keys in every
``M.json`` (files written before keep loading to the same identity), so that a classifier may
declare a letterbox and a detector a crop; ``--mean``, ``--std``, ``--input-size``,
``--resize`` and ``--interpolation`` are shorthands of that declaration for every task, never
ignored. Real photographs and the real default network."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from tinydetector import TINY, write_tiny_detector

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.images import InputGeometry, load_images, read_rgb
from qsearch.models import load_classifier, read_sidecar, write_sidecar
from qsearch.tasks.declaration import load_task_model
from realdata import photos

GEOMETRIES = [
    InputGeometry.centre_crop(224, 256, "bicubic"),
    InputGeometry(416, 416, "letterbox", pad=114),
    InputGeometry(320, 480, "letterbox-centre", pad=0, interpolation="bicubic"),
    InputGeometry(256, 256, "stretch"),
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: g.resize)
def test_a_declared_geometry_reads_back_to_itself(geometry):
    assert InputGeometry.from_declared(geometry.declared()) == geometry


def test_a_classifier_and_a_detector_declaring_the_same_crop_see_the_same_canvas(tmp_path):
    image = read_rgb(photos(1)[0])
    classifier = load_classifier(device="cpu")
    assert classifier.preprocessing.describe() == "short side 256 (bicubic), centre crop 224"
    detector = write_tiny_detector(tmp_path / "tiny.onnx")
    crop = {**TINY, "input_size": 224, "resize": 256, "interpolation": "bicubic"}
    spec = load_task_model(detector, "detect", crop).spec
    assert spec.resize == "crop" and spec.short_side == 256
    np.testing.assert_array_equal(spec.canvas(image), classifier.preprocessing.canvas(image))
    written = json.loads(write_sidecar(tmp_path / "m.pt", classifier).read_text())
    assert {k: written[k] for k in ("input_size", "resize", "interpolation")} == {
        k: crop[k] for k in ("input_size", "resize", "interpolation")
    }


def test_a_classifier_may_declare_a_letterbox_and_one_number_for_its_channels(tmp_path):
    declared = {"resize": "letterbox", "pad": 0, "mean": 0.5, "std": [0.5, 0.5, 0.5]}
    sidecar = tmp_path / "m.pt.json"
    sidecar.write_text(json.dumps(declared))
    assert read_sidecar(tmp_path / "m.pt")["mean"] == (0.5, 0.5, 0.5)
    classifier = load_classifier(device="cpu", declared=read_sidecar(tmp_path / "m.pt"))
    geometry = classifier.preprocessing
    assert (geometry.resize, geometry.height, geometry.pad) == ("letterbox", 224, 0)
    oblong = [path for path in photos() if len(set(read_rgb(path).shape[:2])) == 2][:3]
    images = load_images(oblong, labels="none", preprocessing=geometry)
    assert len(images) == 3
    for name, prepared in zip(images.names, images.images):
        height, width = read_rgb(next(p for p in oblong if p.name == name)).shape[:2]
        kept = round(min(height, width) * 224 / max(height, width))
        along = prepared if height < width else prepared.transpose(1, 0, 2)  # short side: rows
        assert prepared.shape == (224, 224, 3) and kept < 224
        assert not along[kept:].any() and along[:kept].any()  # padded below (or right of) it


@pytest.mark.parametrize(
    ("declared", "refusal"),
    [
        ({"resize": "zoom"}, "resize 'zoom' is not one of crop, letterbox"),
        ({"resize": "crop"}, "resize 'crop' must be a whole number of pixels"),
        ({"input_size": 300, "resize": 256}, "input size 300x300 must be at most the resize"),
        ({"input_size": [224]}, "input_size [224] must be N or [height, width]"),
        ({"mean": [0.5, 0.5]}, "mean [0.5, 0.5] must be a number or three"),
    ],
)
def test_a_bad_geometry_is_refused_in_one_line_naming_the_file(tmp_path, declared, refusal):
    (tmp_path / "m.pt.json").write_text(json.dumps(declared))
    with pytest.raises(QSearchError) as refused:
        read_sidecar(tmp_path / "m.pt")
    assert str(refused.value).startswith(f"{tmp_path / 'm.pt.json'}: ")
    assert refusal in str(refused.value) and "\n" not in str(refused.value)


@pytest.fixture
def detector_and_photos(tmp_path):
    model = write_tiny_detector(tmp_path / "tiny.onnx")
    (tmp_path / "tiny.onnx.json").write_text(json.dumps(TINY))
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        shutil.copy(path, folder / path.name)
    return model, folder


def _figures(capsys, *arguments) -> dict:
    assert main(["evaluate", "--quality", "50", "--json", *arguments]) == 0, arguments
    found = json.loads(capsys.readouterr().out)
    return {k: v for k, v in found.items() if k not in ("seconds", "encode_ms_per_image")}


def test_the_input_options_are_shorthands_of_the_declaration_for_every_task(
    detector_and_photos, capsys
):
    model, folder = detector_and_photos
    detect = ["--task", "detect", "--model", str(model), "--data", str(folder)]
    declared = _figures(capsys, *detect)
    shorthand = _figures(capsys, *detect, "--mean", "60,60,60", "--resize", "stretch")
    assert shorthand != declared  # a detector's input is what the options say, not ignored
    longhand = _figures(capsys, *detect, "--declare", "mean=60", "--declare", "resize=stretch")
    assert longhand == shorthand
    classify = ["--data", str(folder)]
    crop = _figures(capsys, *classify)
    letterbox = _figures(capsys, *classify, "--resize", "letterbox", "--declare", "pad=0")
    assert letterbox != crop
    assert _figures(capsys, *classify, "--declare", "resize=letterbox", "--declare", "pad=0") == (
        letterbox
    )


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        (["--mean", "0.5,0.5,0.5", "--declare", "mean=0.5"], "--mean and --declare mean=...: "),
        (["--declare", "channels=bgr"], "unknown key 'channels' for a classifier"),
        (["--resize", "zoom"], "'zoom' is neither a short side in pixels"),
    ],
)
def test_a_declaration_given_twice_or_wrong_is_refused_in_one_line(
    detector_and_photos, capsys, arguments, refusal
):
    _, folder = detector_and_photos
    assert main(["evaluate", "--quality", "50", "--data", str(folder), *arguments]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and refusal in errors[0], errors


def test_images_prepared_for_a_declared_input_count_those_it_enlarges():
    big, small = InputGeometry(1024, 1024, "letterbox"), InputGeometry(128, 128, "letterbox")
    assert big.smaller_than_input(480, 640) and not small.smaller_than_input(480, 640)
    assert InputGeometry(256, 256, "stretch").smaller_than_input(1000, 200)
    files = photos(3)
    for geometry, enlarged in ((big, 3), (small, 0)):
        images = load_images(files, labels="none", compress_at="source", preprocessing=geometry)
        assert images.preprocessing == geometry and images.upscaled == enlarged
