"""The conformance suite of codecs (``--codec``, the ``qsearch.codecs`` entry-point group)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from qsearch.errors import QSearchError
from qsearch.tables.qtable import QTable


class CodecSuite:
    """What every codec (``--codec``, the ``qsearch.codecs`` entry-point group) must do, on real
    photographs: round trip to an RGB image of the same size, fewer bytes at a coarser setting, a
    JPEG carrying the very table it was given where it takes tables, a version for the run's
    identity, and a one-line refusal of the wrong kind of setting. Override ``codec_name``."""

    @pytest.fixture
    def codec_name(self) -> str:
        """The codec's ``--codec`` name."""
        raise NotImplementedError("override the codec_name fixture")

    @pytest.fixture
    def encoder(self, codec_name):
        """The registered encoder, installed."""
        from qsearch.codecs.encoders import ENCODERS, get_encoder

        assert codec_name in ENCODERS.names()
        return get_encoder(codec_name)

    @staticmethod
    def _settings(encoder, coarse: bool):
        if encoder.takes_tables:
            return QTable.from_quality(10 if coarse else 90)
        return 10 if coarse else 90

    def test_a_round_trip_gives_an_image_of_the_same_size(self, codec_name, encoder):
        """Decoded: RGB uint8 of the image's size, close to it at a fine setting."""
        from qsearch.codecs.codec import EncoderSettings, decode, encode

        settings = EncoderSettings(codec=codec_name)
        for image in _photographs():
            decoded = decode(
                encode(image, self._settings(encoder, False), settings), None, settings
            )
            assert decoded.shape == image.shape and decoded.dtype == np.uint8
            assert float(np.abs(decoded.astype(float) - image).mean()) < 20

    def test_a_coarser_setting_gives_fewer_bytes(self, codec_name, encoder):
        """Quality 10 (or IJG quality 10's table) writes a smaller file than 90."""
        from qsearch.codecs.codec import EncoderSettings, encode

        settings = EncoderSettings(codec=codec_name)
        image = _photographs()[0]
        coarse, fine = (
            len(encode(image, self._settings(encoder, c), settings)) for c in (True, False)
        )
        assert coarse < fine

    def test_the_file_holds_what_was_asked(self, codec_name, encoder):
        """A table codec writes the very table into the JPEG; a quality codec writes the same
        bytes for the same quality (a resumed job writes what an uninterrupted one did)."""
        import io

        from PIL import Image

        from qsearch.codecs.codec import EncoderSettings, encode

        settings, image = EncoderSettings(codec=codec_name), _photographs()[0]
        if encoder.takes_tables:
            table = QTable.from_quality(37)
            with Image.open(io.BytesIO(encode(image, table, settings))) as written:
                assert QTable.from_pillow(written.quantization) == table  # type: ignore[attr-defined]
        else:
            assert encode(image, 37, settings) == encode(image, 37, settings)

    def test_it_names_its_version_and_refuses_the_wrong_setting(self, codec_name, encoder):
        """A version for the run's identity; a table for a quality codec (or a quality for a
        table codec) refused in one line."""
        from qsearch.codecs.codec import EncoderSettings, encode

        assert isinstance(encoder.version(), str) and encoder.version()
        assert encoder.version() in EncoderSettings(codec=codec_name).describe() or (
            codec_name == "jpeg"
        )
        wrong = 50 if encoder.takes_tables else QTable.from_quality(50)
        with pytest.raises(QSearchError, match=f"codec {codec_name} takes"):
            encode(_photographs()[0], wrong, EncoderSettings(codec=codec_name))


@cache
def _photographs() -> list[np.ndarray]:
    from qsearch.images import read_rgb
    from qsearch.images.samples import sample_photos

    return [read_rgb(path)[:128, :160] for path in sample_photos()[:2]]


__all__ = ["CodecSuite"]
