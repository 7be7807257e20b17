"""Encoding (and decoding) a fixed stack of images in worker processes. Pillow's JPEG encoder
holds the GIL, so threads cannot scale it: on a GPU machine the codec, not the network,
becomes the cost. The images are put once in shared memory; each call sends the table and
index ranges only, the workers run the same libjpeg-turbo encoder (the exact table is written
in every file) and decoder, and write the decoded pixels into a second shared array."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.tables.qtable import QTable

_shared: dict[str, Any] = {}


def _attach(
    names: tuple[str, str], shape: tuple[int, ...], dtype: str, settings: EncoderSettings
) -> None:
    memories = [shared_memory.SharedMemory(name=name) for name in names]
    _shared.update(
        memories=memories,
        images=np.ndarray(shape, dtype, memories[0].buf),
        decoded=np.ndarray(shape, dtype, memories[1].buf),
        settings=settings,
    )


def _encode_range(start: int, stop: int, setting, decoding: bool) -> list[bytes]:
    images, decoded, settings = _shared["images"], _shared["decoded"], _shared["settings"]
    setting = QTable.from_vector(setting) if isinstance(setting, list) else setting
    files = [encode(images[i], setting, settings) for i in range(start, stop)]
    if decoding:
        for i, data in zip(range(start, stop), files):
            decode(data, decoded[i], settings)
    return files


class ProcessEncoder:
    """Encodes one (N, H, W, 3) uint8 stack with any table in ``processes`` worker processes,
    and decodes the files there too when asked (into :attr:`decoded`)."""

    def __init__(self, images: np.ndarray, settings: EncoderSettings, processes: int):
        self.count = len(images)
        self._memories = [
            shared_memory.SharedMemory(create=True, size=max(1, images.nbytes)) for _ in range(2)
        ]
        np.ndarray(images.shape, images.dtype, self._memories[0].buf)[:] = images
        self._pinned: int | None = None
        self.decoded = np.ndarray(images.shape, images.dtype, self._memories[1].buf)
        """The decoded images of the last :meth:`roundtrip` (shared memory, overwritten by the next)."""
        names = (self._memories[0].name, self._memories[1].name)
        self._pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_attach,
            initargs=(names, images.shape, images.dtype.str, settings),
        )
        step = max(1, -(-self.count // (2 * processes)))
        self._ranges = [
            (start, min(start + step, self.count)) for start in range(0, self.count, step)
        ]

    def _chunks(self, setting, decoding: bool) -> Iterator[list[bytes]]:
        table = setting.to_vector().tolist() if isinstance(setting, QTable) else setting
        return self._pool.map(
            _encode_range, *zip(*[(a, b, table, decoding) for a, b in self._ranges])
        )

    def encode_all(self, qtable: QTable) -> list[bytes]:
        """Every image's complete JPEG file, in order."""
        return [data for chunk in self._chunks(qtable, decoding=False) for data in chunk]

    def roundtrip(self, qtable: QTable) -> Iterator[list[bytes]]:
        """The files chunk by chunk, in order, as the workers finish them; each chunk's images
        are decoded in :attr:`decoded` when it is yielded (so the network can start on them)."""
        return self._chunks(qtable, decoding=True)

    def pin(self) -> None:
        """Page-lock the decoded images' shared memory for fast, asynchronous copies to a GPU."""
        import torch  # only the parent, on a GPU machine: the workers never load torch

        address = self.decoded.ctypes.data
        try:
            if int(torch.cuda.cudart().cudaHostRegister(address, self.decoded.nbytes, 0)) == 0:
                self._pinned = address
        except (RuntimeError, TypeError, AttributeError):  # pinning only speeds copies up
            pass

    def close(self) -> None:
        """Stop the workers and free the shared memory."""
        self._pool.shutdown()
        if self._pinned is not None:
            import torch

            torch.cuda.cudart().cudaHostUnregister(self._pinned)
        del self.decoded
        for memory in self._memories:
            memory.close()
            memory.unlink()
