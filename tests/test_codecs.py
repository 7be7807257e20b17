"""Every codec of the ladder on real photographs: each writes a complete file its reference
decoder reads back to the image's size, a lower quality writes fewer bytes, a table codec
writes the table it was given, and a missing optional package is one line saying what to
install."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from qsearch import QSearchError, QTable
from qsearch.cli import main
from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.codecs.encoders import ENCODERS
from qsearch.images import read_rgb
from realdata import photos


@pytest.fixture(scope="module")
def photo():
    return read_rgb(photos(1)[0])[:200, :136]  # not a multiple of 16: partial blocks too


def setting_at(codec: str, quality: int):
    return QTable.from_quality(quality) if ENCODERS[codec].takes_tables else quality


@pytest.mark.parametrize("codec", list(ENCODERS))
def test_each_codec_writes_a_file_its_decoder_reads_back_and_fewer_bytes_at_lower_quality(
    photo, codec
):
    settings = EncoderSettings(codec=codec)
    fine, coarse = (encode(photo, setting_at(codec, q), settings) for q in (90, 20))
    assert len(coarse) < len(fine)
    for data in (fine, coarse):
        decoded = decode(data, settings=settings)
        assert decoded.shape == photo.shape and decoded.dtype == np.uint8
        assert np.abs(decoded.astype(int) - photo).mean() < 20  # a picture of the photo
    with Image.open(io.BytesIO(fine)) as opened:  # a stock reader opens the complete file
        assert opened.size == (photo.shape[1], photo.shape[0])


@pytest.mark.parametrize("codec", ["jpeg", "mozjpeg"])
def test_a_table_codec_writes_the_table_it_was_given(photo, codec):
    table = QTable(np.arange(1, 65).reshape(8, 8), np.full((8, 8), 7))
    data = encode(photo, table, EncoderSettings(codec=codec))
    assert QTable.from_pillow(Image.open(io.BytesIO(data)).quantization) == table


def frame_markers(data: bytes) -> tuple[set[int], int]:
    """The start-of-frame markers (0xC0 baseline, 0xC2 progressive) and the scan count."""
    reader = io.BytesIO(data)
    reader.read(2)
    frames, scans = set(), 0
    while (marker := reader.read(2)) and marker[1] != 0xD9:
        length = int.from_bytes(reader.read(2), "big")
        if 0xC0 <= marker[1] <= 0xC2:
            frames.add(marker[1])
        if marker[1] == 0xDA:  # the entropy-coded data follows: skip to the next marker
            scans += 1
            rest = reader.read()
            position = next(
                i
                for i in range(len(rest) - 1)
                if rest[i] == 0xFF and rest[i + 1] not in (0, *range(0xD0, 0xD8))
            )
            reader = io.BytesIO(rest[position:])
        else:
            reader.read(length - 2)
    return frames, scans


@pytest.mark.parametrize("codec", ["jpeg", "mozjpeg"])
def test_a_table_codec_writes_baseline_unless_asked_for_progressive_with_the_same_pixels(
    photo, codec
):
    table = QTable.from_quality(60)
    optimized = {"optimize": True} if codec == "jpeg" else {}  # mozjpeg always optimises
    baseline = encode(photo, table, EncoderSettings(codec=codec, **optimized))
    progressive = encode(photo, table, EncoderSettings(codec=codec, progressive=True))
    assert frame_markers(baseline) == ({0xC0}, 1)
    frames, scans = frame_markers(progressive)
    assert frames == {0xC2} and scans > 1
    assert np.array_equal(decode(baseline), decode(progressive))
    smallest = encode(photo, table, EncoderSettings(codec=codec, smallest=True))
    assert len(smallest) == min(len(baseline), len(progressive))


def test_trellis_spends_fewer_bytes_than_libjpeg_turbo_with_the_same_table(photo):
    table = QTable.from_quality(75)
    turbo = encode(photo, table, EncoderSettings(optimize=True))
    trellis = encode(photo, table, EncoderSettings(codec="mozjpeg"))
    assert len(trellis) < len(turbo)


def test_a_quality_codec_refuses_a_table_and_a_table_codec_a_quality(photo):
    with pytest.raises(QSearchError, match="codec webp takes a quality"):
        encode(photo, QTable.from_quality(50), EncoderSettings(codec="webp"))
    with pytest.raises(QSearchError, match="codec mozjpeg takes a quantization table"):
        encode(photo, 50, EncoderSettings(codec="mozjpeg"))


def test_a_missing_optional_package_is_one_line_saying_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyjpegli", None)  # as if not installed
    with pytest.raises(
        QSearchError,
        match=r"codec jpegli needs the pyjpegli package: pip install 'qsearch\[codecs\]'",
    ):
        EncoderSettings(codec="jpegli")
    assert main(["baseline", "--codec", "jpeg,jpegli", "--qualities", "50", "--out", "unused"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install 'qsearch[codecs]'" in error


def test_the_codec_and_its_version_are_in_the_identity():
    described = {codec: EncoderSettings(codec=codec).describe() for codec in ENCODERS}
    assert described["jpeg"] == "4:2:0"  # runs recorded before codecs keep their identity
    assert "mozjpeg 4.0.3" in described["mozjpeg"] and "trellis" in described["mozjpeg"]
    assert len(set(described.values())) == len(described)


def test_baseline_writes_the_ladder_on_any_folder(tmp_path, capsys):
    out = tmp_path / "ladder"
    arguments = ["baseline", "--codec", "mozjpeg,webp,jxl", "--qualities", "20", "60", "90"]
    assert main([*arguments, "--quiet", "--out", str(out)]) == 0
    for name in ("ijg", "mozjpeg-ijg", "webp", "jxl"):
        curve = pd.read_csv(out / f"{name}.csv")
        assert curve["bytes"].is_monotonic_increasing and "per_image" in curve
    ladder = pd.read_csv(out / "ladder.csv")
    assert set(ladder["codec"]) == {"ijg", "mozjpeg-ijg", "webp", "jxl"}
    assert ladder.loc[ladder["codec"] == "ijg", "bd_rate"].iloc[0].startswith("+0.0%")
    assert (out / "baseline.png").stat().st_size > 10_000 and "| webp |" in (
        out / "ladder.md"
    ).read_text()


def test_a_run_under_another_codec_is_refused_on_resume(tmp_path, capsys):
    arguments = ["run", "--evaluator", "fidelity", "--metric", "psnr", "--absolute-floor"]
    arguments += ["--floor", "30", "--searcher", "quality", "--budget", "2", "--quiet"]
    assert main([*arguments, "--codec", "mozjpeg", "--out", str(tmp_path)]) == 0
    identity = json.loads((tmp_path / "summary.json").read_text())["identity"]
    assert "mozjpeg 4.0.3" in identity["encoder"]
    assert main([*arguments, "--budget", "3", "--codec", "jpeg", "--out", str(tmp_path)]) == 2
    assert "encoder: mozjpeg 4.0.3" in capsys.readouterr().err  # a default typed out is asked for
    assert main([*arguments, "--budget", "3", "--out", str(tmp_path)]) == 0  # its spec: mozjpeg
    assert "resuming" in capsys.readouterr().err
    assert main([*arguments, "--codec", "avif", "--out", str(tmp_path / "b")]) == 2
