"""The size an image is sent at, a rung of the ladder: each stored image sent as stored or
shrunk to what the network reads (--size network), JPEG at one IJG quality for the whole set,
bits always per stored pixel. Bits at 98% and 95% of the uncompressed figure and the BD-rate of
the network-size curve against the stored-size one, with paired bootstrap intervals over images
(a pooled figure recomputed on each resample); the encode time of each; and, for the detector,
per-image control composed with the network size (calibrated on train2017, judged on val2017).

    python benchmarks/sizes.py [--tasks detect,segment,classify]

Classification: the first 200 test-split ImageNet sample images (top-1, EfficientNet-Lite0,
short side 256 sent); detection: COCO128 val2017 (mAP, YOLOX-Nano, longer side 416 sent);
segmentation: COCO128 val2017 (person mIoU against the COCO masks, the MediaPipe selfie
segmenter, which stretches to 256x256: shorter side 256 sent)."""

from __future__ import annotations

import argparse
import time

import numpy as np
from per_image import envelope_bpp
from per_image_tasks import figure_over
from tasks import task_evaluator

from common import classifier, record
from qsearch.codecs.codec import EncoderSettings
from qsearch.rate.calibration import Grid, bits_per_pixel, calibrate, dataset_figure
from qsearch.rate.ladder import Ladder
from qsearch.rate.rules import make_rule
from qsearch.report.pareto import bd_rate, resample_draws
from qsearch.search.metrics import is_pooled, pool

QUALITIES = {
    "detect": tuple(range(5, 100, 5)),
    "segment": tuple(range(5, 100, 5)),
    "classify": (30, 50, 60, 70, 80, 85, 90, 95),
}
"""Detection and segmentation every 5 from 5 to 95: a pooled figure is not monotone in the
quality, and the bits at 98% are read on the upper envelope between neighbouring qualities."""
METRIC = {"detect": "map", "segment": "miou", "classify": "top1"}
TARGETS = (0.98, 0.95)
SAMPLES = 300
CLASSIFY_IMAGES = 200
"""The first 200 test-split images (eight qualities at two sizes fit a session's time)."""


def evaluator(task: str, split: str, size: str):
    settings = EncoderSettings(size=size)
    if task != "classify":
        return task_evaluator(task, split, settings)
    from common import IMAGENET_SAMPLE, SPLITS
    from qsearch.evaluators.classifier import ClassifierEvaluator
    from qsearch.images import load_images

    network = classifier()
    images = load_images(IMAGENET_SAMPLE, split_file=SPLITS, split=split, compress_at="source",
                         preprocessing=network.preprocessing, limit=CLASSIFY_IMAGES)  # fmt: skip
    return ClassifierEvaluator(images, network, settings, forward="fp32")


def curve(grid: Grid, metric: str, draws=None):
    """(bpp, figure) of each quality, or (resamples, qualities) of each with ``draws``."""
    count, steps = grid.shape
    figures = [grid.chosen(np.full(count, s)) for s in range(steps)]
    if draws is None:
        return (np.array([bits_per_pixel(f) for f in figures]),
                np.array([dataset_figure(metric, f) for f in figures]))  # fmt: skip
    bytes_, pixels = grid.values("bytes"), grid.values("pixels")
    bpp = np.stack([8 * bytes_[row].sum(0) / pixels[row].sum(0) for row in draws])
    if is_pooled(metric):
        return bpp, np.stack([figure_over(metric, f, draws) for f in figures], 1)
    values = grid.values(metric)
    return bpp, np.stack([values[row].mean(0) for row in draws])


def uncompressed(evaluator, metric: str, draws=None):
    if draws is None:
        return evaluator.reference[metric]
    plain = evaluator.reference_per_image
    if is_pooled(metric):
        return pool(metric, plain).over(draws)
    return np.asarray(plain[metric])[draws].mean(1)


