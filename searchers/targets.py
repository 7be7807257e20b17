"""Tables chosen per operating point. Users pick one accuracy they accept (98% of the
uncompressed top-1, say) and want the fewest bits there; the best allocation of bits between
frequency bands is not the same at 0.6 bpp as at 2 bpp (this network's appetite for chroma
and its indifference to low-frequency luma grow with quality), so one table family swept over
quality cannot be best everywhere. This searcher spends its budget at the requested targets.

First it sweeps candidate families (IJG's and mozjpeg's presets) over a few qualities and, for
each target, starts from the family that reaches it with the fewest bits (judged on the smooth
signal: the median over families of the signal where their metric reaches the target). Then,
round by round and target by target, it evaluates the current table, probes every frequency band's
slope there (the band made finer and coarser: accuracy bought per bit, on a smooth signal such
as the mean log-probability of the true class) against the whole table's slope, moves each band
towards equal slopes, and shifts the whole table by the amount predicted to keep the signal at
the target. Every evaluated table enters one front, so the front is assembled from each
target's winners.

Targets are fractions of the uncompressed value of ``metric`` (top-1 with labels, else
similarity; absolute values with ``relative=False``); the ``signal`` (the mean log-probability of
the true class with labels, else similarity) stands for each target, so a noisy metric only
places the target and the smooth signal chooses the family and does the steering.
"""

from __future__ import annotations

import numpy as np

from qsearch.errors import QSearchError
from qsearch.search.metrics import metric_sign, operating_target
from qsearch.search.searcher import GenerationalSearcher, Option
from qsearch.search.trial import Trial
from qsearch.tables.bands import (
    RATIO_LIMITS,
    probe_directions,
    shift_bands,
    slope_ratios,
    zigzag_bands,
)
from qsearch.tables.qtable import QTable, from_zigzag, to_zigzag

LEVELS_PER_OCTAVE = 8
"""Band levels are eighth-octaves: fine enough to land near a target at the high-quality end."""
BANDS = zigzag_bands(6)
SHRINK_SHARE = 0.05
"""A band's log slope ratio is shrunk towards 0 by share / (share + this), its share being the
part of the whole table's bits that its probe moved: the accuracy a small band's probe moves is
mostly noise, so its ratio is trusted in proportion to the bits behind it."""
MAX_SHIFT = LEVELS_PER_OCTAVE
"""The whole table moves at most one octave a round to get back to its target."""


def reach(
    qualities: np.ndarray, rates: np.ndarray, values: np.ndarray, target: float
) -> tuple[float, float] | None:
    """(quality, rate) at which a swept family first reaches ``target`` on the running maximum
    of ``values`` over rising quality, interpolated linearly in quality and log-rate; None if it
    never does. Higher values are better."""
    qualities, rates, values = (np.asarray(a, dtype=float) for a in (qualities, rates, values))
    order = np.argsort(qualities)
    qualities, rates, values = qualities[order], rates[order], values[order]
    known = np.isfinite(values) & np.isfinite(rates)
    qualities, rates, values = qualities[known], rates[known], values[known]
    envelope = np.maximum.accumulate(values) if len(values) else values
    reached = np.flatnonzero(envelope >= target)
    if not len(reached):
        return None
    i = int(reached[0])
    if i == 0:
        return float(qualities[0]), float(rates[0])
    share = (target - envelope[i - 1]) / (envelope[i] - envelope[i - 1])
    quality = qualities[i - 1] + share * (qualities[i] - qualities[i - 1])
    rate = np.exp(np.log(rates[i - 1]) + share * (np.log(rates[i]) - np.log(rates[i - 1])))
    return float(quality), float(rate)


def equal_slope_step(
    centre: tuple[float, float],
    finer: np.ndarray,
    coarser: np.ndarray,
    target: float,
    probe: int,
    damping: float,
) -> np.ndarray:
    """Levels to add to each band (finer is negative) after one round of probes.

    ``centre`` is (rate, signal) of the current table; ``finer`` and ``coarser`` hold (rate,
    signal) rows of each band made ``probe`` levels finer and coarser, the whole table last.
    Each band moves by ``-damping x log2`` of its (shrunk) slope ratio, then every band moves
    together by the levels predicted to bring the signal from the centre's value to ``target``
    (band moves predicted at the band's shrunk slope, the whole table's response measured).
    """
    finer, coarser = np.asarray(finer, dtype=float), np.asarray(coarser, dtype=float)
    rate, gain = finer[:, 0] - coarser[:, 0], finer[:, 1] - coarser[:, 1]
    whole_rate, whole_gain = rate[-1], gain[-1]
    ratio, share = slope_ratios(finer, coarser)
    with np.errstate(divide="ignore", invalid="ignore"):
        whole_slope = whole_gain / whole_rate
    usable = np.isfinite(ratio) & (rate[:-1] > 0) & (whole_rate > 0) & (whole_gain > 0)
    share = np.where(usable, share, 0.0)
    log_ratio = np.where(usable, np.log2(np.clip(np.where(usable, ratio, 1.0), *RATIO_LIMITS)), 0.0)
    log_ratio *= share / (share + SHRINK_SHARE)
    moves = np.rint(-damping * log_ratio * LEVELS_PER_OCTAVE)
    # signal per level of each band at its shrunk slope, and of the whole table as measured
    band_response = -(np.where(usable, rate[:-1], 0.0) / (2 * probe)) * whole_slope * 2.0**log_ratio
    whole_response = -whole_gain / (2 * probe)
    shortfall = target - centre[1] - float(np.sum(moves * np.nan_to_num(band_response)))
    shift = 0.0
    if np.isfinite(whole_response) and whole_response < 0 and np.isfinite(shortfall):
        shift = float(np.clip(np.rint(shortfall / whole_response), -MAX_SHIFT, MAX_SHIFT))
    return (moves + shift).astype(np.int64)


