"""The tables of JPEG files a user already has (what a camera or a pipeline writes): read them,
group a folder's files by table, and estimate each table's nearest IJG quality with the error of
that estimate (a table qsearch found is generally no IJG table at all: the error says how far)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError
from qsearch.tables.jpegfile import JPEG_SUFFIXES, file_tables
from qsearch.tables.qtable import IJG, QTable


@dataclass(frozen=True)
class QualityEstimate:
    """The IJG quality whose tables are nearest, and how near: the mean and largest
    |log2| ratio of the 128 steps (0 = exactly IJG's tables at that quality)."""

    quality: int
    mean_octaves: float
    max_octaves: float

    def describe(self) -> str:
        """One line."""
        if self.max_octaves == 0:
            return f"exactly IJG quality {self.quality}"
        return (
            f"nearest IJG quality {self.quality} (steps off by {self.mean_octaves:.2f} octaves on "
            f"average, {self.max_octaves:.2f} at most)"
        )


def nearest_quality(tables) -> QualityEstimate:
    """The IJG quality 1..100 whose tables are nearest in log terms (a QTable, or a file's
    tables by slot: luma only for a grayscale file)."""
    if isinstance(tables, QTable):
        tables = (tuple(tables.luma.ravel()), tuple(tables.chroma.ravel()))
    count = min(len(tables), 2)
    values = np.log2(np.concatenate([np.asarray(t, float) for t in tables[:count]]))
    candidates = np.log2(
        np.stack([IJG.at(q).to_vector()[: 64 * count] for q in range(1, 101)]).astype(float)
    )
    gaps = np.abs(candidates - values)
    best = int(gaps.mean(1).argmin())
    return QualityEstimate(best + 1, float(gaps[best].mean()), float(gaps[best].max()))


def inspect_files(target: Path) -> dict[tuple, list[Path]]:
    """A file's tables (by slot) -> the JPEG files under ``target`` (a file or a folder) that
    carry exactly those."""
    if not target.exists():
        raise QSearchError(f"{target}: no such file or folder")
    files = (
        sorted(p for p in target.rglob("*") if p.suffix.lower() in JPEG_SUFFIXES and p.is_file())
        if target.is_dir()
        else [target]
    )
    if not files:
        raise QSearchError(f"{target}: holds no JPEG file")
    groups: dict[tuple, list[Path]] = {}
    for path in files:
        groups.setdefault(file_tables(path), []).append(path)
    return groups


__all__ = ["QualityEstimate", "inspect_files", "nearest_quality"]
