"""One evaluation of the test split (encode, decode, forward, metrics) against the bare
forward pass of the same model on the same prepared images, measured in one process.

    python benchmarks/eval_overhead.py [--split test] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from common import IMAGENET_SAMPLE, SPLITS, record
from qsearch import QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier


def bare_forward(evaluator: ClassifierEvaluator) -> float:
    """Seconds for the network alone over the prepared images, same batches, no codec."""
    inputs = evaluator.images.network_inputs()
    start = time.perf_counter()
    for batch in evaluator._batches():
        evaluator.classifier.log_probs(inputs[batch])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    classifier = load_classifier()
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split=args.split, preprocessing=classifier.preprocessing
    )
    evaluator = ClassifierEvaluator(images, classifier)
    table = QTable.from_quality(50)
    evaluator.evaluate(table)  # warm-up
    forward, full = [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both alike
        forward.append(bare_forward(evaluator))
        full.append(evaluator.evaluate(table)["seconds"])
    codec_start = time.perf_counter()
    evaluator.codec.roundtrip(images.images, table)
    codec = time.perf_counter() - codec_start
    f, e = statistics.median(forward), statistics.median(full)
    record(
        f"Evaluation overhead ({args.split} split, {len(images)} images, IJG q50, {evaluator.settings.describe()})",
        "| measure | seconds | ms/image |\n|---|---|---|\n"
        f"| bare forward pass (median of {args.repeats}) | {f:.2f} | {1000 * f / len(images):.1f} |\n"
        f"| full evaluation (median of {args.repeats}) | {e:.2f} | {1000 * e / len(images):.1f} |\n"
        f"| encode + decode alone | {codec:.2f} | {1000 * codec / len(images):.2f} |\n\n"
        f"**full evaluation / bare forward = {e / f:.3f}** "
        f"(runs: forward {np.round(forward, 2).tolist()}, full {np.round(full, 2).tolist()}); "
        f"{evaluator.classifier.describe()}\n\n"
        "Command: `python benchmarks/eval_overhead.py`",
    )


if __name__ == "__main__":
    main()
