"""What an accuracy figure is, said once by the evaluator that reports it: a
:class:`MetricSpec` gives its direction, bounds, scale and (for a figure pooled over images,
like COCO mAP) how a resample recomputes it. The study, the reports and the searchers read
figures only through their specs, so a plugin evaluator with a new metric works end to end.

Pooled figures: a mean over images is resampled by averaging per-image values; a pooled
figure is not a mean, so its per-image figures are records (matches, pixel counts) and a
resample recomputes the figure from the records it draws, each weighted by how often it was
drawn."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from qsearch.errors import QSearchError

FigureOfRecords = Callable[[np.ndarray | None], tuple[float, ...]]
"""The pooled figures of a list of records, with image i counted ``weights[i]`` times."""


@dataclass(frozen=True)
class Pooling:
    """How a pooled figure is recomputed: ``figures(records)`` gives a :data:`FigureOfRecords`
    over the per-image records kept under ``records``; the figure is its ``index``-th value
    (mAP and AP50 share their matches)."""

    records: str
    figures: Callable[[list[dict]], FigureOfRecords]
    index: int = 0


@dataclass(frozen=True)
class MetricSpec:
    """One accuracy figure: its name, whether higher is better, its bounds (a hypervolume needs
    a figure in [0, 1]), whether it is a log of a probability (a share of it is then a
    difference of logs: the mean log-probability, a KL divergence) and how it is pooled over
    images (None: a mean of per-image values)."""

    name: str
    higher_is_better: bool = True
    bounds: tuple[float, float] | None = None
    log_scale: bool = False
    pooled: Pooling | None = None
    description: str = ""
    self_referenced: bool = False
    """The network judged against itself (agreement, similarity): the uncompressed images score
    perfectly by construction and every JPEG moves the output a little, so a share is taken of
    what the finest quality of the IJG sweep keeps on the same images, which a table can reach."""

    @property
    def sign(self) -> int:
        """+1 where higher is better, -1 where lower is: multiply to compare."""
        return 1 if self.higher_is_better else -1

    @property
    def in_unit_interval(self) -> bool:
        """Whether the figure lies in [0, 1] (a hypervolume is defined)."""
        return self.bounds is not None and self.bounds[0] >= 0 and self.bounds[1] <= 1

    def operating_target(self, uncompressed: float, fraction: float) -> float:
        """The value at which a user keeps ``fraction`` of the uncompressed accuracy: for a log
        of a probability, ``ln(fraction)`` worse than uncompressed (the network keeps that share
        of its probability, geometric mean); else ``fraction`` x uncompressed (or uncompressed /
        ``fraction`` where lower is better)."""
        if self.log_scale:
            return uncompressed + self.sign * math.log(fraction)
        return fraction * uncompressed if self.higher_is_better else uncompressed / fraction

    def share_of_uncompressed(self, value: float, uncompressed: float) -> float:
        """The fraction of the uncompressed accuracy that ``value`` keeps: the inverse of
        :meth:`operating_target`; NaN where the uncompressed figure is 0."""
        if self.log_scale:
            return math.exp(self.sign * (value - uncompressed))
        numerator, denominator = (
            (value, uncompressed) if self.higher_is_better else (uncompressed, value)
        )
        return numerator / denominator if denominator else float("nan")


_DECLARED: dict[str, MetricSpec] = {}


def declare(specs: Iterable[MetricSpec]) -> None:
    """Make ``specs`` known by name; one name with two different meanings is refused."""
    for spec in specs:
        known = _DECLARED.setdefault(spec.name, spec)
        if known != spec:
            raise QSearchError(f"metric {spec.name!r} is declared twice, differently")


_RECORDED: dict[str, MetricSpec] = {}
"""Specs read back from runs (:func:`remember`): what a run's figures mean without loading the
evaluator that reported them; a declared spec wins over them."""


def metric_spec(name: str) -> MetricSpec:
    """The spec of metric ``name``, as the evaluator that reports it declares it, or as a run
    read back recorded it; evaluator plugins are loaded to find one not seen yet."""
    if name not in _DECLARED and name in _RECORDED:
        return _RECORDED[name]
    if name not in _DECLARED:
        _load_evaluators()
    if name not in _DECLARED:
        raise QSearchError(
            f"metric {name!r} is declared by no evaluator (known: {', '.join(sorted(_DECLARED))})"
        )
    return _DECLARED[name]


def _load_evaluators() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group="qsearch.evaluators"):
        point.load()  # an evaluator plugin declares its metrics as it is imported


def spec_record(spec: MetricSpec) -> dict:
    """``spec`` as plain data, for a run to record: its pooling by the records it reads (the
    function that pools them stays with the evaluator that declares it)."""
    pooled = None if spec.pooled is None else [spec.pooled.records, spec.pooled.index]
    return {"name": spec.name, "higher_is_better": spec.higher_is_better,
            "bounds": None if spec.bounds is None else list(spec.bounds),
            "log_scale": spec.log_scale, "pooled": pooled, "description": spec.description,
            "self_referenced": spec.self_referenced}  # fmt: skip


def remember(records: Iterable[dict]) -> None:
    """Make the specs a run recorded (:func:`spec_record`) known where no evaluator declared
    them yet. A pooled figure is recomputed by its evaluator's function, loaded when first
    needed: never a mean in its place."""
    for record in records:
        pooled = record.get("pooled")
        _RECORDED[record["name"]] = MetricSpec(
            record["name"], bool(record["higher_is_better"]),
            None if record.get("bounds") is None else tuple(record["bounds"]),
            bool(record["log_scale"]),
            None if pooled is None else Pooling(pooled[0], _DeclaredPooling(record["name"]),
                                                int(pooled[1])),
            str(record.get("description", "")), bool(record.get("self_referenced", False)),
        )  # fmt: skip


@dataclass(frozen=True)
class _DeclaredPooling:
    """The pooling function of ``name`` as its evaluator declares it, found when called."""

    name: str

    def __call__(self, records: list[dict]) -> FigureOfRecords:
        if self.name not in _DECLARED:
            _load_evaluators()
        declared = _DECLARED.get(self.name)
        if declared is None or declared.pooled is None:
            raise QSearchError(
                f"metric {self.name!r}: a pooled figure whose evaluator is not installed here"
            )
        return declared.pooled.figures(records)


def metric_sign(metric: str) -> int:
    """+1 for a metric where higher is better, -1 where lower is (KL): multiply to compare."""
    return metric_spec(metric).sign


def operating_target(metric: str, uncompressed: float, fraction: float) -> float:
    """:meth:`MetricSpec.operating_target` of ``metric``: floors, reports and searchers all read
    targets here, so they can never disagree."""
    return metric_spec(metric).operating_target(uncompressed, fraction)


def share_of_uncompressed(metric: str, value: float, uncompressed: float) -> float:
    """:meth:`MetricSpec.share_of_uncompressed` of ``metric``."""
    return metric_spec(metric).share_of_uncompressed(value, uncompressed)


class PooledFigures:
    """The pooled figures of one list of records for any weighting of the images; the values
    on a set of bootstrap draws are remembered, since every interval of a report draws the
    same resamples."""

    def __init__(self, figures: FigureOfRecords, count: int):
        self.count = count
        self._figures = figures
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


_BUILT: OrderedDict[tuple[int, int], tuple[list[dict], PooledFigures]] = OrderedDict()
KEPT = 512
"""Record lists whose pooled figures are kept (a report asks for the same curves many times)."""


def is_pooled(metric: str) -> bool:
    """Whether ``metric`` is pooled over images (its per-image figures are records)."""
    return metric_spec(metric).pooled is not None


def has_figures(metric: str, figures: dict) -> bool:
    """Whether per-image ``figures`` hold what ``metric`` is recomputed from."""
    pooling = metric_spec(metric).pooled
    return (pooling.records if pooling is not None else metric) in figures


def pool(metric: str, figures: dict) -> Pool:
    """The pooled figure of ``metric`` over the records in per-image ``figures`` (built once
    per list of records)."""
    pooling = metric_spec(metric).pooled
    if pooling is None:
        raise QSearchError(f"metric {metric!r} is a mean over images, not pooled")
    records = figures[pooling.records]
    key = (id(pooling.figures), id(records))
    found = _BUILT.get(key)
    if found is None or found[0] is not records:
        built = PooledFigures(pooling.figures(records), len(records))
        found = _BUILT[key] = (records, built)
        while len(_BUILT) > KEPT:
            _BUILT.popitem(last=False)
    return Pool(found[1], pooling.index)


__all__ = [
    "MetricSpec",
    "Pool",
    "PooledFigures",
    "Pooling",
    "declare",
    "has_figures",
    "is_pooled",
    "metric_sign",
    "metric_spec",
    "operating_target",
    "remember",
    "pool",
    "share_of_uncompressed",
    "spec_record",
]
