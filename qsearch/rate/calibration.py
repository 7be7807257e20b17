"""Calibrating a rule: every calibration image measured at every step of the ladder (a grid),
then the rule's parameter that reaches the dataset target at the fewest bits, found by running
the rule on the grid exactly as compression runs it on new images. The target is a share of the
network's uncompressed figure on the calibration images (top-1 with labels, agreement with the
uncompressed answer without), compared with one quality for every image at that target."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from qsearch.errors import QSearchError
from qsearch.rate.ladder import Ladder
from qsearch.rate.rules import Rule
from qsearch.search.evaluator import Evaluator
from qsearch.search.metrics import is_pooled, metric_spec, operating_target, pool


@dataclass
class Grid:
    """Per-image figures of every image at every step: ``figures[step][name][image]``."""

    figures: list[dict[str, np.ndarray]]
    fidelity: str
    _stacked: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def measure(cls, evaluator: Evaluator, ladder: Ladder, progress: bool = True) -> Grid:
        """Each step's table on every image of ``evaluator`` (one evaluation a step)."""
        if not evaluator.fidelity_metric:
            evaluator.evaluate_each([], [])  # refuses, naming the evaluator
        count, figures = len(evaluator.images), []
        for table in tqdm(ladder.tables(), desc="calibration ladder", disable=not progress):
            figures.append(evaluator.evaluate_each([table] * count, range(count)))
        return cls(figures, evaluator.fidelity_metric)

    @property
    def shape(self) -> tuple[int, int]:
        """(images, steps)."""
        return len(self.figures[0]["bytes"]), len(self.figures)

    def values(self, name: str) -> np.ndarray:
        """(images, steps) of a numeric per-image figure (stacked once: calibration probes the
        grid for every candidate parameter)."""
        if name not in self._stacked:
            columns = [np.asarray(step[name], dtype=np.float64) for step in self.figures]
            self._stacked[name] = np.stack(columns, 1)
        return self._stacked[name]

    def probe(self, images: np.ndarray, steps: np.ndarray) -> dict[str, np.ndarray]:
        """The figures of image ``images[k]`` at ``steps[k]``, read from the grid."""
        found = {}
        for name in ("bytes", "pixels", self.fidelity):
            found[name] = self.values(name)[images, steps]
        found["fidelity"] = found[self.fidelity]
        return found

    def chosen(self, steps: np.ndarray) -> dict[str, list]:
        """Per-image figures of each image at its chosen step (records kept as they are)."""
        return {
            name: [self.figures[step][name][i] for i, step in enumerate(steps)]
            for name in self.figures[0]
        }


def dataset_figure(metric: str, figures: dict[str, list]) -> float:
    """``metric`` over the images: pooled from records (mAP, mean IoU) or a mean."""
    if is_pooled(metric):
        return pool(metric, figures)()
    return float(np.mean(figures[metric]))


def bits_per_pixel(figures: dict[str, list]) -> float:
    """bpp over every image: all bits over all pixels."""
    return 8.0 * float(np.sum(figures["bytes"])) / float(np.sum(figures["pixels"]))


@dataclass
class Calibration:
    """A calibrated rule and what it did on the calibration images, beside one quality for
    every image at the same target. Plain data: written as JSON beside a compressed folder."""

    rule: str
    parameter: str
    value: float
    target: float
    metric: str
    uncompressed: float
    reached: float
    bpp: float
    one_quality: int | None
    one_quality_bpp: float | None
    images: int
    steps: list[int] = field(default_factory=list)
    """The chosen step of each calibration image (its distribution is the report's)."""
    fallback: bool = False
    """Per image did not beat one quality at the target: every image gets ``one_quality``."""
    margin: float = 0.0
    curve: list[list[float]] = field(default_factory=list)
    """One quality for every calibration image: [quality, bpp, figure] at each step."""
    second_receiver: str = ""
    second_receiver_share: float | None = None
    """The share of its own uncompressed figure that the calibration images, at their chosen
    qualities, keep for another receiver (``second_receiver`` says how it differs)."""

    @property
    def saving(self) -> float | None:
        """bpp against one quality at the target, as a signed share (-0.6: 60% fewer bits)."""
        if self.one_quality_bpp is None:
            return None
        return self.bpp / self.one_quality_bpp - 1.0

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {**asdict(self), "saving": self.saving}

    @classmethod
    def from_dict(cls, data: dict, source: str) -> Calibration:
        """Back from :meth:`to_dict`; a record missing keys or carrying others is refused."""
        data = {k: v for k, v in data.items() if k != "saving"}
        names = {f for f in cls.__dataclass_fields__}
        if set(data) != names:
            missing, extra = names - set(data), set(data) - names
            raise QSearchError(
                f"{source}: not a calibration record (missing {sorted(missing)}, "
                f"unknown {sorted(extra)})"
            )
        return cls(**data)

    def describe(self) -> str:
        """One line: the rule, what it reached and its bits against one quality."""
        share = self.reached / self.uncompressed if self.uncompressed else float("nan")
        line = (
            f"{self.rule} {self.parameter} {self.value:.4g}: {self.metric} {self.reached:.4f} "
            f"({100 * share:.1f}% of uncompressed {self.uncompressed:.4f}) at {self.bpp:.3f} bpp "
            f"on {self.images} calibration images"
        )
        if self.one_quality is None:
            return line + "; no single quality reaches the target"
        line += f"; one quality needs q{self.one_quality} ({self.one_quality_bpp:.3f} bpp)"
        saving = self.saving
        if self.fallback or saving is None:
            line += ": per image does not beat it, so every image gets that quality"
        else:
            line += f": {100 * saving:+.1f}% bits"
        if self.second_receiver_share is not None:
            line += (f"; {self.second_receiver} keeps {100 * self.second_receiver_share:.1f}% "
                     "of its own uncompressed figure there")  # fmt: skip
        return line


