"""A user's own files, as cameras, phones and tools write them: images are read as a viewer
displays them (EXIF orientation applied, 16-bit samples from their full range) everywhere and
in the cache, copies display like their sources, no output replaces an existing file without
--overwrite, and a network that never gets an image right still ends its run with a report."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image, ImageOps

from qsearch import QTable
from qsearch.cli import main
from qsearch.images import load_images
from qsearch.images.files import read_rgb
from realdata import photos

ROTATED = 6
"""EXIF orientation: the stored pixels are turned 90 degrees; a viewer turns them back."""


def as_a_phone_stores(source, target) -> None:
    """``source`` written as a phone writes it: pixels turned, ``Orientation=6``, so that it
    displays exactly as ``source``; a high quality keeps its pixels close."""
    upright = Image.open(source).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = ROTATED
    upright.transpose(Image.Transpose.ROTATE_90).save(target, quality=98, exif=exif.tobytes())


@pytest.fixture
def phone(tmp_path):
    """Three photographs twice: upright PNGs, and JPEGs stored turned with their tag."""
    upright, turned = tmp_path / "upright", tmp_path / "turned"
    upright.mkdir()
    turned.mkdir()
    for path in photos(3):
        name = path.with_suffix(".jpg").name
        Image.open(path).convert("RGB").save(upright / name, quality=98)
        as_a_phone_stores(upright / name, turned / name)
    return upright, turned


def test_an_image_is_read_as_displayed_with_its_exif_orientation(phone):
    upright, turned = phone
    for path in sorted(turned.iterdir()):
        shown = read_rgb(path)
        original = read_rgb(upright / path.name)
        assert shown.shape == original.shape  # turned back, not as stored
        assert np.abs(shown.astype(int) - original).mean() < 3


def test_evaluation_of_turned_files_equals_the_upright_ones(phone, capsys):
    upright, turned = phone
    figures = []
    for folder in (upright, turned):
        argv = ["evaluate", "--data", str(folder), "--labels", "none", "--compress-at", "source"]
        assert main([*argv, "--quality", "50", "--json"]) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[1]["similarity"] == pytest.approx(figures[0]["similarity"], abs=0.02)
    assert figures[1]["bpp"] == pytest.approx(figures[0]["bpp"], rel=0.05)
    prepared = load_images(turned, labels="none", compress_at="source")
    assert [i.shape for i in prepared.images] == [
        read_rgb(p).shape for p in sorted(upright.iterdir())
    ]


def test_compress_writes_files_that_display_like_their_sources(phone, tmp_path):
    _, turned = phone
    QTable.from_quality(90).save(tmp_path / "t.txt")
    out = tmp_path / "out"
    assert main(["compress", "--qtable", str(tmp_path / "t.txt"), str(turned), str(out)]) == 0
    for source in sorted(turned.iterdir()):
        with Image.open(source) as before, Image.open(out / source.name) as after:
            assert after.getexif().get(0x0112, 1) == 1  # the pixels are upright already
            shown_before = np.asarray(ImageOps.exif_transpose(before).convert("RGB"), int)
            shown_after = np.asarray(ImageOps.exif_transpose(after).convert("RGB"), int)
        assert shown_after.shape == shown_before.shape
        assert np.abs(shown_after - shown_before).mean() < 4


def test_a_dark_16_bit_png_stays_dark(tmp_path):
    dark = (np.arange(64 * 64).reshape(64, 64) % 200).astype(np.uint16)  # at most 199 of 65535
    path = tmp_path / "dark.png"
    Image.fromarray(dark).save(path)
    with Image.open(path) as opened:
        assert opened.mode.startswith("I")  # Pillow reads it as 16-bit samples
    read = read_rgb(path)
    assert read.max() == round(199 * 255 / 65535) and read.dtype == np.uint8  # not 199
    bright = (dark.astype(np.uint32) * 329).astype(np.uint16)  # up to 65471 of 65535
    Image.fromarray(bright).save(path)
    assert read_rgb(path).max() == round(65471 * 255 / 65535)


def test_export_never_replaces_an_existing_file_without_overwrite(tmp_path, capsys):
    QTable.from_quality(50).save(tmp_path / "t.txt")
    precious = tmp_path / "README.md"
    precious.write_text("the user's notes")
    arguments = ["export", str(tmp_path / "t.txt"), "--format", "cjpeg", "--out", str(precious)]
    assert main(arguments) == 2
    assert "already exists; give --overwrite" in capsys.readouterr().err
    assert precious.read_text() == "the user's notes"
    assert main([*arguments, "--overwrite"]) == 0
    assert QTable.load(precious) == QTable.from_quality(50)


@pytest.mark.slow
def test_a_search_the_network_never_gets_right_ends_with_its_report(tmp_path, capsys):
    """Photographs labelled with classes the network never predicts: uncompressed top-1 is 0,
    and every share of it is undefined; the run, its summary and front --target say so."""
    data = tmp_path / "data"
    for index, path in enumerate(photos(4)):
        folder = data / ("a" if index % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps({"a": 999, "b": 998}))  # toilet tissue, volcano
    split = tmp_path / "split.json"
    names = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.png"))
    split.write_text(json.dumps({"search": names[:2], "test": names[2:]}))
    run = tmp_path / "run"
    arguments = ["run", "--data", str(data), "--class-map", str(classes), "--split-file",
                 str(split), "--split", "search", "--test-split", "test", "--searcher", "quality",
                 "--budget", "3", "--quiet", "--out", str(run)]  # fmt: skip
    assert main(arguments) == 0
    summary = json.loads((run / "summary.json").read_text())
    point = summary["operating_points"]["top1"][0]
    assert point["table"] is None and "uncompressed top1" in point["undefined"]
    capsys.readouterr()
    assert main(["front", str(run), "--target", "0.98"]) == 0
    assert "none: the uncompressed top1 on the searched images is 0" in capsys.readouterr().out


def test_a_journal_joined_to_a_copy_of_itself_counts_each_trial_once(tmp_path, capsys):
    """Sync tools and backups copy and concatenate files: every trial still counts once, and
    the same search resumes from it to exactly its budget."""
    from qsearch.search.journal import Journal

    run = tmp_path / "run"
    arguments = ["run", "--metric", "similarity", "--limit", "4", "--searcher", "quality",
                 "--quiet", "--out", str(run)]  # fmt: skip
    assert main([*arguments, "--budget", "3"]) == 0
    journal = run / "study.journal"
    journal.write_bytes(journal.read_bytes() * 2)
    assert [t.number for t in Journal.read(run)[0]] == [0, 1, 2]
    assert main(["front", str(run)]) == 0
    assert "3 table file(s)" in capsys.readouterr().out
    assert main([*arguments, "--budget", "4"]) == 0
    assert [t.number for t in Journal.read(run)[0]] == [0, 1, 2, 3]
