"""Immutable JPEG quantization tables (luma + chroma), in natural row-major order.

Knows the IJG Annex K tables and libjpeg's quality scaling, zigzag order, the cjpeg
``-qtables`` text format, JSON, and Pillow's ``qtables=`` form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.tables.jpegfile import JPEG_SUFFIXES, file_tables

IJG_QUALITIES = tuple(range(5, 100, 5))
"""The reference sweep: IJG qualities 5, 10, ..., 95."""
"""Files whose own tables are read as a table (``--qtable``, ``--base``)."""
TABLE_NAMES = ("luma", "chroma")

# ITU-T T.81 Annex K, tables K.1 and K.2, natural order (libjpeg's std_luminance_quant_tbl).
IJG_LUMA = np.array(
    [
        16,
        11,
        10,
        16,
        24,
        40,
        51,
        61,
        12,
        12,
        14,
        19,
        26,
        58,
        60,
        55,
        14,
        13,
        16,
        24,
        40,
        57,
        69,
        56,
        14,
        17,
        22,
        29,
        51,
        87,
        80,
        62,
        18,
        22,
        37,
        56,
        68,
        109,
        103,
        77,
        24,
        35,
        55,
        64,
        81,
        104,
        113,
        92,
        49,
        64,
        78,
        87,
        103,
        121,
        120,
        101,
        72,
        92,
        95,
        98,
        112,
        100,
        103,
        99,
    ],
    dtype=np.int64,
).reshape(8, 8)
IJG_CHROMA = np.full((8, 8), 99, dtype=np.int64)
IJG_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def _zigzag_order() -> np.ndarray:
    """Natural (row-major) index of each zigzag position, as libjpeg's jpeg_natural_order."""
    cells = [(r, c) for r in range(8) for c in range(8)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[1] if (rc[0] + rc[1]) % 2 == 0 else rc[0]))
    return np.array([r * 8 + c for r, c in cells], dtype=np.int64)


ZIGZAG = _zigzag_order()
"""``ZIGZAG[k]`` is the natural index of the k-th coefficient in zigzag order."""


def to_zigzag(table: np.ndarray) -> np.ndarray:
    """64 values in zigzag order from an 8x8 natural-order table."""
    return np.asarray(table).reshape(64)[ZIGZAG]


def from_zigzag(values: np.ndarray) -> np.ndarray:
    """8x8 natural-order table from 64 values in zigzag order."""
    table = np.empty(64, dtype=np.int64)
    table[ZIGZAG] = np.asarray(values)
    return table.reshape(8, 8)


