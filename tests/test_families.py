import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr
from test_codec import parse_jpeg

from qsearch import QSearchError, QTable
from qsearch.images import load_images, read_rgb
from qsearch.search.space import BandSpace, QualitySpace
from qsearch.tables.families import IJG, coefficient_spread, deepn, make_family, mozjpeg
from realdata import IMAGENET_SAMPLE, SPLITS, split_names

SHARED_PRESETS = IMAGENET_SAMPLE.parent / "mozjpeg-qtables.json"


def test_ijg_family_is_what_libjpeg_writes_at_each_quality(tmp_path):
    """libjpeg-turbo's own tables (Pillow's encoder at ``quality=q``, read back from the file)."""
    from PIL import Image

    image = Image.new("RGB", (16, 16), (90, 120, 200))
    for quality in range(1, 101):
        path = tmp_path / f"q{quality}.jpg"
        image.save(path, quality=quality)
        with Image.open(path) as written:
            assert IJG.at(quality) == QTable.from_pillow(written.quantization), quality


@pytest.mark.imagenet
def test_embedded_mozjpeg_presets_are_the_shared_numbers():
    for preset in json.loads(SHARED_PRESETS.read_text())["tables"]:
        family = mozjpeg(preset["index"])
        assert family.luma.ravel().tolist() == preset["luma"]
        assert family.chroma.ravel().tolist() == preset["chroma"]
    assert all(mozjpeg(0).at(q) == IJG.at(q) for q in (5, 50, 95))  # preset 0 is Annex K


def test_bases_over_255_are_scaled_then_clamped_like_libjpeg():
    family = mozjpeg(3)  # ImageMagick/Robidoux, values up to 418
    assert family.luma.max() == 418
    assert family.at(50).luma.max() == 255
    assert family.at(90).luma.max() == (418 * 20 + 50) // 100


@pytest.mark.imagenet
@pytest.mark.skipif(
    shutil.which("cjpeg") is None, reason="needs libjpeg-turbo's cjpeg (.ci/run installs it)"
)
@pytest.mark.parametrize("index, quality", [(3, 20), (5, 50), (8, 85)])
def test_family_tables_equal_what_cjpeg_writes_from_the_same_bases(tmp_path, index, quality):
    family = mozjpeg(index)
    bases = tmp_path / "bases.txt"
    bases.write_text(
        "\n".join(
            " ".join(str(v) for v in row) for table in (family.luma, family.chroma) for row in table
        )
        + "\n"
    )
    Image.fromarray(read_rgb(IMAGENET_SAMPLE / split_names("test", 1)[0])).save(
        tmp_path / "photo.ppm"
    )
    written = subprocess.run(
        [
            "cjpeg",
            "-baseline",
            "-qtables",
            str(bases),
            "-quality",
            str(quality),
            str(tmp_path / "photo.ppm"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    tables = parse_jpeg(written)["tables"]
    expected = family.at(quality)
    assert tables[0].tolist() == expected.luma.ravel().tolist()
    assert tables[1].tolist() == expected.chroma.ravel().tolist()


@pytest.fixture(scope="module")
def search_images():
    return load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=40).images


@pytest.mark.imagenet
def test_deepn_steps_fall_as_the_coefficient_spread_grows(search_images):
    spread = coefficient_spread(search_images)
    family = deepn(search_images)
    for plane, table in enumerate((family.luma, family.chroma)):
        assert spearmanr(spread[plane].ravel(), table.ravel()).statistic < -0.95
    # the luma DC varies most over real photos: it gets the finest step
    assert family.luma[0, 0] == family.luma.min()
    ijg_mean = np.exp(np.log(IJG.luma).mean())
    assert abs(np.exp(np.log(family.luma).mean()) / ijg_mean - 1) < 0.05


def test_spaces_are_built_around_a_family():
    family = mozjpeg(4)
    assert QualitySpace(family=family).to_qtable([37]) == family.at(37)
    assert BandSpace(family=family).to_qtable(np.zeros(12)) == family.at(50)
    assert repr(QualitySpace(family=family)) == "QualitySpace(dim=1, family=mozjpeg-4)"


def test_make_family_reads_table_files_and_names_bad_specs(tmp_path):
    QTable.from_quality(70).save(tmp_path / "mine.txt")
    family = make_family(str(tmp_path / "mine.txt"))
    assert family.at(50) == QTable.from_quality(70)
    with pytest.raises(QSearchError, match="'nonsense' is not one of ijg, mozjpeg-0"):
        make_family("nonsense")
    with pytest.raises(QSearchError, match="fitted to images"):
        make_family("deepn")
