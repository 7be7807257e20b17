"""The Pareto front of a set of trials: what no other trial beats in both fewer bits and a
better accuracy. The study keeps it while it searches; reports read it back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from qsearch.search.metrics import metric_sign
from qsearch.search.trial import Trial


def non_dominated(bpp, accuracy) -> np.ndarray:
    """Indices of the points no other point beats in both fewer bits and more accuracy."""
    points = np.column_stack([np.asarray(bpp, float), -np.asarray(accuracy, float)])
    if len(points) == 0:
        return np.array([], dtype=int)
    front = NonDominatedSorting().do(points, only_non_dominated_front=True)
    return np.sort(front)


def pareto_front(trials: Sequence[Trial], metric: str, rate: str = "bpp") -> list[Trial]:
    """The complete trials no other complete trial beats in both fewer ``rate`` and a better
    ``metric`` (its sign decides which way is better), in increasing rate then number: the one
    front of a set of trials, for the study, a run folder, the ladder and the benchmarks."""
    complete = [t for t in trials if t.state == "complete"]
    sign = metric_sign(metric)
    kept = non_dominated(
        [t.metrics[rate] for t in complete], [sign * t.metrics[metric] for t in complete]
    )
    return sorted((complete[i] for i in kept), key=lambda t: (t.metrics[rate], t.number))


__all__ = ["non_dominated", "pareto_front"]
