"""The real libjpeg-turbo codec: encode through Pillow with the table written into the file,
decode with simplejpeg; whole image sets run across threads (both release the GIL)."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image

from qsearch.errors import QSearchError
from qsearch.qtable import QTable

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")


@dataclass(frozen=True)
class EncoderSettings:
    """Lossless encoder choices; tables are only ever compared under identical settings.
    ``smallest`` writes both an optimised baseline and a progressive file and keeps the
    smaller (the decoded pixels are the same): progressive wins on larger files, baseline on
    small ones, where the extra scans' headers outweigh what they save."""

    subsampling: str = "4:2:0"
    optimize: bool = False
    progressive: bool = False
    smallest: bool = False

    def __post_init__(self):
        if self.subsampling not in SUBSAMPLINGS:
            raise QSearchError(
                f"subsampling {self.subsampling!r} is not one of {', '.join(SUBSAMPLINGS)}"
            )

    def describe(self) -> str:
        """One line: subsampling and the lossless options on."""
        extras = [name for name in ("optimize", "progressive", "smallest") if getattr(self, name)]
        return "+".join([self.subsampling, *extras])


def encode(
    image: np.ndarray,
    qtable: QTable,
    settings: EncoderSettings = EncoderSettings(),
    metadata: dict | None = None,
) -> bytes:
    """One RGB uint8 image to a complete JPEG file that carries ``qtable`` in its DQT;
    ``metadata`` (``exif``, ``icc_profile`` bytes) is written beside it, untouched."""
    variants = (
        [(True, False), (True, True)]
        if settings.smallest
        else [(settings.optimize, settings.progressive)]
    )
    return min(
        (
            _encode(image, qtable, settings.subsampling, optimize, progressive, metadata or {})
            for optimize, progressive in variants
        ),
        key=len,
    )


def _encode(
    image, qtable: QTable, subsampling: str, optimize: bool, progressive: bool, metadata: dict
) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer,
        "JPEG",
        qtables=qtable.to_pillow(),
        subsampling=subsampling,
        optimize=optimize,
        progressive=progressive,
        **{k: v for k, v in metadata.items() if v},
    )
    return buffer.getvalue()


def decode(data: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """Decode to RGB uint8 with libjpeg-turbo's accurate DCT and fancy upsampling."""
    return simplejpeg.decode_jpeg(
        data, colorspace="RGB", fastdct=False, fastupsample=False, buffer=out
    )


class Codec:
    """Encode and decode image sets with one table across a persistent thread pool."""

    def __init__(self, settings: EncoderSettings = EncoderSettings(), threads: int | None = None):
        self.settings = settings
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="qsearch-codec")

    def _chunks(self, count: int) -> list[range]:
        step = max(1, -(-count // (4 * self.threads)))
        return [range(start, min(start + step, count)) for start in range(0, count, step)]

    def _map(self, work, count: int) -> None:
        list(self._pool.map(work, self._chunks(count)))

    def encode_all(self, images, qtable: QTable) -> list[bytes]:
        """Every image's complete JPEG file: sizes first, the cheap half of an evaluation."""
        files: list[bytes] = [b""] * len(images)

        def work(indices):
            for i in indices:
                files[i] = encode(images[i], qtable, self.settings)

        self._map(work, len(images))
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
                    decode(files[k], out=decoded[k])
                else:
                    decoded[k] = (
                        decode(files[k]) if transform is None else transform(decode(files[k]))
                    )

        self._map(work, len(files))
        return decoded

    def roundtrip(self, images, qtable: QTable, transform=None):
        """Encode then decode every image; returns (decoded images, bytes per image)."""
        files = self.encode_all(images, qtable)
        shape = images.shape[1:] if isinstance(images, np.ndarray) else None
        decoded = self.decode_all(files, shape, transform)
        return decoded, np.array([len(f) for f in files], dtype=np.int64)

    def close(self) -> None:
        """Stop the threads."""
        self._pool.shutdown()
