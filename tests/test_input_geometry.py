"""One input description for every task: a classifier's short-side resize and centre crop is
one resize mode of the geometry detectors and segmenters declare, with the same keys in every
``M.json`` (files written before keep loading to the same identity), so that a classifier may
declare a letterbox and a detector a crop. Real photographs and the real default network."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tinydetector import TINY, write_tiny_detector

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
