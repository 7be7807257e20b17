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
    """Lossless encoder choices; tables are only ever compared under identical settings."""

    subsampling: str = "4:2:0"
    optimize: bool = False
    progressive: bool = False

    def __post_init__(self):
        if self.subsampling not in SUBSAMPLINGS:
            raise QSearchError(f"subsampling {self.subsampling!r} is not one of {', '.join(SUBSAMPLINGS)}")

    def describe(self) -> str:
        extras = [name for name in ("optimize", "progressive") if getattr(self, name)]
        return "+".join([self.subsampling, *extras])


def encode(image: np.ndarray, qtable: QTable, settings: EncoderSettings = EncoderSettings()) -> bytes:
    """One RGB uint8 image to a complete baseline JPEG file that carries ``qtable`` in its DQT."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer, "JPEG", qtables=qtable.to_pillow(), subsampling=settings.subsampling,
        optimize=settings.optimize, progressive=settings.progressive,
    )
    return buffer.getvalue()


def decode(data: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """Decode to RGB uint8 with libjpeg-turbo's accurate DCT and fancy upsampling."""
    return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, buffer=out)


class Codec:
    """Encode and decode image sets with one table across a persistent thread pool."""

    def __init__(self, settings: EncoderSettings = EncoderSettings(), threads: int | None = None):
        self.settings = settings
        self.threads = threads or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="qsearch-codec")

    def _chunks(self, count: int) -> list[range]:
        step = max(1, -(-count // (4 * self.threads)))
        return [range(start, min(start + step, count)) for start in range(0, count, step)]

    def sizes(self, images, qtable: QTable) -> np.ndarray:
        """Bytes of each image's JPEG file (no decoding): the cheap half of an evaluation."""
        sizes = np.empty(len(images), dtype=np.int64)

        def work(indices):
            for i in indices:
                sizes[i] = len(encode(images[i], qtable, self.settings))

        list(self._pool.map(work, self._chunks(len(images))))
        return sizes

    def roundtrip(self, images, qtable: QTable, indices=None, transform=None):
        """Encode then decode ``images[indices]``; returns (decoded images, bytes per image).

        With ``transform`` (decoded image -> fixed-size array) or a stacked uint8 input, the
        result is one stacked array (decoded in place when there is no transform).
        """
        indices = np.arange(len(images)) if indices is None else np.asarray(indices)
        sizes = np.empty(len(indices), dtype=np.int64)
        in_place = transform is None and isinstance(images, np.ndarray)
        decoded = np.empty((len(indices), *images.shape[1:]), np.uint8) if in_place else [None] * len(indices)

        def work(positions):
            for k in positions:
                data = encode(images[indices[k]], qtable, self.settings)
                sizes[k] = len(data)
                if in_place:
                    decode(data, out=decoded[k])
                else:
                    decoded[k] = decode(data) if transform is None else transform(decode(data))

        list(self._pool.map(work, self._chunks(len(indices))))
        if transform is not None:
            decoded = np.stack(decoded)
        return decoded, sizes

    def close(self) -> None:
        self._pool.shutdown()
