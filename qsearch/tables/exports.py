"""A table in the form each consumer takes it, each file saying which run, table and operating
point it comes from where the format has room for a comment.

- ``cjpeg``: ``cjpeg -qtables FILE`` text (natural order, luma then chroma).
- ``json``: ``{"luma": [...], "chroma": [...]}`` in natural order, with its provenance.
- ``pillow``: a Python literal for ``Image.save(..., qtables=...)`` (natural order).
- ``imagemagick``: the quantization-table XML that ``-define jpeg:q-table=FILE`` reads (slot 0
  luma, slot 1 chroma); ImageMagick scales it by ``-quality``, and ``-quality 50`` keeps it as is.
- ``c``: a C header with both tables in natural and in zigzag order.
- ``dqt``: a minimal valid JPEG (16x16 grey) whose DQT segment carries the tables, for encoders
  that copy tables from a stream (nvJPEG's ``nvjpegEncoderParamsCopyQuantizationTables``).
- ``numpy``: an ``.npy`` array of shape (2, 8, 8), luma then chroma, natural order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from qsearch.atomic import write_bytes, write_text
from qsearch.tables.qtable import TABLE_NAMES, QTable, to_zigzag


def _comment_lines(note: str, prefix: str) -> list[str]:
    return [f"{prefix}{line}".rstrip() for line in note.splitlines()]


def cjpeg(table: QTable, note: str) -> bytes:
    """cjpeg ``-qtables`` text."""
    return table.to_text(comment=note).encode()


def json_pair(table: QTable, note: str) -> bytes:
    """JSON table pair with its provenance."""
    data = {name: getattr(table, name).tolist() for name in TABLE_NAMES}
    return (json.dumps({"note": note, **data}, indent=1) + "\n").encode()


def pillow(table: QTable, note: str) -> bytes:
    """A Python literal: ``qtables = [...]`` for ``Image.save(path, "JPEG", qtables=qtables)``."""
    rows = ",\n".join(f"    {values}" for values in table.to_pillow())
    lines = [
        *_comment_lines(note, "# "),
        "# Image.save(path, 'JPEG', qtables=qtables, subsampling=...)",
    ]
    return ("\n".join(lines) + f"\nqtables = [\n{rows},\n]\n").encode()


def imagemagick(table: QTable, note: str) -> bytes:
    """ImageMagick's quantization-table XML (``-quality 50 -define jpeg:q-table=FILE``)."""
    tables = []
    for slot, name in enumerate(TABLE_NAMES):
        rows = getattr(table, name)
        levels = ",\n".join("      " + ", ".join(f"{v:3d}" for v in row) for row in rows)
        tables.append(
            f'  <table slot="{slot}" alias="{name}">\n'
            f"    <description>{name} (natural order)</description>\n"
            f'    <levels width="8" height="8" divisor="1">\n{levels}\n    </levels>\n  </table>'
        )
    comment = note.replace("--", "- -")
    return (
        '<?xml version="1.0"?>\n'
        f"<!-- {comment}\n     magick IN -quality 50 -define jpeg:q-table=THIS_FILE OUT.jpg"
        " (quality 50: the tables exactly) -->\n"
        "<quantization-tables>\n" + "\n".join(tables) + "\n</quantization-tables>\n"
    ).encode()


def c_header(table: QTable, note: str) -> bytes:
    """A C header: both tables in natural and in zigzag order."""

    def array(name: str, values) -> str:
        rows = [", ".join(f"{v:3d}" for v in values[i : i + 8]) for i in range(0, 64, 8)]
        return f"static const unsigned int {name}[64] = {{\n  " + ",\n  ".join(rows) + "\n};"

    lines = ["/*", *_comment_lines(note, " * "), " *",
             " * libjpeg's jpeg_add_quant_table(cinfo, slot, table, 100, TRUE) takes the NATURAL",
             " * (row-major) order: QSEARCH_LUMA_NATURAL in slot 0, QSEARCH_CHROMA_NATURAL in slot 1",
             " * (scale_factor 100 keeps the values). The ZIGZAG arrays are the order of the DQT",
             " * segment in the file, which some hardware encoders take.", " */",
             "#ifndef QSEARCH_QTABLES_H", "#define QSEARCH_QTABLES_H", ""]  # fmt: skip
    for name in TABLE_NAMES:
        values = getattr(table, name)
        lines += [array(f"QSEARCH_{name.upper()}_NATURAL", values.ravel().tolist()), ""]
        lines += [array(f"QSEARCH_{name.upper()}_ZIGZAG", to_zigzag(values).tolist()), ""]
    return ("\n".join(lines) + "#endif\n").encode()


def dqt(table: QTable, note: str) -> bytes:
    """A 16x16 mid-grey baseline JPEG (libjpeg-turbo, 4:2:0) carrying the tables, with the note
    in a COM segment."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 128, 128)).save(
        buffer, "JPEG", qtables=table.to_pillow(), subsampling="4:2:0", comment=note.encode()
    )
    return buffer.getvalue()


def numpy_pair(table: QTable, note: str) -> bytes:
    """``.npy`` of shape (2, 8, 8): luma, chroma, natural order (no room for a note)."""
    buffer = io.BytesIO()
    np.save(buffer, np.stack([table.luma, table.chroma]).astype(np.uint16))
    return buffer.getvalue()


FORMATS: dict[str, tuple[Callable[[QTable, str], bytes], str]] = {
    "cjpeg": (cjpeg, ".txt"),
    "json": (json_pair, ".json"),
    "pillow": (pillow, ".py"),
    "imagemagick": (imagemagick, ".xml"),
    "c": (c_header, ".h"),
    "dqt": (dqt, ".jpg"),
    "numpy": (numpy_pair, ".npy"),
}
"""Format name -> (writer, usual suffix)."""

USAGE = {
    "cjpeg": "cjpeg -qtables FILE IN > OUT.jpg",
    "imagemagick": "magick IN -quality 50 -define jpeg:q-table=FILE OUT.jpg (only -quality 50 "
    "writes these tables exactly: another quality scales them)",
    "pillow": "Image.save(OUT, qtables=<the list in FILE>), no quality= beside it",
}
"""How a stock tool takes each format where a flag matters, said when it is written."""


def export(table: QTable, format: str, path: Path, note: str = "") -> Path:
    """Write ``table`` in ``format`` to ``path`` (atomically); returns the path."""
    writer, _ = FORMATS[format]
    data = writer(table, note)
    if format in ("dqt", "numpy"):
        write_bytes(path, data)
    else:
        write_text(path, data.decode())
    return Path(path)


__all__ = ["FORMATS", "USAGE", "export"]
