"""Model formats are plugins like codecs: every built-in format passes the format suite, and a
toy format from another package (gzip-compressed ONNX, an entry point of
``qsearch.model_formats``) passes it too, is listed, is judged exactly as the same network in
plain ONNX, and is refused for adaptation by its declared abilities."""

from __future__ import annotations

import gzip
import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from pluginpackage import installed_plugin
from tinydetector import TINY, TinyDetector, write_tiny_detector

from qsearch.cli import main
from qsearch.models.runtime import FORMATS
from qsearch.testing import ModelFormatSetting, ModelFormatSuite
from realdata import photos

TOY = '''
"""Gzip-compressed ONNX (.onnxz), run by ONNX Runtime from the decompressed bytes."""
import gzip

import onnxruntime

from qsearch.models.runtime import ModelFormat


class GzipOnnx(ModelFormat):
    """ONNX compressed with gzip, run from memory."""

    name, suffixes = "gzip-onnx", (".onnxz",)

    def run(self, path):
        session = onnxruntime.InferenceSession(gzip.decompress(path.read_bytes()))
        first = session.get_inputs()[0]
        return (lambda x: session.run(None, {first.name: x})[0]), 1


FORMAT = GzipOnnx()
'''

TIMES = ("seconds", "encode_ms_per_image")

DETECTOR_BATCH = np.random.default_rng(0).uniform(0, 255, (3, 3, 128, 128)).astype(np.float32)


@pytest.fixture(scope="module")
def toy_format(tmp_path_factory):
    with installed_plugin(
        tmp_path_factory.mktemp("site"), "qsearch_toy_format", TOY,
        "[qsearch.model_formats]\ngzip-onnx = qsearch_toy_format:FORMAT\n",
    ):  # fmt: skip
        yield "gzip-onnx"


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return write_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture(scope="module")
def gzipped(detector, toy_format):
    """The tiny detector as ``.onnxz`` with the same declaration beside it."""
    path = detector.with_name("tiny.onnxz")
    path.write_bytes(gzip.compress(detector.read_bytes()))
    path.with_name(path.name + ".json").write_text(json.dumps(TINY))
    return path


def _saved_torch(folder, kind: str):
    module = TinyDetector().eval()
    example = (torch.zeros(1, 3, 128, 128),)
    if kind == "torchscript":
        path = folder / "tiny.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(torch.jit.trace(module, example), str(path))
    else:
        path = folder / "tiny.pt2"
        batch = torch.export.Dim("batch", max=64)  # any batch: an example of two, not one
        pair = (torch.zeros(2, 3, 128, 128),)
        torch.export.save(torch.export.export(module, pair, dynamic_shapes=({0: batch},)), path)
    return path


class TestOnnx(ModelFormatSuite):
    @pytest.fixture
    def format_setting(self, detector):
        return ModelFormatSetting(detector, DETECTOR_BATCH)


@pytest.mark.parametrize("kind", ["torchscript", "export"])
class TestTorchFormats(ModelFormatSuite):
    @pytest.fixture
    def format_setting(self, kind, tmp_path):
        return ModelFormatSetting(_saved_torch(tmp_path, kind), DETECTOR_BATCH)


class TestTFLite(ModelFormatSuite):
    @pytest.fixture
    def format_setting(self):
        from test_segmentation import wheel_segmenter

        model = wheel_segmenter()
        if model is None:
            pytest.skip("mediapipe==0.10.21 is not installed (make test installs it for its model)")
        batch = np.random.default_rng(0).uniform(0, 1, (2, 256, 256, 3)).astype(np.float32)
        return ModelFormatSetting(model, batch)


class TestTheToyFormatPassesTheSuite(ModelFormatSuite):
    @pytest.fixture
    def format_setting(self, gzipped):
        return ModelFormatSetting(gzipped, DETECTOR_BATCH)


def test_a_format_from_another_package_is_listed_judged_and_refused_for_adaptation(
    gzipped, detector, tmp_path, capsys
):
    """The toy format is listed; ``evaluate --task detect`` gives the very figures of the same
    network in plain ONNX; ``adapt`` refuses it in one line because the format does not declare
    that it trains."""
    assert "gzip-onnx" in FORMATS.names()
    assert main(["list"]) == 0
    assert "gzip-onnx    .onnxz; run as it is" in capsys.readouterr().out
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        shutil.copy(path, folder / path.name)
    figures = []
    for model in (detector, gzipped):
        arguments = ["evaluate", "--task", "detect", "--model", str(model), "--data", str(folder),
                     "--quality", "40", "--json"]  # fmt: skip
        assert main(arguments) == 0
        measured = json.loads(capsys.readouterr().out)
        figures.append({k: v for k, v in measured.items() if k not in TIMES})
    assert figures[0] == figures[1] and figures[0]["bpp"] > 0 and "map_ref" in figures[0]
    arguments = ["adapt", "--task", "detect", "--model", str(gzipped), "--data", str(folder),
                 "--out", str(tmp_path / "adapted")]  # fmt: skip
    assert main(arguments) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and "a gzip-onnx model cannot be trained here" in error[0]
    assert "ONNX" in error[0] and not (tmp_path / "adapted").exists()
