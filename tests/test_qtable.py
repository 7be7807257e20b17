import io
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from qsearch import QSearchError, QTable
from qsearch.tables.qtable import IJG_LUMA, ZIGZAG, from_zigzag, to_zigzag


@pytest.fixture(scope="module")
def photo():
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def test_quality_tables_equal_what_libjpeg_writes_for_every_quality(photo):
    for quality in range(1, 101):
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
        written = QTable.from_pillow(Image.open(buffer).quantization)
        assert written == QTable.from_quality(quality), quality


def test_quality_50_is_annex_k_and_quality_100_is_all_ones():
    assert np.array_equal(QTable.from_quality(50).luma, IJG_LUMA)
    assert (QTable.from_quality(100).to_vector() == 1).all()


def test_zigzag_order_starts_like_jpeg_and_round_trips():
    assert ZIGZAG[:10].tolist() == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24]
    assert ZIGZAG[-3:].tolist() == [55, 62, 63]
    table = np.arange(64).reshape(8, 8)
    assert np.array_equal(from_zigzag(to_zigzag(table)), table)


def test_text_and_json_round_trip(tmp_path):
    table = QTable.from_vector(np.arange(1, 129) % 255 + 1)
    assert QTable.from_text(table.to_text(comment="found by a search")) == table
    assert QTable.from_json(table.to_json()) == table
    for name in ("t.txt", "t.json"):
        table.save(tmp_path / name)
        assert QTable.load(tmp_path / name) == table


def test_a_one_table_file_is_refused_because_cjpeg_reads_it_otherwise(tmp_path):
    """64 values are luma only for cjpeg -qtables (its chroma slot keeps IJG's scaled table), so
    scoring them as luma = chroma would score another table than cjpeg writes: refused."""
    with pytest.raises(QSearchError, match="holds one table .* luma only"):
        QTable.from_text("# one table\n" + " ".join(["7"] * 64), source="one.txt")
    if shutil.which("cjpeg"):
        (tmp_path / "one.txt").write_text(" ".join(["7"] * 64))
        Image.new("RGB", (16, 16), (120, 60, 200)).save(tmp_path / "in.ppm")
        written = subprocess.run(
            ["cjpeg", "-qtables", str(tmp_path / "one.txt"), str(tmp_path / "in.ppm")],
            capture_output=True,
            check=True,
        ).stdout
        tables = Image.open(io.BytesIO(written)).quantization
        assert list(tables[0]) == [7] * 64 and list(tables[1]) != [7] * 64


def test_files_qsearch_writes_carry_both_tables(tmp_path):
    table = QTable.from_quality(60)
    table.save(tmp_path / "t.txt")
    values = [
        v
        for line in (tmp_path / "t.txt").read_text().splitlines()
        if not line.startswith("#")
        for v in line.split()
    ]
    assert len(values) == 128 and QTable.load(tmp_path / "t.txt") == table


def test_tables_are_immutable_and_hashable():
    table = QTable.from_quality(75)
    with pytest.raises(ValueError):
        table.luma[0, 0] = 3
    assert len({table, QTable.from_quality(75), QTable.from_quality(76)}) == 2


@pytest.mark.parametrize(
    "values, message",
    [
        ([5] * 63, "has 63 values"),
        ([5] * 70 + [0] + [5] * 57, "value 0 at row 0, column 6 is outside 1..255"),
        ([5] * 64 + [5] * 9 + [256] + [5] * 54, "chroma table value 256 at row 1, column 1"),
        ([-3] + [5] * 127, "value -3 at row 0, column 0"),
    ],
)
def test_invalid_text_tables_name_the_value_and_position(values, message):
    with pytest.raises(QSearchError, match=message):
        QTable.from_text(" ".join(map(str, values)), source="my.txt")


def test_non_integer_values_are_refused_with_their_position():
    with pytest.raises(QSearchError, match=r"my.txt: value '2.5' \(number 2\)"):
        QTable.from_text("1 2.5 " + "3 " * 62, source="my.txt")
    with pytest.raises(QSearchError, match="row 0, column 1 is not an integer"):
        QTable(np.array([1, 2.5] + [3] * 62), np.ones(64))


def test_bad_json_names_the_file(tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"luma": [1] * 64}))
    with pytest.raises(QSearchError, match="table.json"):
        QTable.load(path)
