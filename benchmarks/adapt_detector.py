"""A detector adapted to compression: YOLOX-Nano (the shared ONNX file, made trainable by
``onnx2torch``) adapted without labels on COCO128 train2017 (the frozen model's raw outputs on
the uncompressed images are the target; its first images train, its last ``VALIDATION`` choose
the epoch), judged on val2017 only (the detector was trained on COCO train2017): the adapted
network's uncompressed mAP beside the frozen one's, its IJG curve's BD-rate against the frozen
network's IJG curve, and bits at 99/98/95/90% of the frozen uncompressed mAP, beside the codec
ladder's curves for the frozen network (``tasks.py --task detect``), with paired bootstrap
intervals that recompute mAP on every resample. The adapter is exported to ONNX with the shared
file's input and output contract and judged again through ONNX Runtime.

    python benchmarks/adapt_detector.py [--learn biases] [--epochs 6] [--learning-rate 1e-4]

Resumable: the adaptation checkpoints every epoch and each curve is kept once computed.
"""

from __future__ import annotations

import argparse
import json

from tasks import COCO128, DECLARATIONS, QUALITIES, TASKS

from common import ROOT, record
from qsearch.errors import QSearchError
from qsearch.images import load_images
from qsearch.models.adapt import Adaptation, adapt
from qsearch.report.curves import cached_frame, sweep
from qsearch.report.ladder import ladder, markdown
from qsearch.report.plots import plot_curves
from qsearch.tasks.adapt import TaskLearner
from qsearch.tasks.export import export_task_model

RESULTS = ROOT / "benchmarks" / "results" / "adapted-detector"
LADDER = ROOT / "benchmarks" / "results" / "detection" / "ladder"
VALIDATION = 28
MODEL = TASKS["detect"]["model"]
DECLARED = json.loads((DECLARATIONS / "yolox_nano.json").read_text())


def judged(adapter=None, model=MODEL):
    """The detector evaluator on val2017 (with an adapter applied where given)."""
    from qsearch.tasks.evaluation import task_evaluator

    return task_evaluator(
        "detect", model, COCO128 / "images" / "val2017", TASKS["detect"]["labels"] / "val2017",
        declared=DECLARED, adapter=adapter,
    )  # fmt: skip


def adapted(adaptation: Adaptation, folder):
    """The adapter trained on train2017 (resumed from its checkpoint)."""
    images = load_images(COCO128 / "images" / "train2017", compress_at="source", labels="none")
    cut = len(images) - VALIDATION
    learner = TaskLearner(MODEL, "detect", DECLARED)
    return adapt(learner, images.subset(range(cut)), folder, adaptation,
                 images.subset(range(cut, len(images))), progress=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learn", default="biases", choices=("biases", "head", "all"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--low-quality", type=int, default=10)
    parser.add_argument("--high-quality", type=int, default=90)
    args = parser.parse_args()
    adaptation = Adaptation(
        learn=args.learn, epochs=args.epochs, learning_rate=args.learning_rate, batch_size=8,
        qualities=(args.low_quality, args.high_quality),
    )  # fmt: skip
    tag = f"{args.learn}-lr{args.learning_rate:g}-q{args.low_quality}-{args.high_quality}"
    try:
        run = adapted(adaptation, RESULTS / tag)
    except QSearchError as refusal:  # no epoch beat the frozen network on the validation images
        record(f"Adapting a detector ({tag})", f"No adapter: {refusal}\n\n" + _command(args))
        return
    frozen, adapted_scorer = judged(), judged(run.path)
    exported = RESULTS / tag / "adapted.onnx"
    if not exported.exists():
        export_task_model(run.path, exported, MODEL)
    through_onnx = judged(model=exported)
    reference = {k: float(v) for k, v in frozen.reference.items()}
    curves = {
        "frozen + IJG": cached_frame(
            RESULTS / "frozen-ijg.csv", lambda: sweep(frozen, qualities=QUALITIES)
        ),
        "adapted + IJG": cached_frame(
            RESULTS / tag / "ijg.csv",
            lambda: sweep(adapted_scorer, qualities=QUALITIES, progress=True),
        ),
    }
    for codec in ("mozjpeg", "avif"):
        path = LADDER / f"{codec}.csv"
        if path.exists() or path.with_name(path.name + ".gz").exists():
            from common import upstream_frame

            curves[f"frozen + {codec}"] = upstream_frame(path)
    table = ladder(curves, curves["frozen + IJG"], ("map", "ap50"), reference)
    plot_curves(curves, "map", RESULTS / tag / "map.png",
                title="mAP vs bpp on val2017: frozen and adapted YOLOX-Nano; dotted: 98% and 95% "
                "of the frozen uncompressed mAP",
                levels=[0.98 * reference["map"], 0.95 * reference["map"]])  # fmt: skip
    history = "\n".join(
        f"| {e}{' (kept)' if e == run.best_epoch else ''} | {r['loss']:.4f} | "
        f"{r['uncompressed_divergence']:.4f} |" for e, r in enumerate(run.history)
    )  # fmt: skip
    record(f"Adapting a detector ({tag})", (
        f"YOLOX-Nano (shared ONNX, `onnx2torch`), {args.learn} adapted without labels on the "
        f"first {128 - VALIDATION} COCO128 train2017 images (divergence from the frozen raw "
        f"outputs on the uncompressed image, for a JPEG at an IJG quality drawn from "
        f"{args.low_quality}..{args.high_quality} and for the uncompressed image; AdamW lr "
        f"{args.learning_rate:g}, batch 8, up to {args.epochs} epochs), the epoch kept chosen on "
        f"the last {VALIDATION}; judged on the 128 val2017 images. Uncompressed mAP: frozen "
        f"{reference['map']:.4f}, adapted {adapted_scorer.reference['map']:.4f}, the exported "
        f"ONNX through ONNX Runtime {through_onnx.reference['map']:.4f}. % bits against frozen + "
        "IJG at equal mAP, 95% paired bootstrap intervals recomputing mAP, * = excludes zero; "
        "'at X%': where each curve crosses X% of the frozen uncompressed figure.\n\n"
        + markdown(table)
        + "\n\n| epoch | validation loss | uncompressed divergence |\n|---|---|---|\n" + history
        + "\n\n" + _command(args)
    ))  # fmt: skip


def _command(args) -> str:
    return (
        f"Command: `python benchmarks/adapt_detector.py --learn {args.learn} --epochs "
        f"{args.epochs} --learning-rate {args.learning_rate:g} --low-quality {args.low_quality} "
        f"--high-quality {args.high_quality}`"
    )


if __name__ == "__main__":
    RESULTS.mkdir(parents=True, exist_ok=True)
    main()
