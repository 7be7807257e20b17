"""Tables for a detector and a segmenter, on real networks and real labels: YOLOX-Nano (COCO
mAP@[.5:.95]) and the MediaPipe selfie segmenter (person IoU), COCO128, each stored image
compressed at its own size. A search on train2017 (resumable), judged on val2017, which neither
network trained on: BD-rate against IJG and the tables chosen for 99/98/95% of the uncompressed
figure with their own held-out savings; and the codec ladder on val2017. Every interval is a
paired bootstrap over images that recomputes the pooled figure on each resample.

    python benchmarks/tasks.py [--task detect] [--budget 60] [--codecs mozjpeg,jpegli,webp,avif,jxl]

The run folder is benchmarks/results/detection/ (segmentation/): its front.csv names its
tables relative to it; the ladder's curves are kept in its ladder/ subfolder.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from common import ROOT, record, unpacked
from qsearch.codecs.codec import EncoderSettings
from qsearch.report.curves import cached_frame, sweep
from qsearch.report.ladder import ladder, markdown
from qsearch.report.operating import percent_cell
from qsearch.report.plots import plot_curves
from qsearch.tables.families import make_family

COCO128 = ROOT.parent / "shared" / "data" / "coco128"
MODELS = ROOT.parent / "shared" / "models"
DECLARATIONS = ROOT / "tests" / "data" / "declarations"
QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
"""Each codec's own quality scale (AVIF at full size is slow: eleven points, not nineteen)."""
TASKS = {
    "detect": dict(
        model=MODELS / "yolox_nano.onnx", declaration="yolox_nano.json",
        labels=COCO128 / "detection" / "labels", folder="detection", metrics=("map", "ap50"),
        network="YOLOX-Nano (COCO mAP@[.5:.95] and AP50 against the YOLO boxes)",
    ),
    "segment": dict(
        model=MODELS / "selfie_segmentation.tflite", declaration="selfie_segmentation.json",
        labels=COCO128 / "segmentation" / "masks", folder="segmentation",
        metrics=("miou_ref", "miou"),
        network="MediaPipe selfie segmenter, searched and judged by its person IoU against its own "
        "mask on the uncompressed image (`miou_ref`): its IoU against the COCO masks (`miou`, "
        "pooled over the 100 masks a split) stays within 0.356-0.384 from IJG quality 5 to 95 on "
        "val2017, a curve with nothing to choose on",
    ),
}  # fmt: skip


def task_evaluator(task: str, split: str, settings: EncoderSettings = EncoderSettings()):
    """The task's evaluator on a COCO128 split, as `qsearch run --task TASK --data
    images/SPLIT --annotations LABELS/SPLIT` builds it."""
    from qsearch.tasks.evaluation import task_evaluator as build

    spec = TASKS[task]
    declared = json.loads((DECLARATIONS / spec["declaration"]).read_text())
    return build(task, spec["model"], COCO128 / "images" / split, spec["labels"] / split,
                 declared=declared, settings=settings)  # fmt: skip


def searched(task: str, budget: int, searcher: str):
    """The search on train2017 judged on val2017 (resumed where it stopped)."""
    import qsearch
    from qsearch.search.space import make_space

    made = qsearch.make_searcher(searcher)
    return qsearch.run(
        task_evaluator(task, "train2017"),
        made,
        ROOT / "benchmarks" / "results" / TASKS[task]["folder"],
        objective=qsearch.Objective(metric=TASKS[task]["metrics"][0]),
        space=make_space(made.default_space, family=make_family("ijg")),
        budget=budget,
        test_evaluator=task_evaluator(task, "val2017"),
        progress=True,
    )


