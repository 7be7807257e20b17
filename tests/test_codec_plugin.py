"""Codecs are plugins like searchers: every built-in codec passes the codec suite, and a toy
codec from another package (an entry point of ``qsearch.codecs``) passes it too, is listed, and
runs through ``qsearch baseline --codec`` end to end."""

from __future__ import annotations

import shutil

import pytest
from pluginpackage import installed_plugin

from qsearch.cli import main
from qsearch.codecs.encoders import ENCODERS
from qsearch.testing import CodecSuite
from realdata import photos

TOY = '''
"""A toy codec: the image posterised to fewer grey levels as the quality falls, stored as PNG
by Pillow (a real, if poor, lossy format at a quality)."""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from qsearch.codecs.encoders import Encoder


@dataclass(frozen=True)
class Posterise(Encoder):
    def version(self):
        return "posterise 0.1"

    def encode(self, image, setting, settings, metadata=None):
        levels = max(2, int(setting) * 255 // 100)
        step = 256 / levels
        coarse = (np.floor(image / step) * step + step / 2).clip(0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(coarse).save(buffer, "PNG")
        return buffer.getvalue()


TOY = Posterise("toy", False)
'''


@pytest.fixture(scope="module")
def toy_codec(tmp_path_factory):
    with installed_plugin(
        tmp_path_factory.mktemp("site"), "qsearch_toy_codec", TOY,
        "[qsearch.codecs]\ntoy = qsearch_toy_codec:TOY\n",
    ):  # fmt: skip
        yield "toy"


@pytest.mark.parametrize("name", ["jpeg", "mozjpeg", "jpegli", "webp", "avif", "jxl"])
class TestEveryBuiltInCodecPassesTheSuite(CodecSuite):
    @pytest.fixture
    def codec_name(self, name):
        return name


class TestTheToyCodecPassesTheSuite(CodecSuite):
    @pytest.fixture
    def codec_name(self, toy_codec):
        return toy_codec


def test_a_codec_from_another_package_runs_in_a_baseline(toy_codec, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        shutil.copy(path, folder / path.name)
    assert "toy" in ENCODERS.names()
    assert main(["list"]) == 0
    assert "toy          takes a quality; posterise 0.1" in capsys.readouterr().out
    out = tmp_path / "ladder"
    assert main(["baseline", "--evaluator", "fidelity", "--data", str(folder), "--codec",
                 "jpeg,toy", "--qualities", "10", "50", "90", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    assert (out / "toy.csv").exists() and "toy" in (out / "ladder.md").read_text()
