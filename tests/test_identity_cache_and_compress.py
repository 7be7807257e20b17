"""A number is never silently computed on other images, other settings or stale labels: run
identity on resume, caches keyed by everything, explicit labels, outputs that never destroy
inputs. Real photographs (scikit-image's), written as files here."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from qsearch import QSearchError, QTable
from qsearch.cli import main
from qsearch.images import load_images, read_rgb
from qsearch.images.cache import ImageCache
from realdata import PSNR_RUN, photos

SYNSETS = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475", "n01496331"]


@pytest.fixture
def folders(tmp_path) -> Path:
    rgb = [read_rgb(path) for path in photos(6)]
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, (synset, image) in enumerate(zip(SYNSETS, rgb)):
        Image.fromarray(image).resize((80, 80)).save(flat / f"{synset}_p{i}.JPEG", quality=92)
    for i, (name, image) in enumerate(zip(["cat", "cat", "cat", "dog", "dog", "dog"], rgb)):
        (tmp_path / "classes" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((64, 64)).save(tmp_path / "classes" / name / f"{i}.png")
    (tmp_path / "splits.json").write_text(
        json.dumps(
            {
                "one": sorted(p.name for p in flat.iterdir())[:3],
                "two": sorted(p.name for p in flat.iterdir())[3:],
            }
        )
    )
    return tmp_path


def run_args(folders, out, *extra):
    return [
        *PSNR_RUN,
        "--data",
        str(folders / "flat"),
        "--searcher",
        "ga",
        "--option",
        "pop_size=4",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize(
    "change, named",
    [
        (["--split", "two"], "images: 3 images"),
        (["--limit", "2"], "images: 3 images"),
        (["--compress-at", "source"], "compress_at: input -> source"),
        (["--seed", "2"], "seed: 1 -> 2"),
        (["--option", "pop_size=6"], 'options: {"pop_size": 4'),
        (["--subsampling", "4:4:4"], "encoder: 4:2:0 -> 4:4:4"),
        (["--metric", "ssim"], "objective:"),
        (["--space", "full"], "space: BandSpace"),
        (["--base", "mozjpeg-3"], "family=mozjpeg-3"),
        (["--early-rejection"], "pruner: None -> Pruner(z=1.0)"),
        (["--labels", "none"], "labels: imagenet"),
    ],
)
def test_resuming_with_any_recorded_setting_changed_is_refused_naming_it(
    folders, tmp_path, capsys, change, named
):
    out = tmp_path / "run"
    original = [
        *run_args(folders, out),
        "--split-file",
        str(folders / "splits.json"),
        "--split",
        "one",
        "--seed",
        "1",
    ]
    assert main([*original, "--budget", "4"]) == 0
    before = (out / "study.journal").read_bytes()
    capsys.readouterr()
    assert main([*original, *change, "--budget", "6"]) == 2  # the last value of an option wins
    error = capsys.readouterr().err
    assert "was started with other settings" in error and named in error, error
    assert (out / "study.journal").read_bytes() == before


def test_only_budget_and_timeout_may_change_and_the_run_ends_with_exactly_the_budget(
    folders, tmp_path
):
    out = tmp_path / "run"
    assert main([*run_args(folders, out), "--budget", "3", "--timeout", "600"]) == 0
    assert main([*run_args(folders, out), "--budget", "9"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert trials["number"].tolist() == list(range(9)) and trials["key"].is_unique
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"]["searcher"] == "ga" and summary["identity"]["images"].startswith(
        "6 images"
    )


def test_the_cache_never_returns_stale_labels(folders, tmp_path):
    cache = ImageCache(tmp_path / "cache")
    classes = folders / "classes"
    first = load_images(classes, cache=cache)
    assert first.labels.tolist() == [0, 0, 0, 1, 1, 1]
    shutil.move(classes / "dog" / "5.png", classes / "cat" / "5.png")
    moved = load_images(classes, cache=cache)
    assert dict(zip(moved.names, moved.labels.tolist()))["cat/5.png"] == 0
    assert len(cache.entries()) == 2


def test_the_cache_is_plain_arrays_with_a_json_index_and_a_size_limit(folders, tmp_path):
    cache = ImageCache(tmp_path / "c", limit=10**9)
    load_images(folders / "flat", cache=cache)
    load_images(folders / "classes", cache=cache)
    entries = cache.entries()
    assert len(entries) == 2 and all(
        json.loads((cache.folder / f"images-{e.key}.json").read_text())["names"] for e in entries
    )
    with np.load(cache.folder / f"images-{entries[0].key}.npz", allow_pickle=False) as arrays:
        assert arrays["images"].dtype == np.uint8
    small = ImageCache(tmp_path / "c", limit=entries[-1].bytes)
    assert small.trim() == 1 and len(small.entries()) == 1
    assert small.clear() == 1 and small.entries() == []


def test_cache_info_and_clear_from_the_command_line(folders, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QSEARCH_CACHE", str(tmp_path / "cli-cache"))
    load_images(folders / "flat")
    assert main(["cache", "info"]) == 0
    assert "1 prepared image set(s)" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 1" in capsys.readouterr().out and ImageCache().entries() == []


def test_one_stray_file_does_not_drop_the_labels(folders, caplog):
    flat = folders / "flat"
    (flat / "LICENSE").write_text("MIT")
    shutil.copy(next(flat.glob("*.JPEG")), flat / "cat.jpg")
    with caplog.at_level(logging.WARNING):
        image_set = load_images(flat)
    assert (
        image_set.label_rule == "imagenet" and len(image_set) == 6 and image_set.labels is not None
    )
    assert "left out 1 file(s)" in caplog.text and "cat.jpg" in caplog.text
    assert (
        load_images(flat, labels="none").labels is None
        and len(load_images(flat, labels="none")) == 7
    )


def test_labels_rule_is_printed_and_recorded(folders, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*run_args(folders, out), "--budget", "2", "--data", str(folders / "classes")]) == 0
    identity = json.loads((out / "summary.json").read_text())["identity"]
    assert identity["labels"].startswith("folders (sorted position)")
    assert "qsearch: note: 6 images, labels: folders (sorted position)" in capsys.readouterr().err


def test_compress_refuses_to_overwrite_its_sources_and_writes_nothing_then(
    folders, tmp_path, capsys
):
    QTable.from_quality(30).save(tmp_path / "t.txt")
    classes = folders / "classes"
    before = {p: p.read_bytes() for p in classes.rglob("*") if p.is_file()}
    assert main(["compress", "--qtable", str(tmp_path / "t.txt"), str(classes), str(classes)]) == 2
    assert (
        main(
            [
                "compress",
                "--qtable",
                str(tmp_path / "t.txt"),
                str(classes / "cat" / "0.png"),
                str(classes / "cat"),
            ]
        )
        == 0
    )  # a single file into its own folder: 0.jpg beside 0.png
    assert {p: p.read_bytes() for p in before} == before
    assert QTable.from_pillow(
        Image.open(classes / "cat" / "0.jpg").quantization
    ) == QTable.from_quality(30)
    (classes / "cat" / "0.jpg").unlink()
    shutil.copy(classes / "cat" / "0.png", classes / "cat" / "0.jpeg")
    assert (
        main(["compress", "--qtable", str(tmp_path / "t.txt"), str(classes), str(tmp_path / "out")])
        == 2
    )
    assert "would both be written as" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_repair_keeps_every_trial_number_and_table_file_name(folders, tmp_path):
    """A table a user noted by its file name names the same table after a repair."""
    out = tmp_path / "run"
    assert main(run_args(folders, out, "--budget", "8")) == 0
    before = {path.name: path.read_text() for path in (out / "tables").glob("*.txt")}
    numbers = pd.read_csv(out / "trials.csv").set_index("number")["key"].to_dict()
    journal = out / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    first_trial = next(i for i, line in enumerate(lines) if b'"number":0,' in line)
    lines[first_trial] = b"{ damaged\n"
    journal.write_bytes(b"".join(lines))
    assert main(["repair", str(out)]) == 0
    assert main(["front", str(out)]) == 0
    after = pd.read_csv(out / "trials.csv").set_index("number")["key"].to_dict()
    assert 0 not in after and all(numbers[n] == key for n, key in after.items())
    for path in (out / "tables").glob("*.txt"):
        assert (
            path.name not in before
            or before[path.name].splitlines()[1:] == path.read_text().splitlines()[1:]
        )


def test_nested_folders_of_an_imagefolder_class_are_found_and_named_by_their_path(folders):
    classes = folders / "classes"
    (classes / "dog" / "deep").mkdir()
    shutil.copy(classes / "dog" / "3.png", classes / "dog" / "deep" / "3.png")
    images = load_images(classes, labels="folders", cache=ImageCache(folders / "cache"))
    assert "dog/deep/3.png" in images.names and "dog/3.png" in images.names
    assert len(images) == 7 and list(images.labels).count(1) == 4


@pytest.mark.parametrize("codec", ["jpeg", "mozjpeg"])
def test_compress_keeps_exif_and_the_icc_profile_with_the_displayed_pixels(
    folders, tmp_path, capsys, codec
):
    """Pixels are encoded as displayed (as `evaluate` scores them: the EXIF orientation
    applied), the EXIF block kept with its orientation saying so, and the ICC profile kept, so
    a viewer shows the copy as the original."""
    from PIL import ImageCms

    source = tmp_path / "camera"
    source.mkdir()
    photo = read_rgb(photos(1)[0])[:60, :90]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo).save(
        source / "IMG_1.jpg", quality=95, exif=exif.tobytes(), icc_profile=icc
    )
    QTable.from_quality(50).save(tmp_path / "t.txt")
    assert (
        main(
            [
                "compress",
                "--codec",
                codec,
                "--qtable",
                str(tmp_path / "t.txt"),
                str(source),
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert "kept EXIF on 1 and an ICC profile on 1" in capsys.readouterr().out
    with Image.open(tmp_path / "out" / "IMG_1.jpg") as copy:
        assert copy.getexif()[0x0112] == 1 and copy.info["icc_profile"] == icc
        assert copy.size == (60, 90)  # upright: the pixels a viewer showed
        assert QTable.from_pillow(copy.quantization) == QTable.from_quality(50)
    assert (
        main(["compress", "--qtable", str(tmp_path / "t.txt"), str(source), str(tmp_path / "out")])
        == 2
    )
    assert "already exists" in capsys.readouterr().err
    assert (
        main(
            [
                "compress",
                "--strip",
                "--overwrite",
                "--qtable",
                str(tmp_path / "t.txt"),
                str(source),
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "out" / "IMG_1.jpg") as copy:
        assert 0x0112 not in copy.getexif() and "icc_profile" not in copy.info


def test_held_out_images_that_are_searched_images_are_refused_by_content(folders, tmp_path):
    """The same photograph under another name in the 'held-out' set is still not held out."""
    from qsearch import make_searcher
    from qsearch.evaluators.fidelity import FidelityEvaluator
    from qsearch.experiment import run

    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(folders / "flat" / f"{SYNSETS[0]}_p0.JPEG", other / "renamed.JPEG")
    cache = ImageCache(tmp_path / "cache")
    searched = FidelityEvaluator(load_images(folders / "flat", cache=cache))
    held_out = FidelityEvaluator(load_images(other, labels="none", cache=cache))
    with pytest.raises(QSearchError, match="share 1 of their 1 images with the searched ones"):
        run(searched, make_searcher("random"), tmp_path / "r", budget=2, test_evaluator=held_out)
    assert not (tmp_path / "r").exists()


def test_library_errors_name_parameters_and_the_command_line_names_flags(folders, capsys):
    from qsearch import Objective

    with pytest.raises(QSearchError, match=r"^floor 1.5 is a fraction .* \(relative\)$"):
        Objective(floor=1.5)
    arguments = ["run", "--evaluator", "fidelity", "--metric", "psnr", "--floor", "1.5"]
    assert main([*arguments, "--data", str(folders / "flat"), "--budget", "2"]) == 2
    error = capsys.readouterr().err
    assert "--floor 1.5 is a fraction" in error and "(--absolute-floor)" in error
