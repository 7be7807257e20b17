"""The encoders a user could pick: libjpeg-turbo with a table (the default, and the encoder
tables are searched under), mozjpeg's trellis quantisation with a table, jpegli, WebP, AVIF and
JPEG XL at a quality. Each writes the complete file its library writes; each file is decoded by
its format's reference decoder in this process (JPEG files by libjpeg-turbo, whatever wrote
them, so every JPEG is judged on the pixels a stock decoder shows).

Chosen packages: ``jpeglib`` (ships libjpeg builds, mozjpeg 4.0.3 among them, and takes custom
tables and trellis flags), ``pyjpegli`` (Google's jpegli), Pillow's own WebP and AVIF (libwebp,
libavif in its wheels) and ``pillow-jxl-plugin`` (libjxl through Pillow's API, so JPEG XL is read
and written like the other Pillow formats; imagecodecs would bring 60 other codecs along).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import simplejpeg
from PIL import Image, features

from qsearch.errors import QSearchError
from qsearch.registry import Registry
from qsearch.tables.qtable import QTable

EXTRA = "pip install 'qsearch[codecs]'"


@dataclass(frozen=True)
class Encoder:
    """One encoder: ``takes_tables`` (a QTable) or a quality (an int on its own scale)."""

    name: str
    takes_tables: bool
    lossless_options: tuple[str, ...] = ()
    """Which of optimize, progressive, smallest it honours."""
    subsampling: bool = False
    """Whether it honours the chroma subsampling setting (else it decides its own)."""

    def version(self) -> str:
        """Library and version, for the run's identity."""
        raise NotImplementedError

    def available(self) -> None:
        """Refuse, in one line saying what to install, when the package is missing."""

    def encode(self, image: np.ndarray, setting, settings, metadata: dict | None = None) -> bytes:
        """One RGB uint8 image as a complete file (``metadata``: EXIF and ICC bytes to keep,
        where the format carries them)."""
        raise NotImplementedError

    def decode(self, data: bytes, out: np.ndarray | None = None) -> np.ndarray:
        """Decode with the format's reference decoder, RGB uint8."""
        if out is None:
            with Image.open(io.BytesIO(data)) as opened:
                return np.asarray(opened.convert("RGB"))
        out[...] = self.decode(data)
        return out


def decode_jpeg(data: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """libjpeg-turbo's accurate DCT and fancy upsampling (what stock decoders show)."""
    return simplejpeg.decode_jpeg(
        data, colorspace="RGB", fastdct=False, fastupsample=False, buffer=out
    )


class LibjpegTurbo(Encoder):
    """libjpeg-turbo through Pillow, the table written into the file."""

    def version(self) -> str:
        return f"libjpeg-turbo {features.version('libjpeg_turbo') or features.version('jpg')}"

    def encode(self, image, setting, settings, metadata=None) -> bytes:
        variants = (
            [(True, False), (True, True)]
            if settings.smallest
            else [(settings.optimize, settings.progressive)]
        )
        return min(
            (
                _pillow_jpeg(image, setting, settings.subsampling, o, p, metadata)
                for o, p in variants
            ),
            key=len,
        )

    def decode(self, data, out=None):
        return decode_jpeg(data, out)


def _pillow_jpeg(image, qtable: QTable, subsampling, optimize, progressive, metadata) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer,
        "JPEG",
        qtables=qtable.to_pillow(),
        subsampling=subsampling,
        optimize=optimize,
        progressive=progressive,
        **{k: v for k, v in (metadata or {}).items() if v},
    )
    return buffer.getvalue()


SAMPLING = {"4:2:0": ((2, 2), (1, 1), (1, 1)), "4:2:2": ((2, 1), (1, 1), (1, 1)),
            "4:4:4": ((1, 1), (1, 1), (1, 1))}  # fmt: skip


class MozJPEG(Encoder):
    """mozjpeg 4.0.3 (through jpeglib) with trellis quantisation of AC and DC coefficients
    under the given table and optimised Huffman tables. mozjpeg always writes its own
    progressive scan script (jpeglib cannot clear it), so a baseline file is the same quantised
    coefficients written losslessly by libjpeg-turbo as one sequential scan with optimised
    Huffman tables (the decoded pixels are identical); ``progressive`` keeps mozjpeg's own
    scans. The table in the file is the table given."""

    BUILD = "mozjpeg403"
    BASELINE_WRITER = "turbo210"
    _lock = threading.Lock()

    def available(self) -> None:
        try:
            import jpeglib  # noqa: F401
        except ImportError:
            raise QSearchError(f"codec mozjpeg needs the jpeglib package: {EXTRA}") from None

    def version(self) -> str:
        jpeglib = metadata.version("jpeglib")
        return (
            f"mozjpeg 4.0.3 (jpeglib {jpeglib}), trellis, baseline files written by libjpeg-turbo"
        )

    def encode(self, image, setting, settings, metadata=None) -> bytes:
        scans = [False, True] if settings.smallest else [settings.progressive]
        with self._lock:  # jpeglib's library build is process-wide state
            files = [self._write(image, setting, settings.subsampling, p) for p in scans]
        return with_metadata(min(files, key=len), metadata)

    def _write(self, image, qtable: QTable, subsampling: str, progressive: bool) -> bytes:
        import jpeglib

        handle, path = tempfile.mkstemp(suffix=".jpg", dir=_scratch())
        os.close(handle)
        try:
            jpeglib.version.set(self.BUILD)
            picture = jpeglib.from_spatial(np.ascontiguousarray(image))
            picture.samp_factor = np.array(SAMPLING[subsampling])
            tables = np.stack([qtable.luma, qtable.chroma]).astype(np.uint16)
            flags = ["+TRELLIS_QUANT", "+TRELLIS_QUANT_DC", "+OPTIMIZE_CODING"]
            picture.write_spatial(path, qt=tables, flags=flags)
            if not progressive:
                with jpeglib.version(self.BASELINE_WRITER):
                    jpeglib.read_dct(path).write_dct(path, flags=["+OPTIMIZE_CODING"])
            with open(path, "rb") as written:
                return written.read()
        finally:
            os.unlink(path)

    def decode(self, data, out=None):
        return decode_jpeg(data, out)


