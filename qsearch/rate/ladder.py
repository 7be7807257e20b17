"""The scale a per-image rule moves along: one table family at a list of IJG-style qualities
(IJG's tables, mozjpeg's presets, or a searched table scaled as IJG scales its base)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from qsearch.errors import QSearchError
from qsearch.tables.qtable import IJG, QTable, TableFamily

QUALITIES = (5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95, 100)
"""Fourteen steps: dense where most images settle (low qualities), up to the finest table."""


@dataclass(frozen=True, eq=False)
class Ladder:
    """The tables a rule chooses among, coarsest first: ``family`` at each of ``qualities``."""

    family: TableFamily = IJG
    qualities: tuple[int, ...] = QUALITIES

    def __post_init__(self):
        steps = self.qualities
        if len(steps) < 2 or any(not 1 <= q <= 100 for q in steps):
            raise QSearchError(f"qualities {list(steps)}: give at least two, each in 1..100")
        if list(steps) != sorted(set(steps)):
            raise QSearchError(f"qualities {list(steps)}: must rise, each once")

    def __len__(self) -> int:
        return len(self.qualities)

    def table(self, step: int) -> QTable:
        """The table at ``step`` (0 is the coarsest)."""
        return self.family.at(self.qualities[step])

    def tables(self) -> list[QTable]:
        """Every step's table, coarsest first."""
        return [self.table(step) for step in range(len(self))]

    def identity(self) -> dict[str, str]:
        """The family (its name and the digest of its base tables) and the qualities."""
        digest = hashlib.sha1(self.family.luma.tobytes() + self.family.chroma.tobytes())
        return {
            "family": f"{self.family.name}, bases sha1 {digest.hexdigest()[:16]}",
            "qualities": ",".join(map(str, self.qualities)),
        }


__all__ = ["QUALITIES", "Ladder"]
