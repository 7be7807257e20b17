"""Baselines every comparison needs: uniform random, sorted random, and the IJG sweep."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from qsearch.errors import QSearchError
from qsearch.search.searcher import Option, Searcher
from qsearch.search.space import MonotoneSpace


class RandomSearcher(Searcher):
    """Uniform random tables in the space."""

    name = "random"
    batch_size = 10

    def _propose(self, n: int) -> np.ndarray:
        return self.space.sample(self.rng, n)


class SortedSearcher(Searcher):
    """Random tables monotone along the zigzag order (the classic strong baseline), luma and
    chroma drawn apart. ``high`` caps the steps: ``high=64`` searches the high-quality end
    (IJG quality 75 and up has no step above 61), where users operate."""

    name = "sorted"
    default_space = "monotone"
    batch_size = 10

    low = Option(int, 1, 255, help="the smallest step drawn", default=1)
    high = Option(int, 1, 255, help="the largest step drawn (at least low)", default=255)

    def _check_options(self) -> None:
        if self.high < self.low:
            raise QSearchError(f"searcher sorted: option high={self.high} is below low={self.low}")

    def _setup(self) -> None:
        self._monotone = MonotoneSpace()

    def _propose(self, n: int) -> np.ndarray:
        values = self.rng.integers(self.low, self.high + 1, size=(n, self._monotone.dim))
        tables = [self._monotone.to_qtable(x) for x in values]
        return np.stack([self.space.from_qtable(table) for table in tables])


def sweep_order(
    low: int = 1, high: int = 100, first: Iterable[int] = range(5, 100, 5)
) -> list[int]:
    """The usual 5..95 sweep first, then the remaining qualities by successive halving."""
    order = [q for q in first if low <= q <= high]
    step = 5
    while step > 1:
        step = max(1, step // 2)
        order += [q for q in range(low, high + 1, step) if q not in order]
    return order + [q for q in range(low, high + 1) if q not in order]


class QualitySearcher(Searcher):
    """The quality sweep of the space's table family (IJG's own tables by default)."""

    name = "quality"
    default_space = "quality"
    batch_size = 10
    state_attributes = ("position",)

    def _setup(self) -> None:
        self.position = 0
        self._order = sweep_order()

    def _propose(self, n: int) -> np.ndarray:
        qualities = [self._order[(self.position + i) % len(self._order)] for i in range(n)]
        self.position += n
        return np.stack([self.space.from_qtable(self.space.family.at(q)) for q in qualities])