def with_metadata(jpeg: bytes, metadata: dict | None) -> bytes:
    """``jpeg`` with an EXIF (APP1) and an ICC (APP2, chunked as the ICC spec says) segment
    after its SOI marker, for encoders that cannot write them themselves."""
    exif = (metadata or {}).get("exif") or b""
    icc = (metadata or {}).get("icc_profile") or b""
    segments = []
    if exif:
        body = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        segments.append(_segment(0xE1, body))
    chunks = [icc[i : i + 65519] for i in range(0, len(icc), 65519)]
    for number, chunk in enumerate(chunks, 1):
        segments.append(_segment(0xE2, b"ICC_PROFILE\x00" + bytes([number, len(chunks)]) + chunk))
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def _segment(marker: int, body: bytes) -> bytes:
    if len(body) + 2 > 0xFFFF:
        raise QSearchError(f"a metadata segment of {len(body)} bytes does not fit in a JPEG marker")
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def _scratch() -> str | None:
    """A folder for the files jpeglib can only write to a path (memory-backed where possible)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class Jpegli(Encoder):
    """Google's jpegli at a quality (its adaptive quantisation chooses the tables)."""

    def available(self) -> None:
        try:
            import pyjpegli  # noqa: F401
        except ImportError:
            raise QSearchError(f"codec jpegli needs the pyjpegli package: {EXTRA}") from None

    def version(self) -> str:
        return f"jpegli (pyjpegli {metadata.version('pyjpegli')})"

    def encode(self, image, setting, settings, metadata=None) -> bytes:
        import pyjpegli

        height, width = image.shape[:2]
        return pyjpegli.encode(np.ascontiguousarray(image).tobytes(), width, height, int(setting))

    def decode(self, data, out=None):
        return decode_jpeg(data, out)


@dataclass(frozen=True)
class PillowFormat(Encoder):
    """WebP or AVIF through Pillow at a quality (each library's own speed default)."""

    pillow_format: str = ""
    """Pillow's name of the format (``WEBP``)."""

    def available(self) -> None:
        if not features.check(self.name):
            raise QSearchError(f"codec {self.name}: this Pillow has no {self.name} support")

    def version(self) -> str:
        return f"lib{self.name} {features.version(self.name)}"

    def encode(self, image, setting, settings, metadata=None) -> bytes:
        options = {"subsampling": settings.subsampling} if self.subsampling else {}
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, self.pillow_format, quality=int(setting), **options)
        return buffer.getvalue()


@dataclass(frozen=True)
class JpegXL(PillowFormat):
    """JPEG XL through Pillow's API (libjxl from pillow-jxl-plugin, which registers the format
    when imported)."""

    def available(self) -> None:
        try:
            import pillow_jxl  # noqa: F401
        except ImportError:
            raise QSearchError(f"codec jxl needs the pillow-jxl-plugin package: {EXTRA}") from None

    def version(self) -> str:
        return f"libjxl (pillow-jxl-plugin {metadata.version('pillow-jxl-plugin')})"

    def encode(self, image, setting, settings, metadata=None) -> bytes:
        import pillow_jxl  # noqa: F401  (registers the format)

        return super().encode(image, setting, settings, metadata)

    def decode(self, data, out=None):
        import pillow_jxl  # noqa: F401

        return super().decode(data, out)


ENCODERS = Registry("qsearch.codecs")
"""Every codec by its ``--codec`` name: these, and those other packages register under the
``qsearch.codecs`` entry-point group (an :class:`Encoder` instance each)."""
for _encoder in (
    LibjpegTurbo("jpeg", True, ("optimize", "progressive", "smallest"), True),
    MozJPEG("mozjpeg", True, ("progressive", "smallest"), True),
    Jpegli("jpegli", False),
    PillowFormat("webp", False, pillow_format="WEBP"),
    PillowFormat("avif", False, subsampling=True, pillow_format="AVIF"),
    JpegXL("jxl", False, pillow_format="JXL"),
):
    ENCODERS.register(_encoder.name)(_encoder)


def get_encoder(name: str) -> Encoder:
    """The encoder of ``name``, refused in one line when unknown or not installed."""
    found = ENCODERS[name]
    if not isinstance(found, Encoder) or found.name != name:
        raise QSearchError(f"codec {name!r}: its entry point gives no Encoder named {name!r}")
    found.available()
    return found


__all__ = ["ENCODERS", "Encoder", "decode_jpeg", "get_encoder", "with_metadata"]
