"""Do tables found for one network hold for another? The best Lite0 front
(benchmarks/results/best_front/) and the IJG quality sweep, scored on the test split by
EfficientNet-Lite0, Lite1 and Lite2: BD-rate vs IJG with its 95% paired bootstrap interval,
in top-1 and in mean log-probability of the true class.

    python benchmarks/transfer.py [--models efficientnet_lite0 efficientnet_lite1 efficientnet_lite2]
"""

from __future__ import annotations

import argparse

import pandas as pd

from common import IMAGENET_SAMPLE, ROOT, SPLITS, record, unpacked
from qsearch import QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.report import curve_summary, quality_curve, scored, write_csv

BEST = ROOT / "benchmarks" / "results" / "best_front"
OUT = ROOT / "benchmarks" / "results" / "transfer"


def score(model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(front, IJG curve) on the test split for ``model``, cached in benchmarks/results/transfer/."""
    front_path, ijg_path = OUT / f"{model}_front.csv", OUT / f"{model}_ijg.csv"
    if front_path.exists() and ijg_path.exists():
        return pd.read_csv(front_path), pd.read_csv(ijg_path)
    classifier = load_classifier(model)
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split="test", preprocessing=classifier.preprocessing
    )
    evaluator = ClassifierEvaluator(images, classifier)
    tables = pd.read_csv(BEST / "front.csv")["table"]
    front = pd.DataFrame(
        [{"table": t, **scored(evaluator, QTable.load(BEST / t.split("/")[-1]))} for t in tables]
    )
    ijg = quality_curve(evaluator)
    OUT.mkdir(parents=True, exist_ok=True)
    write_csv(front, front_path)
    write_csv(ijg, ijg_path)
    return front, ijg


def cell(result: dict) -> str:
    low, high = result.get("bd_rate_ci95_low"), result.get("bd_rate_ci95_high")
    star = " *" if result.get("significant") else ""
    return f"{result['bd_rate_vs_ijg_percent']:+.1f}% [{low:+.1f}, {high:+.1f}]{star}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
    )
    args = parser.parse_args()
    rows = []
    for model in args.models:
        front, ijg = score(model)
        rows.append(
            f"| {model} | {ijg['top1'].max():.3f} | {cell(curve_summary(front, ijg, 'top1', 'bpp'))} | "
            f"{cell(curve_summary(front, ijg, 'logprob', 'bpp'))} |"
        )
    record(
        "Transfer: the best Lite0 front on other networks (test split, 400 images)",
        "| network | best IJG top-1 | top-1 BD-rate vs IJG | log-probability BD-rate vs IJG |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n* = the 95% paired bootstrap interval excludes zero. The front's tables were "
        "searched for Lite0 (`slopes` from mozjpeg preset 4); each network is compared with the IJG sweep "
        "on its own inputs (Lite1 240 px, Lite2 260 px, compressed at the network's input).\n\n"
        "Command: `python benchmarks/transfer.py`",
    )


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    with unpacked(OUT):
        main()
