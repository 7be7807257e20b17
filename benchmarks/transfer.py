"""Do tables found for one network hold for another? A front (by default the best Lite0 front,
benchmarks/results/best_front/; or any run's, ``--front RUN``) and the IJG quality sweep, scored
on the test split by EfficientNet-Lite0, Lite1 and Lite2: BD-rate vs IJG and the bits saved at
98% and 95% of each network's uncompressed accuracy, with 95% paired bootstrap intervals, in
top-1 and in mean log-probability of the true class.

    python benchmarks/transfer.py [--front RUN] [--models efficientnet_lite0 efficientnet_lite1 ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd

from common import IMAGENET_SAMPLE, ROOT, SPLITS, record, unpacked
from qsearch import QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.report.curves import curve_summary, scored, sweep, write_csv
from qsearch.report.operating import crossing_cell, percent_cell
from qsearch.search.metrics import operating_target

BEST = ROOT / "benchmarks" / "results" / "best_front"
OUT = ROOT / "benchmarks" / "results" / "transfer"


def front_name(front_dir: Path) -> str:
    """The cache folder of a front: its folder's name and a digest of its tables, so that a
    front that changes (best_front is rewritten) is never served another front's scores."""
    keys = sorted(pd.read_csv(front_dir / "front.csv")["key"])
    return f"{front_dir.name}-{hashlib.sha256(''.join(keys).encode()).hexdigest()[:10]}"


def score(model: str, front_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(front, IJG curve, uncompressed figures) on the test split for ``model``, cached in
    benchmarks/results/transfer/ (a front's scores in a folder named after it and its tables)."""
    folder = OUT / front_name(front_dir)
    front_path, ijg_path = folder / f"{model}_front.csv", OUT / f"{model}_ijg.csv"
    reference_path = OUT / f"{model}_reference.json"
    if front_path.exists() and ijg_path.exists() and reference_path.exists():
        reference = json.loads(reference_path.read_text())
        return pd.read_csv(front_path), pd.read_csv(ijg_path), reference
    classifier = load_classifier(model)
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split="test", preprocessing=classifier.preprocessing
    )
    evaluator = ClassifierEvaluator(images, classifier)
    folder.mkdir(parents=True, exist_ok=True)
    reference_path.write_text(json.dumps(evaluator.reference, indent=2))
    if not front_path.exists():
        tables = pd.read_csv(front_dir / "front.csv")["table"]
        front = pd.DataFrame(
            [{"table": t, **scored(evaluator, QTable.load(front_dir / t))} for t in tables]
        )
        write_csv(front, front_path)
    if not ijg_path.exists():
        write_csv(sweep(evaluator), ijg_path)
    evaluator.close()
    return pd.read_csv(front_path), pd.read_csv(ijg_path), evaluator.reference


def cell(result: dict) -> str:
    return percent_cell(
        result["bd_rate_vs_ijg_percent"],
        result.get("bd_rate_ci95_low"),
        result.get("bd_rate_ci95_high"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"],
    )
    parser.add_argument(
        "--front", type=Path, default=BEST, help="a run folder whose front.csv and tables/ to score"
    )
    args = parser.parse_args()
    front_dir = args.front.resolve()
    summary = json.loads((front_dir / "summary.json").read_text())
    rows = []
    for model in args.models:
        front, ijg, reference = score(model, front_dir)
        for metric in ("top1", "logprob"):
            result = curve_summary(front, ijg, metric, "bpp")
            targets = [operating_target(metric, reference[metric], f) for f in (0.98, 0.95)]
            rows.append(
                f"| {model} | {metric} | {reference[metric]:.3f} | {cell(result)} | "
                + " | ".join(crossing_cell(front, ijg, metric, t, "not reached") for t in targets)
                + " |"
            )
    where = front_dir.relative_to(ROOT) if front_dir.is_relative_to(ROOT) else front_dir
    record(
        f"Transfer: the front of `{where}` on each network (test split, 400 images)",
        "| network | measure | uncompressed | BD-rate vs IJG | front crossing at 98% | front crossing at 95% |\n"
        "|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n% bits vs IJG at equal accuracy; * = the 95% paired bootstrap interval excludes zero. "
        f"The front's tables were searched by `{summary['searcher']}` on "
        f"{summary['identity'].get('evaluator')} "
        f"({summary['identity'].get('combine', 'one network')}); each network is compared with the "
        "IJG sweep on its own inputs (Lite1 240 px, Lite2 260 px, compressed at the network's input)."
        f"\n\nCommand: `python benchmarks/transfer.py --front {where}`",
    )


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    with unpacked(OUT):
        main()
