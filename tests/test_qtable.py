import io
import json

import numpy as np
import pytest
from PIL import Image

from qsearch import QSearchError, QTable
from qsearch.qtable import IJG_LUMA, ZIGZAG, from_zigzag, to_zigzag


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


def test_one_table_means_luma_equals_chroma():
    table = QTable.from_text("# one table\n" + " ".join(["7"] * 64))
    assert np.array_equal(table.luma, table.chroma)


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
        ([-3] + [5] * 63, "value -3 at row 0, column 0"),
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
