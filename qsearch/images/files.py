"""Reading one image file: its pixels as RGB uint8 and what it carries besides them (EXIF,
ICC), and its name within a set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from qsearch.errors import QSearchError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}

MIN_SIDE = 8  # smaller images cannot hold one 8x8 block per chroma plane: refused


def is_image(path: Path) -> bool:
    """A visible file with an image suffix (a LICENSE or notes beside the images are not)."""
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")
"""Pillow's modes for 16-bit samples (a 16-bit PNG opens as ``I``): full scale is 65535."""


def read_rgb(path: Path) -> np.ndarray:
    """Decode any supported image to RGB uint8 as a viewer displays it: the EXIF orientation
    applied (boxes and masks are drawn on the displayed picture), 16-bit samples scaled from
    their full range (a dark image stays dark), grayscale, RGBA and CMYK converted."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = ImageOps.exif_transpose(opened)
            if image.mode in SIXTEEN_BIT:
                wide = np.asarray(image, dtype=np.float64)
                image = Image.fromarray(np.round(wide * 255.0 / 65535.0).astype(np.uint8))
            if image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            ):
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            rgb = np.asarray(image.convert("RGB"))
    except (
        OSError,
        SyntaxError,
        ValueError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ) as error:
        raise QSearchError(f"{path}: not a readable image ({error})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise QSearchError(
            f"{path}: {rgb.shape[1]}x{rgb.shape[0]} px is too small (minimum {MIN_SIDE} px a side)"
        )
    return rgb


ORIENTATION = 0x0112


def read_metadata(path: Path) -> dict[str, bytes]:
    """What a file carries besides pixels that a re-encoded copy should keep: its EXIF block
    and its ICC profile. The pixels it goes with are read upright (:func:`read_rgb`), so the
    block's orientation says "as stored" (1): the copy displays as its source did."""
    try:
        with Image.open(path) as opened:
            info = opened.info
            exif = info.get("exif") or b""
            tags = opened.getexif()
            if exif and tags.get(ORIENTATION, 1) != 1:
                tags[ORIENTATION] = 1
                exif = tags.tobytes()
            return {"exif": exif, "icc_profile": info.get("icc_profile") or b""}
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as error:
        raise QSearchError(f"{path}: not a readable image ({error})") from None


def relative_name(folder: Path, path: Path) -> str:
    """An image's name in its set: its path below the folder (``bees/same.jpg``)."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def content_digest(path: Path) -> str:
    """sha1 of a file's bytes: which image this is, whatever its name."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()
