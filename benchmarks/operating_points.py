"""Where users operate: for every front of the search-quality benchmark and every baseline
family, the bits saved against the IJG curve at equal accuracy at 99, 98, 95 and 90% of the
uncompressed accuracy, and the BD-rate over the high-accuracy range only (from IJG quality 50
up), on the test split, in top-1 and in mean log-probability, with 95% paired bootstrap
intervals. Reads the runs benchmarks/search_quality.py left; runs no search.

    python benchmarks/operating_points.py [--scenario input]
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from common import IMAGENET_SAMPLE, ROOT, SPLITS, record, unpacked
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.report.curves import TEST_SCORES, curve_summary
from qsearch.report.operating import TARGETS, crossing_cell, percent_cell
from qsearch.search.metrics import operating_target

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"
METRICS = ("top1", "logprob")


def uncompressed(scenario: str) -> dict:
    """The network's figures on the uncompressed test images (cached beside the references)."""
    path = RESULTS / scenario / "reference" / "uncompressed_test.json"
    if not path.exists():
        classifier = load_classifier()
        images = load_images(
            IMAGENET_SAMPLE,
            split_file=SPLITS,
            split="test",
            compress_at=scenario,
            preprocessing=classifier.preprocessing,
        )
        path.write_text(json.dumps(ClassifierEvaluator(images, classifier).reference, indent=2))
    return json.loads(path.read_text())


def curves(scenario: str) -> dict[str, pd.DataFrame]:
    """Each searched front re-scored on the test split, and each baseline family's sweep."""
    found = {}
    for run in sorted(p for p in (RESULTS / scenario).iterdir() if (p / TEST_SCORES).exists()):
        front = pd.read_csv(run / "front.csv")
        scores = pd.read_csv(run / TEST_SCORES).set_index("key")
        found[run.name] = scores.loc[front["key"][front["key"].isin(scores.index)]].reset_index()
    for path in sorted((RESULTS / scenario / "reference").glob("*_test.csv")):
        if path.stem != "ijg_test":
            found[f"{path.stem.removesuffix('_test')} sweep"] = pd.read_csv(path)
    return found


def high_cell(summary: dict) -> str:
    return percent_cell(
        summary.get("bd_rate_high_accuracy_percent"),
        summary.get("bd_rate_high_accuracy_ci95_low"),
        summary.get("bd_rate_high_accuracy_ci95_high"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="input", choices=("input", "source"))
    args = parser.parse_args()
    reference = uncompressed(args.scenario)
    ijg = pd.read_csv(RESULTS / args.scenario / "reference" / "ijg_test.csv")
    sections = []
    for metric in METRICS:
        rows = []
        for name, frame in curves(args.scenario).items():
            summary = curve_summary(frame, ijg, metric, "bpp")
            rows.append(
                f"| {name} | "
                + " | ".join(
                    crossing_cell(
                        frame, ijg, metric, operating_target(metric, reference[metric], f)
                    )
                    for f in TARGETS
                )
                + f" | {high_cell(summary)} | {summary['bd_rate_vs_ijg_percent']:+.1f}% |"
            )
        targets = ", ".join(
            f"{100 * f:g}%: {operating_target(metric, reference[metric], f):.4f}" for f in TARGETS
        )
        sections.append(
            f"**{metric}** (uncompressed {reference[metric]:.4f}; targets {targets})\n\n"
            "| front | 99% | 98% | 95% | 90% | BD-rate, IJG q50 up | BD-rate, whole range |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        )
    record(
        f"Operating points ({args.scenario} scenario, test split, 400 images)",
        "Bits against the IJG curve where each front's envelope crosses a share of the uncompressed "
        "accuracy (a figure of the front, not of one table; negative = fewer bits), at a share of "
        "the uncompressed accuracy (for log-probability: the network keeping that share of its "
        "probability for the true class, geometric mean), with 95% paired bootstrap intervals; "
        "* = the interval excludes zero; - = a curve does not reach that accuracy.\n\n"
        + "\n\n".join(sections)
        + f"\n\nCommand: `python benchmarks/operating_points.py --scenario {args.scenario}`",
    )


if __name__ == "__main__":
    with unpacked(RESULTS):
        main()
