"""Search spaces map a searcher's integer vector to a valid QTable and back. The space owns
rounding and clipping, so no searcher can propose an invalid table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from qsearch.registry import Registry
from qsearch.tables.bands import shift_bands, zigzag_bands
from qsearch.tables.qtable import IJG, QTable, TableFamily, from_zigzag, to_zigzag

SPACES = Registry("qsearch.spaces")


class SearchSpace(ABC):
    """Integer box ``low <= x <= high`` with a map to tables. ``family`` is the table family
    the space is built around and searchers start from (IJG unless ``--base`` says otherwise)."""

    name: ClassVar[str] = ""
    dim: int
    low: np.ndarray
    high: np.ndarray
    family: TableFamily = IJG

    def clip(self, x) -> np.ndarray:
        """Round and clip any real vector (or batch of vectors) into the space."""
        return np.clip(np.rint(np.asarray(x, dtype=np.float64)), self.low, self.high).astype(
            np.int64
        )

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` points drawn uniformly from the box."""
        return rng.integers(self.low, self.high + 1, size=(n, self.dim))

    def to_qtable(self, x) -> QTable:
        """The table of a point (rounded and clipped into the space first)."""
        return self._to_qtable(self.clip(x))

    @abstractmethod
    def _to_qtable(self, x: np.ndarray) -> QTable:
        """The table of an integer point inside the box."""

    @abstractmethod
    def from_qtable(self, qtable: QTable) -> np.ndarray:
        """The point of the space whose table is nearest ``qtable`` (exact where representable)."""

    def contains(self, qtable: QTable) -> bool:
        """Whether the space can express ``qtable`` exactly."""
        return self.to_qtable(self.from_qtable(qtable)) == qtable

    def __repr__(self) -> str:
        family = "" if self.family is IJG else f", family={self.family!r}"
        return f"{type(self).__name__}(dim={self.dim}{family})"


@SPACES.register()
class FullSpace(SearchSpace):
    """Every coefficient of both tables: 128 integers in 1..255."""

    name = "full"

    def __init__(self, family: TableFamily = IJG):
        self.family = family
        self.dim = 128
        self.low, self.high = np.ones(128, np.int64), np.full(128, 255, np.int64)

    def _to_qtable(self, x):
        return QTable.from_vector(x)

    def from_qtable(self, qtable):
        """The 128 values themselves."""
        return qtable.to_vector()


@SPACES.register()
class QualitySpace(SearchSpace):
    """The quality scale of a table family: one integer in 1..100 (libjpeg's own tables by default)."""

    name = "quality"

    def __init__(self, family: TableFamily = IJG):
        self.family = family
        self.dim = 1
        self.low, self.high = np.array([1]), np.array([100])
        self._tables = np.stack([family.at(q).to_vector() for q in range(1, 101)])

    def _to_qtable(self, x):
        return self.family.at(int(x[0]))

    def from_qtable(self, qtable):
        """The quality whose table is nearest in log terms."""
        distance = np.abs(np.log(self._tables) - np.log(qtable.to_vector())).sum(1)
        return np.array([int(distance.argmin()) + 1])


@SPACES.register()
class BandSpace(SearchSpace):
    """Frequency-shaped family: per zigzag band, a log-scale of the family's quality-50 tables,
    for luma and chroma (a few integers; quarter-octave steps)."""

    name = "bands"

    def __init__(
        self, bands: int = 6, steps_per_octave: int = 4, octaves: int = 6, family: TableFamily = IJG
    ):
        self.family = family
        self.bands = zigzag_bands(bands)
        self.steps_per_octave = steps_per_octave
        self.dim = 2 * len(self.bands)
        span = steps_per_octave * octaves
        self.low, self.high = np.full(self.dim, -span), np.full(self.dim, span)
        self._base = np.stack([to_zigzag(family.luma), to_zigzag(family.chroma)]).astype(np.float64)

    def _steps(self, base: np.ndarray, level) -> np.ndarray:
        return np.clip(np.rint(base * 2.0 ** (np.asarray(level) / self.steps_per_octave)), 1, 255)

    def _to_qtable(self, x):
        zigzag = shift_bands(self._base, np.asarray(x) / self.steps_per_octave, self.bands)
        return QTable(from_zigzag(zigzag[0]), from_zigzag(zigzag[1]))

    def from_qtable(self, qtable):
        """Per band, the level whose steps are nearest in log terms (exact for the space's own tables)."""
        target = np.log(np.stack([to_zigzag(qtable.luma), to_zigzag(qtable.chroma)]))
        levels = np.arange(self.low[0], self.high[0] + 1)[:, None]
        x = []
        for table in range(2):
            for band in self.bands:
                candidates = np.log(self._steps(self._base[table, band][None, :], levels))
                x.append(levels[np.abs(candidates - target[table, band]).sum(1).argmin(), 0])
        return np.array(x, dtype=np.int64)


@SPACES.register()
class MonotoneSpace(FullSpace):
    """Zigzag-monotone tables: each table's 64 values, sorted, laid out along the zigzag."""

    name = "monotone"

    def _to_qtable(self, x):
        luma, chroma = np.sort(x[:64]), np.sort(x[64:])
        return QTable(from_zigzag(luma), from_zigzag(chroma))

    def from_qtable(self, qtable):
        """Each table's values sorted: the monotone table nearest in rank."""
        return np.concatenate([np.sort(to_zigzag(qtable.luma)), np.sort(to_zigzag(qtable.chroma))])


def make_space(name: str, **options) -> SearchSpace:
    """A registered space, e.g. ``make_space("bands", family=mozjpeg(4))``."""
    return SPACES[name](**options)
