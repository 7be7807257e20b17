import io

import numpy as np
import pytest
from PIL import Image

from qsearch import Codec, EncoderSettings, QSearchError, QTable
from qsearch.codecs.codec import decode, encode
from qsearch.images import read_rgb
from qsearch.tables.qtable import ZIGZAG
from realdata import photos


def parse_jpeg(data: bytes) -> dict:
    """Independent marker walk: DQT tables (natural order), SOF sampling factors, progressive or not."""
    tables, sampling, progressive, position = {}, None, False, 2
    while position < len(data):
        marker, length = (
            data[position + 1],
            int.from_bytes(data[position + 2 : position + 4], "big"),
        )
        body = data[position + 4 : position + 2 + length]
        if marker == 0xDB:
            offset = 0
            while offset < len(body):
                precision, slot = body[offset] >> 4, body[offset] & 15
                assert precision == 0, "baseline tables are 8-bit"
                natural = np.empty(64, dtype=int)
                natural[ZIGZAG] = list(body[offset + 1 : offset + 65])
                tables[slot] = natural
                offset += 65
        elif marker in (0xC0, 0xC2):
            sampling = [body[7 + 3 * c] for c in range(body[5])]
            progressive = marker == 0xC2
        elif marker == 0xDA:
            break
        position += 2 + length
    return {"tables": tables, "sampling": sampling, "progressive": progressive}


@pytest.fixture(scope="module")
def photo():
    return read_rgb(photos()[0])


def test_written_dqt_equals_the_table(photo):
    table = QTable.from_vector(np.random.default_rng(1).integers(1, 256, 128))
    parsed = parse_jpeg(encode(photo, table))
    assert np.array_equal(parsed["tables"][0], table.luma.ravel())
    assert np.array_equal(parsed["tables"][1], table.chroma.ravel())


def test_default_is_420_and_444_is_an_option(photo):
    table = QTable.from_quality(50)
    assert parse_jpeg(encode(photo, table))["sampling"] == [0x22, 0x11, 0x11]
    assert parse_jpeg(encode(photo, table, EncoderSettings("4:4:4")))["sampling"] == [
        0x11,
        0x11,
        0x11,
    ]


def test_optimised_huffman_is_smaller_and_lossless(photo):
    table = QTable.from_quality(50)
    plain, optimised = encode(photo, table), encode(photo, table, EncoderSettings(optimize=True))
    assert len(optimised) < len(plain)
    assert np.array_equal(decode(plain), decode(optimised))


def test_smallest_keeps_the_smaller_of_optimised_baseline_and_progressive():
    photographs = [read_rgb(path) for path in photos(3)]
    chosen_progressive = set()
    for photo, quality in (
        (photographs[0][:64, :64], 10),
        (photographs[1], 90),
        (photographs[2], 50),
    ):
        table = QTable.from_quality(quality)
        baseline = encode(photo, table, EncoderSettings(optimize=True))
        progressive = encode(photo, table, EncoderSettings(progressive=True))
        smallest = encode(photo, table, EncoderSettings(smallest=True))
        assert len(smallest) == min(len(baseline), len(progressive))
        assert np.array_equal(decode(smallest), decode(baseline))
        chosen_progressive.add(parse_jpeg(smallest)["progressive"])
    assert chosen_progressive == {
        False,
        True,
    }  # small, coarse files stay baseline; large ones go progressive


def test_decoder_agrees_with_pillow_decoder(photo):
    data = encode(photo, QTable.from_quality(30))
    ours, pillow = (
        decode(data).astype(int),
        np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int),
    )
    assert np.abs(ours - pillow).max() <= 1


def test_coarser_tables_make_smaller_files_and_threads_match_serial(photo):
    images = np.stack([photo[:224, :224]] * 6)
    codec = Codec(threads=2)
    decoded, sizes = codec.roundtrip(images, QTable.from_quality(20))
    assert (sizes == len(encode(images[0], QTable.from_quality(20)))).all()
    assert np.array_equal(decoded[3], decode(encode(images[3], QTable.from_quality(20))))
    assert sum(map(len, codec.encode_all(images, QTable.from_quality(80)))) > sizes.sum()


def test_unknown_subsampling_is_refused():
    with pytest.raises(QSearchError, match="4:1:1"):
        EncoderSettings("4:1:1")