class TargetSearcher(GenerationalSearcher):
    """Per accuracy target: start from the family that reaches it with the fewest bits, then
    round by round move its bands towards equal slopes while holding the target."""

    name = "targets"
    multi_objective = True
    default_space = "full"
    state_attributes = (
        *GenerationalSearcher.state_attributes,
        "bases",
        "levels",
        "signal_targets",
    )

    targets = Option(
        float, many=True, help="accuracies to find tables for", default=(0.99, 0.98, 0.95, 0.9)
    )
    metric = Option(
        str, optional=True, help="what targets are of (top1, else similarity)", default=None
    )
    signal = Option(str, optional=True, help="the smooth figure moves are read on", default=None)
    relative = Option(bool, help="targets are shares of the uncompressed value", default=True)
    families = Option(
        str,
        many=True,
        help="table families the starts are chosen among",
        default=("ijg", "mozjpeg-3", "mozjpeg-4", "mozjpeg-6", "mozjpeg-8"),
    )
    qualities = Option(
        int,
        1,
        100,
        many=True,
        help="the qualities each family is swept at",
        default=(50, 60, 70, 80, 85, 90, 95, 98),
    )
    probe = Option(int, 1, LEVELS_PER_OCTAVE * 2, help="levels a band moves to probe it", default=4)
    damping = Option(float, 0, 1, help="the share of each equal-slope move taken", default=0.5)

    def _check_options(self) -> None:
        outside = [t for t in self.targets if not 0 < t <= 1]
        if self.relative and outside:
            raise QSearchError(
                f"searcher targets: option targets={outside[0]!r} is a fraction of the "
                "uncompressed value: give values in (0, 1], or relative=false"
            )

    def _setup(self) -> None:
        from qsearch.tables.families import make_family

        super()._setup()
        images = self.evaluator.images.images if self.evaluator is not None else None
        self._families = [make_family(name, images) for name in self.families]
        if self.space.family.name not in self.families:  # the run's --base joins the candidates
            self._families.insert(0, self.space.family)
        self._metric, self._signal = self._figures()
        self._goals = [metric_sign(self._metric) * t for t in self._absolute_targets()]
        self.bases: np.ndarray | None = None  # (targets, 2, 64): zigzag-order start tables
        self.levels = np.zeros((len(self.targets), 2 * len(BANDS)), dtype=np.int64)
        self.signal_targets = np.zeros(len(self.targets))

    def _figures(self) -> tuple[str, str]:
        """The metric targets are of and the signal moves are read on: as given, else top-1
        and log-probability with labels, similarity without, and the evaluator's first figure
        for other tasks (a detector's mAP); each must be reported."""
        reported = self.evaluator.accuracy_metrics if self.evaluator is not None else ()
        default_metric, default_signal = _default_figures(reported)
        metric, signal = self.metric or default_metric, self.signal or default_signal
        for option, name in (("metric", metric), ("signal", signal)):
            if name not in reported:
                raise QSearchError(
                    f"searcher targets: option {option}={name!r} is not reported by the evaluator "
                    f"({', '.join(reported) or 'none'})"
                )
        return metric, signal

    def _absolute_targets(self) -> list[float]:
        if not self.relative:
            return [float(t) for t in self.targets]
        reference = (self.evaluator.reference if self.evaluator is not None else None) or {}
        if self._metric not in reference:
            raise QSearchError(
                f"searcher targets: relative targets need the uncompressed {self._metric}, which "
                "this evaluator does not report; give absolute targets with relative=false"
            )
        uncompressed = float(reference[self._metric])
        return [operating_target(self._metric, uncompressed, t) for t in self.targets]

    @property
    def batch_size(self) -> int:
        """A round: each target's table and its probes (the sweep comes first)."""
        return len(self.targets) * (1 + 2 * (2 * len(BANDS) + 1))

    def table(self, target: int, levels: np.ndarray | None = None) -> QTable:
        """Target ``target``'s table at ``levels`` (its current levels by default)."""
        if self.bases is None:
            raise QSearchError("searcher targets: no start tables before the first sweep is told")
        levels = self.levels[target] if levels is None else np.asarray(levels)
        zigzag = shift_bands(self.bases[target], levels / LEVELS_PER_OCTAVE, BANDS)
        return QTable(from_zigzag(zigzag[0]), from_zigzag(zigzag[1]))

    def _new_generation(self) -> np.ndarray:
        if self.bases is None:
            tables = [family.at(q) for family in self._families for q in self.qualities]
        else:
            targets = range(len(self.targets))
            tables = [self.table(t) for t in targets] + [
                self.table(t, self.levels[t] + sign * self.probe * direction)
                for t in targets
                for direction in probe_directions(2 * len(BANDS))
                for sign in (-1, 1)
            ]
        return np.stack([self.space.from_qtable(table) for table in tables])

    def _measure(self, trial: Trial) -> tuple[float, ...]:
        if trial.state != "complete":  # stopped early: its figures cover only part of the images
            return (np.nan, np.nan, np.nan)
        return (
            float(trial.values[0]),
            metric_sign(self._metric) * float(trial.metrics[self._metric]),
            metric_sign(self._signal) * float(trial.metrics[self._signal]),
        )

    def _learn_generation(self, generation: np.ndarray, measured: np.ndarray) -> None:
        if self.bases is None:
            self._start(measured.reshape(len(self._families), len(self.qualities), 3))
            return
        count = len(self.targets)
        probes = measured[count:].reshape(count, 2 * len(BANDS) + 1, 2, 3)
        for t in range(count):
            centre = (measured[t, 0], measured[t, 2])
            if not np.isfinite(centre[1]):
                continue
            self.levels[t] += equal_slope_step(
                centre,
                probes[t, :, 0][:, [0, 2]],
                probes[t, :, 1][:, [0, 2]],
                self.signal_targets[t],
                self.probe,
                self.damping,
            )
            self.levels[t] = np.clip(self.levels[t], -6 * LEVELS_PER_OCTAVE, 6 * LEVELS_PER_OCTAVE)

    def _start(self, sweep: np.ndarray) -> None:
        """Each target's start. The signal level that stands for the target is the median over
        families of their signal where their (noisy) metric first reaches it; the start is the
        family reaching that level of the (smooth) signal with the fewest bits, at the quality
        where it does, so that a lucky score on a few images chooses neither level nor family."""
        qualities = np.asarray(self.qualities, dtype=float)
        bases, levels = [], []
        for goal in self._goals:
            level = self._signal_level(qualities, sweep, goal)
            best, quality = self._cheapest(qualities, sweep, level)
            table = self._families[best].at(int(round(quality)))
            bases.append([to_zigzag(table.luma), to_zigzag(table.chroma)])
            levels.append(level)
        self.bases = np.array(bases, dtype=np.int64)
        self.signal_targets = np.array(levels)

    def _signal_level(self, qualities: np.ndarray, sweep: np.ndarray, goal: float) -> float:
        """The signal level standing for ``goal``: the median over families of their signal
        where their metric first reaches it (the goal itself when signal and metric agree)."""
        if self._signal == self._metric:
            return goal
        order = np.argsort(qualities)
        placed = [
            np.interp(found[0], qualities[order], family[order, 2])
            for family in sweep
            if (found := reach(qualities, family[:, 0], family[:, 1], goal)) is not None
        ]
        return float(np.median(placed)) if placed else float(np.nanmax(sweep[:, :, 2]))

    @staticmethod
    def _cheapest(qualities: np.ndarray, sweep: np.ndarray, level: float) -> tuple[int, float]:
        """The family reaching ``level`` of the signal with the fewest bits and the quality
        where it does; where none reaches it, the one with the highest signal at its top."""
        reached = [reach(qualities, family[:, 0], family[:, 2], level) for family in sweep]
        costs = [found[1] if found is not None else np.inf for found in reached]
        best = int(np.argmin(costs))
        found = reached[best]
        if found is not None:
            return best, found[0]
        return int(np.nanargmax(np.nanmax(sweep[:, :, 2], axis=1))), float(qualities.max())


def _default_figures(reported: tuple[str, ...]) -> tuple[str, str]:
    """(metric, signal) when not given: top-1 and log-probability with labels, similarity
    without, else the evaluator's first figure for both."""
    if "top1" in reported and "logprob" in reported:
        return "top1", "logprob"
    unlabelled = "similarity" if "similarity" in reported or not reported else reported[0]
    return unlabelled, unlabelled
