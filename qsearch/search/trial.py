"""Immutable trial records and the objective that turns metrics into what searchers minimise."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from qsearch.errors import QSearchError
from qsearch.search.metrics import metric_sign, operating_target
from qsearch.tables.qtable import QTable


@dataclass(frozen=True)
class Objective:
    """The accuracy metric on the front, and how single-objective searchers scalarise.

    By default a single-objective searcher maximises compression (minimises ``rate``) subject
    to ``metric >= floor``; with ``relative`` the floor is a fraction of the uncompressed
    value. With ``weight`` it minimises ``rate - weight * metric`` instead.
    """

    metric: str = "top1"
    rate: str = "bpp"
    floor: float = 0.95
    relative: bool = True
    weight: float | None = None
    penalty: float = 100.0

    def __post_init__(self):
        if (
            not isinstance(self.floor, (int, float))
            or isinstance(self.floor, bool)
            or not math.isfinite(self.floor)
        ):
            raise QSearchError.about(f"{{floor}} {self.floor!r} is not a number")
        if self.relative and not 0 < self.floor <= 1:
            raise QSearchError.about(
                f"{{floor}} {self.floor} is a fraction of the uncompressed accuracy: give a value in "
                "(0, 1], or an absolute floor ({relative})"
            )
        if self.weight is not None and not (math.isfinite(self.weight) and self.weight > 0):
            raise QSearchError.about(f"{{weight}} {self.weight} must be a number above 0")

    def as_dict(self) -> dict:
        """Plain data for the run's record."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Objective:
        """The objective a run recorded."""
        return cls(**data)

    def accuracy(self, metrics: dict) -> float:
        """The metric, signed so that higher is better."""
        if self.metric not in metrics:
            raise QSearchError(
                f"metric {self.metric!r} is not reported by this evaluator ({', '.join(metrics)})"
            )
        value = float(metrics[self.metric])
        return self._sign * value

    def absolute_floor(self, reference: dict | None) -> float:
        """The floor, signed like :meth:`accuracy` (a relative floor is the operating target
        at that fraction of the uncompressed value: :func:`operating_target`)."""
        if not self.relative:
            return self.floor
        if reference is None:
            raise QSearchError(
                "a relative accuracy floor needs the evaluator's uncompressed reference"
            )
        uncompressed = self._sign * self.accuracy(reference)  # in the metric's own units
        return self._sign * operating_target(self.metric, uncompressed, self.floor)

    @property
    def _sign(self) -> int:
        return metric_sign(self.metric)

    def values(self, metrics: dict) -> tuple[float, float]:
        """(rate, -accuracy): both minimised, for multi-objective searchers."""
        return float(metrics[self.rate]), -self.accuracy(metrics)

    def scalar(self, metrics: dict, reference: dict | None) -> float:
        """The single value that single-objective searchers minimise."""
        rate, accuracy = float(metrics[self.rate]), self.accuracy(metrics)
        if self.weight is not None:
            return rate - self.weight * accuracy
        shortfall = self.absolute_floor(reference) - accuracy
        return rate + self.penalty * shortfall if shortfall > 0 else rate


@dataclass(frozen=True)
class Trial:
    """One evaluated table: what was measured, what the searcher is told, and provenance."""

    number: int
    qtable: QTable
    metrics: dict
    value: float
    values: tuple[float, float]
    searcher: str = ""
    worker: str = ""
    state: str = "complete"
    per_image: dict | None = dataclasses.field(default=None, repr=False)
    """Image by image: the accuracy metric and bytes (paired comparisons, bootstrap)."""

    def __repr__(self) -> str:
        figures = ", ".join(
            f"{k}={v:.4g}"
            for k, v in self.metrics.items()
            if isinstance(v, float) and k != "seconds"
        )
        return f"Trial(number={self.number}, {self.state}, {figures}, {self.qtable!r})"