def codec_curves(task: str, run, codecs: list[str]) -> dict[str, pd.DataFrame]:
    """IJG (the run's own val2017 curve), the front's tables, and each codec's quality sweep."""
    folder = run.directory / "ladder"
    folder.mkdir(exist_ok=True)
    ijg = pd.read_csv(run.directory / "ijg_test.csv")
    front = run.front
    tested = pd.read_csv(run.directory / "test_scores.csv").drop_duplicates("key").set_index("key")
    curves = {
        "IJG (reference)": ijg,
        "searched front's tables": tested.loc[front["key"]].reset_index(),
    }
    scorer = task_evaluator(task, "val2017")
    for codec in codecs:
        settings = EncoderSettings(codec=codec)
        family = make_family("ijg") if settings.encoder.takes_tables else None
        curves[codec] = cached_frame(
            folder / f"{codec}.csv",
            lambda s=settings, f=family: sweep(scorer, f, QUALITIES, settings=s, progress=True),
        )
    scorer.close()
    return curves


def operating_lines(run, metric: str) -> str:
    """The tables chosen on train2017 for 99/98/95%, judged on val2017."""
    lines = []
    for fraction in (0.99, 0.98, 0.95):
        lines.append(f"- {run.describe_operating_point(fraction, metric)}")
    return "\n".join(lines)


def bd_cell(summary: dict, name: str) -> str:
    """A BD-rate of a run's summary with its interval, as the ladder writes them."""
    value = summary.get(f"{name}_percent", summary.get(f"{name}_vs_ijg_percent"))
    return percent_cell(value, summary.get(f"{name}_ci95_low"), summary.get(f"{name}_ci95_high"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(TASKS), default="detect")
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--searcher", default="nsga2")
    parser.add_argument("--codecs", default="mozjpeg,jpegli,webp,avif,jxl")
    args = parser.parse_args()
    spec = TASKS[args.task]
    run = searched(args.task, args.budget, args.searcher)
    curves = codec_curves(args.task, run, [c for c in args.codecs.split(",") if c])
    uncompressed = json.loads((run.directory / "reference.json").read_text())["test"]
    table = ladder(curves, curves["IJG (reference)"], spec["metrics"], uncompressed)
    metric = spec["metrics"][0]
    plot_curves(
        curves, metric, run.directory / "ladder" / f"{metric}.png",
        title=f"{metric} vs bpp on COCO128 val2017 (stored size): IJG, the front searched on "
        "train2017, and other codecs",
        levels=[0.98 * uncompressed[metric], 0.95 * uncompressed[metric]],
    )  # fmt: skip
    summary = run.curve_summary("test", metric)
    record(
        f"Tables for a {args.task} network ({spec['folder']})",
        f"{spec['network']}, COCO128, each stored image compressed at its own size, 4:2:0. "
        f"`{args.searcher}` searched {args.budget} tables on the 128 train2017 images (the "
        f"network trained on them), judged on the 128 val2017 images (it did not): uncompressed "
        f"{metric} {uncompressed[metric]:.4f} there. BD-rate of the searched front against IJG on "
        f"val2017: {bd_cell(summary, 'bd_rate')} (from IJG q50 up: "
        f"{bd_cell(summary, 'bd_rate_high_accuracy')}).\n\nTables chosen on train2017, "
        f"judged on val2017:\n\n{operating_lines(run, metric)}\n\nThe codec ladder on val2017 "
        "(% bits against IJG at equal accuracy, 95% paired bootstrap intervals recomputing the "
        "pooled figure, * = the interval excludes zero):\n\n"
        + markdown(table)
        + f"\n\nCommand: `python benchmarks/tasks.py --task {args.task} --budget {args.budget} "
        f"--searcher {args.searcher} --codecs {args.codecs}`",
    )


if __name__ == "__main__":
    for task in TASKS.values():
        (ROOT / "benchmarks" / "results" / task["folder"]).mkdir(parents=True, exist_ok=True)
    with (
        unpacked(ROOT / "benchmarks" / "results" / "detection"),
        unpacked(ROOT / "benchmarks" / "results" / "segmentation"),
    ):
        main()