def quality_scale(quality: int) -> int:
    """libjpeg's jpeg_quality_scaling: IJG quality 1..100 to a percentage scale factor."""
    quality = min(max(int(quality), 1), 100)
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def scale_table(base: np.ndarray, scale_percent: int) -> np.ndarray:
    """libjpeg's jpeg_add_quant_table with force_baseline: rounded, clamped to 1..255."""
    return np.clip((np.asarray(base, dtype=np.int64) * scale_percent + 50) // 100, 1, 255)


def _validate(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.size != 64:
        raise QSearchError(f"{name} table has {array.size} values, expected 64")
    array = array.reshape(8, 8)
    if array.dtype.kind not in "iuf":
        raise QSearchError(f"{name} table holds non-numeric values ({array.dtype})")
    for (row, col), value in np.ndenumerate(array):
        if value != int(value):
            raise QSearchError(
                f"{name} table value {value} at row {row}, column {col} is not an integer"
            )
        if not 1 <= value <= 255:
            raise QSearchError(
                f"{name} table value {int(value)} at row {row}, column {col} is outside 1..255"
            )
    return array.astype(np.int64)


@dataclass(frozen=True, eq=False)
class QTable:
    """A baseline JPEG quantization table pair; hashable, so it serves as a cache key."""

    luma: np.ndarray
    chroma: np.ndarray

    def __post_init__(self):
        for name in TABLE_NAMES:
            array = _validate(name, getattr(self, name))
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_quality(cls, quality: int) -> QTable:
        """The tables libjpeg writes for ``quality`` (1..100), baseline-clamped."""
        number = isinstance(quality, (int, float, np.number)) and not isinstance(quality, bool)
        if not number or quality != int(quality) or not 1 <= quality <= 100:
            raise QSearchError(f"IJG quality {quality!r} is not an integer in 1..100")
        return IJG.at(int(quality))

    @classmethod
    def from_vector(cls, values) -> QTable:
        """From 128 natural-order values (luma then chroma), or 64 used for both."""
        values = np.asarray(values)
        if values.size == 64:
            return cls(values, values)
        if values.size != 128:
            raise QSearchError(f"a table pair needs 64 or 128 values, got {values.size}")
        return cls(values[:64], values[64:])

    @classmethod
    def from_text(cls, text: str, source: str = "qtable") -> QTable:
        """Parse the cjpeg ``-qtables`` format: whitespace/comma separated integers, ``#`` comments."""
        tokens = re.sub(r"#[^\n]*", " ", text).replace(",", " ").split()
        values = []
        for token in tokens:
            try:
                values.append(int(token))
            except ValueError:
                raise QSearchError(
                    f"{source}: value {token!r} (number {len(values) + 1}) is not an integer"
                ) from None
        if len(values) == 64:
            raise QSearchError(
                f"{source}: holds one table (64 values); cjpeg -qtables would use it for luma only "
                "and keep its own chroma table, so qsearch does not guess: write it twice (luma, "
                "then chroma) for both"
            )
        if len(values) != 128:
            raise QSearchError(f"{source}: has {len(values)} values, expected 128 (luma, chroma)")
        try:
            return cls.from_vector(values)
        except QSearchError as error:
            raise QSearchError(f"{source}: {error}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "qtable") -> QTable:
        """Parse ``{"luma": [...64], "chroma": [...64]}`` (flat or 8x8 nested)."""
        try:
            data = json.loads(text)
            return cls(np.asarray(data["luma"]), np.asarray(data["chroma"]))
        except (ValueError, KeyError, TypeError) as error:
            raise QSearchError(
                f"{source}: not a JSON table pair with 'luma' and 'chroma' ({error})"
            ) from None
        except QSearchError as error:
            raise QSearchError(f"{source}: {error}") from None

    @classmethod
    def load(cls, path) -> QTable:
        """Read a ``.json`` table pair, a cjpeg ``-qtables`` text file, or the tables a JPEG
        file carries (what a camera or a pipeline already writes)."""
        path = Path(path)
        if path.suffix.lower() in JPEG_SUFFIXES:
            return cls.from_jpeg(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise QSearchError(f"{path}: cannot read table file ({error})") from None
        if path.suffix.lower() == ".json":
            return cls.from_json(text, str(path))
        return cls.from_text(text, str(path))

    @classmethod
    def from_jpeg(cls, path: Path) -> QTable:
        """The luma and chroma tables a JPEG file carries (natural order)."""
        tables = file_tables(path)
        if len(tables) < 2:
            raise QSearchError(f"{path}: holds one table (a grayscale JPEG): no chroma table")
        return cls(np.asarray(tables[0]), np.asarray(tables[1]))

    @classmethod
    def from_pillow(cls, quantization: dict) -> QTable:
        """From Pillow's ``Image.quantization`` (natural order); one table means luma = chroma."""
        luma = quantization[0]
        return cls(np.asarray(luma), np.asarray(quantization.get(1, luma)))

    # -- export ---------------------------------------------------------------------
    def to_vector(self) -> np.ndarray:
        """128 values, natural order, luma then chroma."""
        return np.concatenate([self.luma.ravel(), self.chroma.ravel()])

    def to_pillow(self) -> list[list[int]]:
        """Pillow's ``qtables=`` argument (natural order, as libjpeg's jpeg_add_quant_table takes)."""
        return [self.luma.ravel().tolist(), self.chroma.ravel().tolist()]

    def to_text(self, comment: str | None = None) -> str:
        """cjpeg ``-qtables`` text: luma table then chroma table, 8 rows of 8, natural order."""
        lines = [f"# {line}" for line in (comment or "").splitlines()]
        for name in TABLE_NAMES:
            lines.append(f"# {name}")
            lines += [" ".join(f"{v:3d}" for v in row) for row in getattr(self, name)]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """JSON ``{"luma": [...], "chroma": [...]}`` (natural order)."""
        return json.dumps({name: getattr(self, name).tolist() for name in TABLE_NAMES})

    def save(self, path, comment: str | None = None) -> None:
        """Write a cjpeg ``-qtables`` text file (or JSON for ``.json``), atomically."""
        path = Path(path)
        write_text(
            path, self.to_json() if path.suffix.lower() == ".json" else self.to_text(comment)
        )

    # -- value semantics --------------------------------------------------------------
    @property
    def key(self) -> str:
        """A short stable identifier of the table pair (hex of the 128 bytes)."""
        return bytes(self.to_vector().astype(np.uint8)).hex()

    def __eq__(self, other) -> bool:
        return isinstance(other, QTable) and np.array_equal(self.to_vector(), other.to_vector())

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"QTable(luma_dc={self.luma[0, 0]}, chroma_dc={self.chroma[0, 0]}, key={self.key[:12]}…)"


@dataclass(frozen=True, eq=False)
class TableFamily:
    """Base tables at quality 50 (values may exceed 255 before scaling, as in mozjpeg)."""

    name: str
    luma: np.ndarray
    chroma: np.ndarray

    def at(self, quality: int) -> QTable:
        """The baseline tables libjpeg writes for these bases at ``quality`` (1..100)."""
        scale = quality_scale(quality)
        return QTable(scale_table(self.luma, scale), scale_table(self.chroma, scale))

    def __repr__(self) -> str:
        return self.name


IJG = TableFamily("ijg", IJG_LUMA, IJG_CHROMA)
