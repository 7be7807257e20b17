"""Early rejection: stop scoring a table as soon as a confidence bound shows that it cannot
enter the front, beat the reference curve, or reach a single-objective floor.

A :class:`Pruner` is configured once and handed to a study (as optuna's pruners are); before
each batch the study binds it to what a new table must beat, giving a :class:`Rejection`
that evaluators consult between batches of images.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qsearch.errors import QSearchError

Point = tuple[float, float, tuple[float, ...]]
"""(rate, accuracy signed higher-is-better, per-image accuracies signed the same way)."""


@dataclass(frozen=True)
class Rejection:
    """When an evaluation may stop early: the table cannot enter the current front, and
    cannot reach ``floor`` either when one is given (single-objective searches).

    A table is judged against each front point of no greater rate on the same images
    (paired: most images agree, so the difference is far less noisy than either accuracy),
    by an upper confidence bound on its full-set accuracy, ``z`` standard errors above the
    estimate (benchmarks/early_rejection.py measures what each width saves).
    """

    metric: str
    front: tuple[Point, ...]
    floor: float | None = None
    rate: str = "bpp"
    z: float = 1.0
    min_images: int = 50
    min_sd: float = 0.05

    def _upper(self, values: np.ndarray, total: int, rival: np.ndarray | None) -> float:
        """Upper confidence bound on the full-set mean of a table whose first values are known,
        paired with ``rival``'s per-image values when given."""
        seen = len(values)
        differences = values - rival[:seen] if rival is not None else values
        spread = max(float(np.std(differences, ddof=1)), self.min_sd)
        rest = float(np.mean(differences)) + self.z * spread / math.sqrt(seen)
        if rival is not None:
            rest += float(np.mean(rival[seen:]))
        return (float(np.sum(values)) + (total - seen) * rest) / total

    def hopeless(self, rate: float, values: np.ndarray, total: int) -> bool:
        """Whether a table of this rate, whose first images scored ``values`` (signed), cannot matter."""
        seen = len(values)
        if seen < min(self.min_images, total) or seen >= total:
            return False
        rivals = [
            (accuracy, np.asarray(per_image))
            for point_rate, accuracy, per_image in self.front
            if point_rate <= rate
        ]
        if not rivals:
            return False
        if self.floor is not None and self._upper(values, total, None) > self.floor:
            return False
        return any(
            self._upper(values, total, per_image) <= accuracy for accuracy, per_image in rivals
        )


class BasePruner(ABC):
    """The contract of an early-rejection rule, as optuna's ``BasePruner``: configured once in
    ``__init__``, handed to a study, and bound before each batch."""

    @abstractmethod
    def bind(
        self,
        metric: str,
        rate: str,
        front: Sequence[Point],
        floor: float | None,
        rivals: Sequence[Point] = (),
    ) -> Rejection | None:
        """Called by the study before each batch of evaluations (the rule is fixed for the
        batch, so parallel and serial runs agree).

        Args:
            metric: the accuracy figure judged, signed higher-is-better in the points.
            rate: the rate figure (``bpp``).
            front: the current front's points, each with its per-image accuracies.
            floor: a single-objective search's absolute accuracy floor, or None.
            rivals: points every table must beat from the first trial on (the IJG curve).

        Returns:
            The :class:`Rejection` evaluators consult between batches of images, or None
            while there is nothing to beat.
        """

    @abstractmethod
    def get_params(self) -> dict:
        """What decides which trials are pruned (part of a run's identity, through ``repr``)."""


class Pruner(BasePruner):
    """The confidence-bound rule: a table stops once an upper bound on its full-set accuracy,
    ``z`` standard errors above the estimate and paired image by image, falls below a point of
    the front (or the reference curve) of no greater rate."""

    def __init__(self, z: float = 1.0):
        if not (isinstance(z, (int, float)) and math.isfinite(z) and z >= 0):
            raise QSearchError.about(f"{{z}} {z!r} must be a number >= 0")
        self.z = float(z)

    def bind(
        self,
        metric: str,
        rate: str,
        front: Sequence[Point],
        floor: float | None,
        rivals: Sequence[Point] = (),
    ) -> Rejection | None:
        """The rule for the next batch: beat the current front and the ``rivals`` (reference
        points every table must beat from the first trial on, e.g. the IJG curve:
        :func:`qsearch.report.curves.rival_points`), or None while there is nothing to beat."""
        points = tuple(front) + tuple(rivals)
        return Rejection(metric, points, floor, rate, self.z) if points else None

    def get_params(self) -> dict:
        """What decides which trials are pruned (part of a run's identity)."""
        return {"z": self.z}

    def __repr__(self) -> str:
        return f"Pruner(z={self.z})"
