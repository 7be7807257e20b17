"""Figures pooled over images (COCO mAP, mean IoU), as the report's bootstraps see them.

A mean over images is resampled by averaging per-image values; a pooled figure is not a mean,
so its per-image figures are records (matches, pixel counts) and a resample recomputes the
figure from the records it draws, each weighted by how often it was drawn."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qsearch.tasks.coco import PooledAP
from qsearch.tasks.masks import pooled_iou


class PooledFigures:
    """The pooled figures of one list of records (mAP and AP50 share their matches; mean IoU),
    for any weighting of the images; the values on a set of bootstrap draws are remembered,
    since every interval of a report draws the same resamples."""

    def __init__(self, kind: str, records: list[dict]):
        self.count = len(records)
        if kind == "ap":
            self._figures: Callable[[np.ndarray | None], tuple[float, ...]] = PooledAP(records)
        else:
            self._figures = _mean_iou(records)
        self._drawn: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, weights: np.ndarray | None = None) -> tuple[float, ...]:
        """The figures with image i counted ``weights[i]`` times (default once)."""
        return self._figures(weights)

    def over(self, draws: np.ndarray) -> np.ndarray:
        """(resamples, figures): the figures on each row of image indices ``draws``."""
        found = self._drawn.get(id(draws))
        if found is None or found[0] is not draws:
            values = np.array([self(np.bincount(row, minlength=self.count)) for row in draws])
            found = self._drawn[id(draws)] = (draws, values)
        return found[1]


def _mean_iou(records: list[dict]) -> Callable[[np.ndarray | None], tuple[float, ...]]:
    def figures(weights: np.ndarray | None = None) -> tuple[float, ...]:
        return (pooled_iou(records, weights)[0],)

    return figures


@dataclass(frozen=True)
class Pool:
    """One pooled figure (``index`` of its :class:`PooledFigures`)."""

    figures: PooledFigures
    index: int

    def __call__(self, weights: np.ndarray | None = None) -> float:
        """The figure with image i counted ``weights[i]`` times (default once)."""
        return self.figures(weights)[self.index]

    def over(self, draws: np.ndarray) -> np.ndarray:
        """The figure on each row of image indices ``draws``."""
        return self.figures.over(draws)[:, self.index]


POOLED: dict[str, tuple[str, str, int]] = {
    "map": ("map", "ap", 0),
    "ap50": ("map", "ap", 1),
    "map_ref": ("map_ref", "ap", 0),
    "ap50_ref": ("map_ref", "ap", 1),
    "miou": ("miou", "iou", 0),
    "miou_ref": ("miou_ref", "iou", 0),
}
"""metric -> (the per-image key holding its records, the kind of figure, its index)."""
_BUILT: OrderedDict[tuple[str, int], tuple[list[dict], PooledFigures]] = OrderedDict()
KEPT = 512
"""Record lists whose pooled figures are kept (a report asks for the same curves many times)."""


def is_pooled(metric: str) -> bool:
    """Whether ``metric`` is pooled over images (its per-image figures are records)."""
    return metric in POOLED


def pool(metric: str, figures: dict) -> Pool:
    """The pooled figure of ``metric`` over the records in per-image ``figures`` (built once
    per list of records)."""
    source, kind, index = POOLED[metric]
    records = figures[source]
    key = (kind, id(records))
    found = _BUILT.get(key)
    if found is None or found[0] is not records:
        found = _BUILT[key] = (records, PooledFigures(kind, records))
        while len(_BUILT) > KEPT:
            _BUILT.popitem(last=False)
    return Pool(found[1], index)


__all__ = ["POOLED", "Pool", "PooledFigures", "is_pooled", "pool"]
