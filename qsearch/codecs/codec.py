"""The real codecs: libjpeg-turbo by default (encoded through Pillow with the table written into
the file, decoded with simplejpeg), or another encoder of :mod:`qsearch.codecs.encoders`; whole image
sets run across threads (the libraries release the GIL)."""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from qsearch.codecs.encoders import ENCODERS, decode_jpeg, get_encoder
from qsearch.codecs.sizes import check_size, shrink
from qsearch.errors import QSearchError
from qsearch.tables.qtable import QTable

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")


@dataclass(frozen=True)
class EncoderSettings:
    """The encoder and its lossless choices; tables are only ever compared under identical
    settings. ``codec`` names the encoder (:data:`qsearch.codecs.encoders.ENCODERS`: libjpeg-turbo
    ``jpeg`` by default). ``smallest`` writes both an optimised baseline and a progressive file
    and keeps the smaller (the decoded pixels are the same): progressive wins on larger files,
    baseline on small ones, where the extra scans' headers outweigh what they save. ``size`` is
    the size each image is sent at (:mod:`qsearch.codecs.sizes`): the file holds the image
    shrunk to it, and bits stay counted over the stored pixels."""

    subsampling: str = "4:2:0"
    optimize: bool = False
    progressive: bool = False
    smallest: bool = False
    codec: str = "jpeg"
    size: str = "stored"

    def __post_init__(self):
        check_size(self.size)
        if self.subsampling not in SUBSAMPLINGS:
            raise QSearchError(
                f"subsampling {self.subsampling!r} is not one of {', '.join(SUBSAMPLINGS)}"
            )
        encoder = get_encoder(self.codec)
        for option in ("optimize", "progressive", "smallest"):
            if getattr(self, option) and option not in encoder.lossless_options:
                raise QSearchError.about(
                    f"{{{option}}} does not go with {{codec}} {self.codec} "
                    f"({self.codec} takes: {', '.join(encoder.lossless_options) or 'none of them'})"
                )
        if self.subsampling != "4:2:0" and not encoder.subsampling:
            raise QSearchError.about(
                f"{{subsampling}} {self.subsampling} does not go with {{codec}} {self.codec}, "
                "which chooses its own chroma sampling"
            )

    def with_size(self, size: str) -> EncoderSettings:
        """The same settings sending images at ``size`` (``network`` resolved to a side)."""
        return dataclasses.replace(self, size=size)

    def with_codec(self, codec: str) -> EncoderSettings:
        """The same lossless choices under another codec (refused where it cannot honour them)."""
        return dataclasses.replace(self, codec=codec)

    @property
    def encoder(self):
        """The :class:`qsearch.codecs.encoders.Encoder` these settings name."""
        return ENCODERS[self.codec]

    def describe(self) -> str:
        """One line: the codec and its version (unless libjpeg-turbo), subsampling and the
        lossless options on."""
        extras = [name for name in ("optimize", "progressive", "smallest") if getattr(self, name)]
        sampling = self.subsampling if self.encoder.subsampling else "its own chroma sampling"
        line = "+".join([sampling, *extras])
        if self.size != "stored":
            line += f", sent at {self.size}"
        return line if self.codec == "jpeg" else f"{self.encoder.version()}, {line}"


def encode(
    image: np.ndarray,
    setting,
    settings: EncoderSettings = EncoderSettings(),
    metadata: dict | None = None,
) -> bytes:
    """One RGB uint8 image to a complete file: with a table codec, a JPEG that carries
    ``setting`` (a QTable) in its DQT; with a quality codec, ``setting`` is its quality.
    ``metadata`` (``exif``, ``icc_profile`` bytes) is written beside it, untouched."""
    encoder = settings.encoder
    if isinstance(setting, QTable) != encoder.takes_tables:
        wanted = "a quantization table" if encoder.takes_tables else "a quality"
        raise QSearchError(f"codec {settings.codec} takes {wanted}, not {setting!r}")
    return encoder.encode(shrink(image, settings.size), setting, settings, metadata)


def decode(data: bytes, out: np.ndarray | None = None, settings=None) -> np.ndarray:
    """Decode to RGB uint8 with the format's reference decoder (JPEG: libjpeg-turbo's accurate
    DCT and fancy upsampling, whatever wrote the file)."""
    if settings is None or settings.codec == "jpeg":
        return decode_jpeg(data, out)
    return settings.encoder.decode(data, out)


class Codec:
    """Encode and decode image sets with one table across a persistent thread pool."""

    def __init__(self, settings: EncoderSettings = EncoderSettings(), threads: int | None = None):
        self.settings = settings
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="qsearch-codec")
        self.encode_seconds = float("nan")

    def _chunks(self, count: int) -> list[range]:
        step = max(1, -(-count // (4 * self.threads)))
        return [range(start, min(start + step, count)) for start in range(0, count, step)]

    def _map(self, work, count: int) -> None:
        list(self._pool.map(work, self._chunks(count)))

    def encode_all(self, images, setting) -> list[bytes]:
        """Every image's complete file (``setting``: a table, or a quality codec's quality):
        sizes first, the cheap half of an evaluation. Its wall time is kept in
        :attr:`encode_seconds` (encoders compared by speed, measured in the same run)."""
        return self.encode_each(images, [setting] * len(images))

    def encode_each(self, images, settings: list) -> list[bytes]:
        """Image i's complete file with ``settings[i]`` (per-image rate control gives every
        image its own table); timed as :meth:`encode_all`."""
        files: list[bytes] = [b""] * len(images)

        def work(indices):
            for i in indices:
                files[i] = encode(images[i], settings[i], self.settings)

        start = time.perf_counter()
        self._map(work, len(images))
        self.encode_seconds = time.perf_counter() - start
        return files

    def decode_all(
        self, files: list[bytes], shape=None, transform=None, out: np.ndarray | None = None
    ):
        """Decode files to one stacked array: in place when every image has ``shape`` (into
        ``out`` when given, e.g. pinned memory), through ``transform`` (decoded image ->
        fixed-size array) otherwise; a list with neither."""
        decoded: np.ndarray | list
        if out is not None:
            decoded = out
        else:
            decoded = (
                np.empty((len(files), *shape), np.uint8)
                if shape is not None
                else [None] * len(files)
            )

        def work(indices):
            for k in indices:
                if shape is not None and transform is None:
                    decode(files[k], decoded[k], self.settings)
                else:
                    image = decode(files[k], settings=self.settings)
                    decoded[k] = image if transform is None else transform(image)

        self._map(work, len(files))
        return decoded

    def roundtrip(self, images, setting, transform=None):
        """Encode then decode every image; returns (decoded images, bytes per image)."""
        files = self.encode_all(images, setting)
        shape = images.shape[1:] if isinstance(images, np.ndarray) else None
        decoded = self.decode_all(files, shape, transform)
        return decoded, np.array([len(f) for f in files], dtype=np.int64)

    def close(self) -> None:
        """Stop the threads."""
        self._pool.shutdown()
