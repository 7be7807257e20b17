"""Per-image rate control for a detector and a segmenter: the rule calibrated on COCO128
train2017 and judged on val2017 (neither network trained on them), each stored image compressed
at its own size, set against one IJG quality for the whole judged set at the same target, with a
paired bootstrap over images that recomputes the pooled figure (mAP, mean IoU) on each resample.

    python benchmarks/per_image_tasks.py [--tasks detect,segment]

Whether per-image control pays for a pooled figure is what this measures: the per-image figure
(each image's boxes or mask against its own uncompressed output) only approximates what the
pooled figure loses."""

from __future__ import annotations

import argparse

import numpy as np
from per_image import envelope_bpp
from tasks import TASKS, task_evaluator

from common import record
from qsearch.errors import QSearchError
from qsearch.rate.calibration import Grid, bits_per_pixel, calibrate
from qsearch.rate.ladder import QUALITIES, Ladder
from qsearch.rate.rules import make_rule
from qsearch.report.pareto import resample_draws
from qsearch.search.metrics import pool

TARGETS = (0.98, 0.95)
RULES = (("threshold", 0.0), ("threshold", 0.5), ("threshold", 0.7), ("tradeoff", 0.0))
METRIC = {"detect": "map", "segment": "miou_ref"}
SAMPLES = 300


def figure_over(metric: str, figures: dict, draws: np.ndarray | None) -> np.ndarray | float:
    """The pooled figure of per-image records, or its value on each resample of ``draws``."""
    pooled = pool(metric, figures)
    return pooled() if draws is None else pooled.over(draws)


def one_quality(grid: Grid, metric: str, target: float, uncompressed, draws=None):
    """bpp of one IJG quality for every judged image at ``target`` (each resample, with
    ``draws``), from the ladder's points (log-bpp on the envelope)."""
    count, steps = grid.shape
    figures = [grid.chosen(np.full(count, s)) for s in range(steps)]
    if draws is None:
        bpp = np.array([bits_per_pixel(f) for f in figures])
        accuracy = np.array([figure_over(metric, f, None) for f in figures])
        return envelope_bpp(bpp, accuracy, target * uncompressed)
    bytes_, pixels = grid.values("bytes"), grid.values("pixels")
    found = []
    curves = np.stack([figure_over(metric, f, draws) for f in figures], 1)  # (samples, steps)
    goals = target * uncompressed
    for k, row in enumerate(draws):
        bpp = 8 * bytes_[row].sum(0) / pixels[row].sum(0)
        found.append(envelope_bpp(bpp, curves[k], goals[k]))
    return np.array(found)


def judged(task: str, grids: dict, rule: str, margin: float, target: float, reference) -> str:
    metric = METRIC[task]
    label = f"{rule}" + (f" floor >= {margin}" if rule == "threshold" else "")
    try:
        calibration = calibrate(grids["train2017"], Ladder(), make_rule(rule), target, metric,
                                reference["train2017"], margin)  # fmt: skip
    except QSearchError as error:
        return f"| {label} | {100 * target:g}% | refused on train2017: {error} | | | | |"
    grid = grids["val2017"]
    count, steps = grid.shape
    chosen = (
        np.full(count, QUALITIES.index(calibration.one_quality))
        if calibration.fallback
        else make_rule(rule).choose(grid.probe, count, steps, calibration.value)
    )
    figures = grid.chosen(chosen)
    share = figure_over(metric, figures, None) / reference["val2017"]
    bpp = bits_per_pixel(figures)
    single = one_quality(grid, metric, target, reference["val2017"])
    draws = resample_draws(0, SAMPLES, count)
    sizes = (np.asarray(figures["bytes"], float), np.asarray(figures["pixels"], float))
    drawn_bpp = np.array([8 * sizes[0][r].sum() / sizes[1][r].sum() for r in draws])
    savings = drawn_bpp / reference["single_draws"][target] - 1
    low, high = np.nanpercentile(savings, [2.5, 97.5])
    short = "" if share >= target else " (falls short)"
    used = "one quality (per image did not pay on train2017)" if calibration.fallback else label
    return (
        f"| {used} | {100 * target:g}% | {100 * share:.1f}%{short} | {bpp:.3f} | "
        f"{np.median(np.asarray(QUALITIES)[chosen]):g} | {single:.3f} | "
        f"**{100 * (bpp / single - 1):+.1f}%** [{100 * low:+.1f}, {100 * high:+.1f}] |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="detect,segment")
    args = parser.parse_args()
    for task in args.tasks.split(","):
        grids, reference = {}, {}
        for split in ("train2017", "val2017"):
            evaluator = task_evaluator(task, split)
            grids[split] = Grid.measure(evaluator, Ladder())
            reference[split] = evaluator.reference[METRIC[task]]
            if split == "val2017":
                reference["per_image"] = evaluator.reference_per_image
            evaluator.close()
        draws = resample_draws(0, SAMPLES, grids["val2017"].shape[0])
        uncompressed = pool(METRIC[task], reference["per_image"]).over(draws)
        reference["single_draws"] = {
            t: one_quality(grids["val2017"], METRIC[task], t, uncompressed, draws) for t in TARGETS
        }
        rows = [judged(task, grids, rule, margin, target, reference)
                for target in TARGETS for rule, margin in RULES]  # fmt: skip
        body = (
            f"`python benchmarks/per_image_tasks.py --tasks {task}`: {TASKS[task]['network']}; "
            f"calibrated on COCO128 train2017, judged on val2017 ({METRIC[task]} pooled over "
            f"the judged images: {reference['val2017']:.4f} uncompressed), stored images, IJG "
            f"qualities {','.join(map(str, QUALITIES))}; one quality: the same ladder on val2017, "
            "log-bpp interpolated on its envelope; intervals: paired bootstrap over images "
            f"({SAMPLES} resamples).\n\n"
            "| rule | target | kept on val2017 | bpp | median q | one quality bpp | "
            "bits vs one quality [95%] |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        )
        record(f"Per-image rate control: {task}", body)


if __name__ == "__main__":
    main()
