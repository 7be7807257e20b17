"""Figures pooled over images (COCO mAP, mean IoU), as the report's bootstraps see them.

A mean over images is resampled by averaging per-image values; a pooled figure is not a mean,
so its per-image figures are records (matches, pixel counts) and a resample recomputes the
figure from the records it draws, each weighted by how often it was drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from qsearch.tasks.coco import PooledAP
from qsearch.tasks.masks import pooled_iou


class Pool(Protocol):
    """A pooled figure of fixed records for any weighting of the images (None: each once)."""

    def __call__(self, weights: np.ndarray | None = None) -> float:
        """The figure with image i counted ``weights[i]`` times."""
        ...


def _ap(index: int) -> Callable[[list[dict]], Pool]:
    def build(records: list[dict]) -> Pool:
        figure = PooledAP(records)

        def value(weights: np.ndarray | None = None) -> float:
            return figure(weights)[index]

        return value

    return build


def _iou(records: list[dict]) -> Pool:
    def value(weights: np.ndarray | None = None) -> float:
        return pooled_iou(records, weights)[0]

    return value


POOLED: dict[str, tuple[str, Callable[[list[dict]], Pool]]] = {
    "map": ("map", _ap(0)),
    "ap50": ("map", _ap(1)),
    "map_ref": ("map_ref", _ap(0)),
    "ap50_ref": ("map_ref", _ap(1)),
    "miou": ("miou", _iou),
    "miou_ref": ("miou_ref", _iou),
}
"""metric -> (the per-image key holding its records, records -> pooled figure)."""


def is_pooled(metric: str) -> bool:
    """Whether ``metric`` is pooled over images (its per-image figures are records)."""
    return metric in POOLED


def pool(metric: str, figures: dict) -> Pool:
    """The pooled figure of ``metric`` over the records in per-image ``figures``."""
    source, build = POOLED[metric]
    return build(figures[source])


__all__ = ["POOLED", "Pool", "is_pooled", "pool"]
