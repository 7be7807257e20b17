"""What a detector's or segmenter's evaluation costs beyond its network: one evaluation of the
128 COCO128 val2017 images at their stored size (encode, decode, letterbox or resize, forward,
boxes or masks, pooled figures) against the bare forward pass over the same prepared inputs,
measured in the same process; and a pooled bootstrap (500 resamples of mAP) against what
pycocotools takes for one evaluation of the same images.

    python benchmarks/task_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time

import numpy as np
from tasks import task_evaluator

from common import ROOT, one_benchmark_at_a_time, record
from qsearch.tables.qtable import QTable
from qsearch.tasks.coco import PooledAP, coco_dicts

sys.path.insert(0, str(ROOT / "tests"))
from independent import coco_ground_truth  # noqa: E402


def bare_forward(evaluator) -> float:
    """Seconds of the network alone over the prepared inputs of every image."""
    spec, size = evaluator.model.spec, evaluator.batch_size
    canvases = np.stack([spec.canvas(image) for image in evaluator.images.images])
    batches = [spec.tensor(canvases[k : k + size]) for k in range(0, len(canvases), size)]
    start = time.perf_counter()
    for batch in batches:
        evaluator.model.runtime(batch)
    return time.perf_counter() - start


def pycocotools_seconds(evaluator) -> float:
    """One pycocotools evaluate + accumulate of the evaluator's uncompressed boxes."""
    from pycocotools.cocoeval import COCOeval

    images, truth, found = coco_dicts(evaluator._uncompressed, evaluator._truth)
    coco = coco_ground_truth(images, truth)
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        evaluation = COCOeval(coco, coco.loadRes(found), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for task in ("detect", "segment"):
        evaluator = task_evaluator(task, "val2017")
        table = QTable.from_quality(50)
        evaluator.evaluate(table)  # warm caches and runtimes
        forward = statistics.median(bare_forward(evaluator) for _ in range(args.repeats))
        evaluation = statistics.median(
            evaluator.evaluate(table).metrics["seconds"] for _ in range(args.repeats)
        )
        rows.append(f"| {task} | {evaluator.model.runtime.describe()} | {forward:.2f} | "
                    f"{evaluation:.2f} | {evaluation / forward:.2f} |")  # fmt: skip
        if task == "detect":
            records = evaluator.evaluate(table, per_image=True).per_image["map"]
            start = time.perf_counter()
            pooled = PooledAP(records)
            rng = np.random.default_rng(0)
            for _ in range(500):
                pooled(
                    np.bincount(rng.integers(0, len(records), len(records)), minlength=len(records))
                )
            bootstrap = time.perf_counter() - start
            coco = pycocotools_seconds(evaluator)
        evaluator.close()
    record(
        "Detector and segmenter evaluation cost",
        "128 COCO128 val2017 images at their stored size, IJG quality 50, median of "
        f"{args.repeats}; bare forward = the network alone on the already prepared inputs, same "
        "process, same batches (16).\n\n| task | network | bare forward s | one evaluation s | "
        "ratio |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n\nPooled bootstrap: 500 "
        f"resamples of mAP@[.5:.95] and AP50 (per-image matches kept, accumulation re-weighted) "
        f"take {bootstrap:.2f} s for one curve point; one pycocotools evaluate + accumulate of the "
        f"same images takes {coco:.2f} s, so 500 of them would take about {500 * coco:.0f} s."
        "\n\nCommand: `python benchmarks/task_speed.py`",
    )


if __name__ == "__main__":
    with one_benchmark_at_a_time():
        main()
