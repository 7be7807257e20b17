import json
import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from qsearch import QSearchError
from qsearch.images import imagenet_synsets, load_images, read_rgb
from qsearch.images import loading as images_module
from realdata import IMAGENET_SAMPLE, SPLITS, split_names


@pytest.mark.imagenet
def test_imagenet_flat_files_are_labelled_by_synset_index(imagenet_folder):
    image_set = load_images(imagenet_folder)
    assert image_set.images.shape == (12, 224, 224, 3) and image_set.images.dtype == np.uint8
    synsets = imagenet_synsets()
    assert len(synsets) == 1000
    assert [synsets[label] for label in image_set.labels] == [
        name.split("_")[0] for name in image_set.names
    ]


@pytest.mark.imagenet
def test_image_folder_layout_uses_synset_or_sorted_class_index(tmp_path):
    names = split_names("test", 4)
    for class_name, name in zip(["zebra", "apple"], names[:2]):
        (tmp_path / "plain" / class_name).mkdir(parents=True)
        shutil.copy(IMAGENET_SAMPLE / name, tmp_path / "plain" / class_name / name)
    assert sorted(load_images(tmp_path / "plain").labels.tolist()) == [0, 1]
    for name in names:
        synset = name.split("_")[0]
        (tmp_path / "synsets" / synset).mkdir(parents=True)
        shutil.copy(IMAGENET_SAMPLE / name, tmp_path / "synsets" / synset / "photo.jpg")
    labelled = load_images(tmp_path / "synsets")
    assert sorted(labelled.labels.tolist()) == sorted(
        imagenet_synsets().index(n.split("_")[0]) for n in names
    )


@pytest.mark.imagenet
def test_plain_images_are_unlabelled(tmp_path):
    for i, name in enumerate(split_names("test", 3)):
        shutil.copy(IMAGENET_SAMPLE / name, tmp_path / f"holiday{i}.jpg")
    assert load_images(tmp_path).labels is None


@pytest.mark.imagenet
def test_split_file_selects_and_orders_images():
    image_set = load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=5)
    assert image_set.names == json.loads(SPLITS.read_text())["search"][:5]


@pytest.mark.imagenet
def test_split_errors_name_the_split_and_file(imagenet_folder, tmp_path):
    with pytest.raises(QSearchError, match="no split named 'valid'"):
        load_images(imagenet_folder, split_file=SPLITS, split="valid")
    with pytest.raises(QSearchError, match="not in"):
        load_images(imagenet_folder, split_file=SPLITS, split="search")


@pytest.mark.imagenet
def test_source_mode_keeps_stored_resolution(imagenet_folder):
    image_set = load_images(imagenet_folder, compress_at="source")
    stored = Image.open(imagenet_folder / image_set.names[0]).size
    assert image_set.images[0].shape[:2] == (stored[1], stored[0])
    assert image_set.network_inputs().shape == (12, 224, 224, 3)


@pytest.mark.imagenet
def test_second_load_comes_from_the_cache(imagenet_folder, monkeypatch):
    first = load_images(imagenet_folder)
    monkeypatch.setattr(images_module, "read_rgb", lambda path: pytest.fail("decoded again"))
    assert np.array_equal(load_images(imagenet_folder).images, first.images)


@pytest.mark.imagenet
def test_bad_images_are_skipped_with_a_count_or_fatal_when_strict(imagenet_folder, caplog):
    good = imagenet_folder / split_names("test", 1)[0]
    truncated = imagenet_folder / good.name.replace("_", "_truncated_", 1)
    truncated.write_bytes(good.read_bytes()[:2000])
    (imagenet_folder / "n01440764_notes.JPEG").write_text("not an image")
    with caplog.at_level(logging.WARNING):
        image_set = load_images(imagenet_folder)
    assert len(image_set) == 12 and len(image_set.skipped) == 2
    assert "skipped 2 unreadable image(s) of 14" in caplog.text
    with pytest.raises(QSearchError, match="truncated|notes"):
        load_images(imagenet_folder, strict=True)


@pytest.mark.imagenet
def test_unknown_synset_empty_and_missing_folders(tmp_path, imagenet_folder):
    shutil.copy(next(imagenet_folder.iterdir()), imagenet_folder / "n99999999_nothing.JPEG")
    with pytest.raises(QSearchError, match="unknown ImageNet synset n99999999"):
        load_images(imagenet_folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(QSearchError, match="no image files"):
        load_images(tmp_path / "empty")
    with pytest.raises(QSearchError, match="not a folder"):
        load_images(tmp_path / "missing")


def test_small_images_are_upscaled_and_tiny_ones_refused(tmp_path):
    Image.new("RGB", (100, 60), (10, 200, 30)).save(tmp_path / "small.png")
    image_set = load_images(tmp_path)
    assert image_set.images.shape == (1, 224, 224, 3) and image_set.upscaled == 1
    Image.new("RGB", (5, 5)).save(tmp_path / "tiny.png")
    with pytest.raises(QSearchError, match="tiny.png: 5x5 px is too small"):
        read_rgb(tmp_path / "tiny.png")


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("L", 128, (128, 128, 128)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
        ("I;16", 65535, (255, 255, 255)),
    ],
)
def test_other_modes_become_rgb(tmp_path, mode, value, expected):
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    Image.new(mode, (16, 16), value).save(path)
    rgb = read_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3)
    assert tuple(rgb[0, 0]) == expected