def calibrate(
    grid: Grid,
    ladder: Ladder,
    rule: Rule,
    target: float,
    metric: str,
    uncompressed: float,
    margin: float = 0.0,
) -> Calibration:
    """The parameter of ``rule`` reaching ``target`` x the uncompressed ``metric`` at the fewest
    bits on the grid's images, beside the coarsest single quality reaching it; refused in one
    line when no parameter reaches it."""
    if not 0 < target <= 1:
        raise QSearchError(f"target {target}: a share of the uncompressed figure in (0, 1]")
    goal = operating_target(metric, uncompressed, target)
    sign = metric_spec(metric).sign
    count = grid.shape[0]
    best = _cheapest(grid, rule, metric, goal, sign, margin)
    if best is None:
        raise QSearchError(
            f"no {rule.parameter} of the {rule.name} rule reaches {100 * target:g}% of the "
            f"uncompressed {metric} ({uncompressed:.4f}) on the {count} calibration images, "
            f"even at quality {ladder.qualities[-1]}; ask for a lower --target"
        )
    one = _one_quality(grid, metric, goal, sign)
    bpp, value, reached, chosen = best
    fallback = one is not None and one[1] <= bpp
    if fallback:
        assert one is not None
        chosen = np.full(count, one[0])
        bpp, reached = one[1], dataset_figure(metric, grid.chosen(chosen))
    return Calibration(
        rule.name, rule.parameter, value, target, metric, uncompressed, reached, bpp,
        None if one is None else ladder.qualities[one[0]], None if one is None else one[1],
        count, [int(s) for s in chosen], fallback, margin, _curve(grid, ladder, metric),
    )  # fmt: skip


def _curve(grid: Grid, ladder: Ladder, metric: str) -> list[list[float]]:
    """[quality, bpp, figure] of each step given to every image."""
    count, steps = grid.shape
    found = []
    for step in range(steps):
        figures = grid.chosen(np.full(count, step))
        found.append([ladder.qualities[step], round(bits_per_pixel(figures), 5),
                      round(dataset_figure(metric, figures), 6)])  # fmt: skip
    return found


def check_second_receiver(
    evaluator: Evaluator, ladder: Ladder, calibration: Calibration
) -> Calibration:
    """``calibration`` with the share the calibration images, at their chosen steps, keep for
    another receiver of the same network (:meth:`Evaluator.another_receiver`), where there is
    one."""
    import dataclasses

    from qsearch.search.metrics import share_of_uncompressed

    other = evaluator.another_receiver()
    if other is None:
        return calibration
    name, receiver = other
    try:
        tables = [ladder.table(step) for step in calibration.steps]
        figures = receiver.evaluate_each(tables, range(len(tables)))
        reached = dataset_figure(calibration.metric, figures)
        uncompressed = (receiver.reference or {})[calibration.metric]
    finally:
        receiver.close()
    share = share_of_uncompressed(calibration.metric, reached, uncompressed)
    return dataclasses.replace(calibration, second_receiver=name, second_receiver_share=share)


def _cheapest(
    grid: Grid, rule: Rule, metric: str, goal: float, sign: int, margin: float
) -> tuple[float, float, float, np.ndarray] | None:
    """(bpp, parameter, figure, steps) of the parameter reaching ``goal`` at the fewest bits."""
    count, steps = grid.shape
    best = None
    for value in rule.candidates(grid.values(grid.fidelity), margin):
        chosen = rule.choose(grid.probe, count, steps, float(value))
        figures = grid.chosen(chosen)
        reached = dataset_figure(metric, figures)
        bpp = bits_per_pixel(figures)
        if sign * reached >= sign * goal - 1e-12 and (best is None or bpp < best[0]):
            best = (bpp, float(value), reached, chosen)
    return best


def _one_quality(grid: Grid, metric: str, goal: float, sign: int) -> tuple[int, float] | None:
    """(step, bpp) of the coarsest step whose dataset figure reaches ``goal``, or None."""
    count, steps = grid.shape
    for step in range(steps):
        figures = grid.chosen(np.full(count, step))
        if sign * dataset_figure(metric, figures) >= sign * goal - 1e-12:
            return step, bits_per_pixel(figures)
    return None


__all__ = [
    "Calibration",
    "Grid",
    "bits_per_pixel",
    "calibrate",
    "check_second_receiver",
    "dataset_figure",
]
