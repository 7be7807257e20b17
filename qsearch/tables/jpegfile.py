"""The tables a JPEG file carries, read from its markers by Pillow (what a camera or a pipeline
already writes). Below :mod:`qsearch.tables.qtable`, which reads a table pair from such a file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from qsearch.errors import QSearchError

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def file_tables(path: Path) -> tuple[tuple[int, ...], ...]:
    """Every table a JPEG file carries, by slot (natural order): one for a grayscale file."""
    try:
        with Image.open(path) as opened:
            if opened.format != "JPEG":
                raise QSearchError(f"{path}: not a JPEG file ({opened.format})")
            tables = opened.quantization  # type: ignore[attr-defined]  # JPEG files have it; Image.open is typed as any image
    except (OSError, UnidentifiedImageError) as error:
        raise QSearchError(f"{path}: not a readable JPEG file ({error})") from None
    return tuple(tuple(int(v) for v in tables[slot]) for slot in sorted(tables))


__all__ = ["JPEG_SUFFIXES", "file_tables"]