def compare(task: str) -> str:
    metric, qualities = METRIC[task], QUALITIES[task]
    split = "test" if task == "classify" else "val2017"
    grids, seconds = {}, {}
    for size in ("stored", "network"):
        made = evaluator(task, split, size)
        start = time.perf_counter()
        grids[size] = Grid.measure(made, Ladder(qualities=qualities))
        seconds[size] = time.perf_counter() - start
        if size == "stored":  # the uncompressed stored images: the one reference of both
            draws = resample_draws(0, SAMPLES, grids[size].shape[0])
            plain, plain_draws = uncompressed(made, metric), uncompressed(made, metric, draws)
        sent = made.settings.size
        made.close()
    rows = []
    curves = {size: curve(grids[size], metric) for size in grids}
    drawn = {size: curve(grids[size], metric, draws) for size in grids}
    for target in TARGETS:
        bits = {s: envelope_bpp(*curves[s], target * plain) for s in grids}
        ratios = [envelope_bpp(drawn["network"][0][k], drawn["network"][1][k], target * plain_draws[k])
                  / envelope_bpp(drawn["stored"][0][k], drawn["stored"][1][k], target * plain_draws[k]) - 1
                  for k in range(SAMPLES)]  # fmt: skip
        low, high = np.nanpercentile(ratios, [2.5, 97.5])
        rows.append(
            f"| {100 * target:g}% of uncompressed {metric} ({target * plain:.4f}) | "
            f"{bits['stored']:.3f} | {bits['network']:.3f} | "
            f"**{100 * (bits['network'] / bits['stored'] - 1):+.1f}%** [{100 * low:+.1f}, {100 * high:+.1f}] |"
        )  # fmt: skip
    whole = bd_rate(*curves["stored"], *curves["network"])
    draws_bd = [bd_rate(drawn["stored"][0][k], drawn["stored"][1][k], drawn["network"][0][k],
                        drawn["network"][1][k]) for k in range(SAMPLES)]  # fmt: skip
    low, high = np.nanpercentile(draws_bd, [2.5, 97.5])
    body = (
        f"`python benchmarks/sizes.py --tasks {task}`: {split} images, {metric} "
        f"{plain:.4f} uncompressed (stored images), one IJG quality for the whole set at each of "
        f"{','.join(map(str, qualities))}, 4:2:0; network size: {sent}; bits per stored pixel; "
        f"paired bootstrap over images ({SAMPLES} resamples).\n\n"
        "| target | stored size bpp | network size bpp | network vs stored [95%] |\n"
        "|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nBD-rate of the network-size curve against the stored-size one over their common "
        f"{metric} range: **{whole:+.1f}%** [{low:+.1f}, {high:+.1f}]. Time to measure the "
        f"{len(qualities)} qualities (encode, decode, network): stored {seconds['stored']:.0f} s, "
        f"network size {seconds['network']:.0f} s."
    )
    if task == "detect":
        body += "\n\n" + per_image_at_network_size(grids["network"], plain)
    if task == "segment":
        body += (
            "\n\nThe segmenter's person mIoU against the COCO masks hardly moves with the "
            "quality (its curve is flat from the coarsest qualities up), so its 98% and 95% fall "
            "near the bottom of both ladders: read these figures as what the smaller image costs "
            "this network, not as a quality any viewer would accept."
        )
    return body


def per_image_at_network_size(judged: Grid, plain: float) -> str:
    """Per-image control (threshold, margin 0.5) at the network size: calibrated on train2017
    at that size, judged on val2017, against one quality at the stored size."""
    made = evaluator("detect", "train2017", "network")
    calibration_grid = Grid.measure(made, Ladder(qualities=QUALITIES["detect"]))
    reference = made.reference["map"]
    made.close()
    lines = []
    for target in TARGETS:
        rule = make_rule("threshold")
        found = calibrate(calibration_grid, Ladder(qualities=QUALITIES["detect"]), rule, target,
                          "map", reference, 0.5)  # fmt: skip
        count, steps = judged.shape
        chosen = (np.full(count, QUALITIES["detect"].index(found.one_quality)) if found.fallback
                  else rule.choose(judged.probe, count, steps, found.value))  # fmt: skip
        figures = judged.chosen(chosen)
        share = dataset_figure("map", figures) / plain
        lines.append(
            f"- at {100 * target:g}%: "
            + ("one quality (per image did not pay on train2017), " if found.fallback else "")
            + f"mAP kept {100 * share:.1f}% at {bits_per_pixel(figures):.3f} bpp per stored pixel"
        )
    return ("Per-image control at the network size (threshold rule, floor >= 0.5, calibrated "
            "on train2017 at that size), judged on val2017:\n" + "\n".join(lines))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="detect,segment,classify")
    for task in parser.parse_args().tasks.split(","):
        record(f"Sent size: {task}", compare(task))


if __name__ == "__main__":
    main()
