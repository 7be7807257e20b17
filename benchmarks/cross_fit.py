"""Two-fold cross-fitting: search on one split and judge on the other, then swap, so that a
method's figures stand on all 800 images, none of which its tables were chosen on. Each fold's
BD-rates vs IJG (whole range and from IJG quality 50 up) are bootstrapped over its own judged
images; the two folds' resamples are independent, so the cross-fitted estimate is their mean
and its interval the percentiles of the mean of independent draws.

    python benchmarks/cross_fit.py [--variant slopes-mozjpeg4]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import pandas as pd

from common import ROOT, record, unpacked
from qsearch import report
from qsearch.cli import main as qsearch
from qsearch.pareto import bd_rate, bootstrap_samples, interval
from search_quality import BUDGET, VARIANTS, data_arguments

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"


def swapped_run(variant: str):
    """The variant searched on the test split and judged on the search split (resumable)."""
    out = RESULTS / "input-swapped" / f"{variant}-s0"
    searcher, extra = VARIANTS.get(variant, (variant, []))
    command = [
        "run", *data_arguments("input"), "--split", "test", "--test-split", "search",
        "--searcher", searcher, "--budget", str(BUDGET), "--seed", "0", "--quiet", "--out", str(out),
        *extra,
    ]  # fmt: skip
    if qsearch(command) != 0:
        raise SystemExit(f"the swapped {variant} run failed; see above")
    return out


def judged(
    directory, ijg: pd.DataFrame, metric: str
) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """(IJG points, front points, front frame) on the split the fold's tables were not chosen on."""
    scores = pd.read_csv(directory / report.TEST_SCORES)
    front = scores[scores["key"].isin(pd.read_csv(directory / "front.csv")["key"])]
    return report._points(ijg, metric), report._points(front, metric), front


def fold_draws(
    directory, ijg: pd.DataFrame, metric: str, seed: int
) -> dict[str, tuple[float, np.ndarray]]:
    """Point estimate and bootstrap draws of each BD-rate for one fold."""
    reference, front_points, front = judged(directory, ijg, metric)
    floor = float(ijg.loc[ijg["quality"] == 50, metric].iloc[0])
    found = {}
    for name, statistic in (
        ("whole range", bd_rate),
        ("IJG q50 up", partial(bd_rate, floor=floor)),
    ):
        point = statistic(ijg["bpp"], ijg[metric], front["bpp"], front[metric])
        found[name] = (point, bootstrap_samples(reference, front_points, statistic, seed=seed))
    return found


def cell(point: float, draws: np.ndarray) -> str:
    low, high = interval(draws)
    star = " *" if high < 0 or low > 0 else ""
    return f"{point:+.1f}% [{low:+.1f}, {high:+.1f}]{star}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="slopes-mozjpeg4")
    args = parser.parse_args()
    folds = {
        "searched on `search`, judged on `test`": (
            RESULTS / "input" / f"{args.variant}-s0",
            pd.read_csv(RESULTS / "input" / "reference" / "ijg_test.csv"),
        ),
        "searched on `test`, judged on `search`": (
            swapped_run(args.variant),
            pd.read_csv(RESULTS / "input" / "reference" / "ijg_search.csv"),
        ),
    }
    rows = []
    for metric in ("top1", "logprob"):
        draws = {
            fold: fold_draws(directory, ijg, metric, seed)
            for seed, (fold, (directory, ijg)) in enumerate(folds.items())
        }
        for range_name in ("whole range", "IJG q50 up"):
            cells = [cell(*draws[fold][range_name]) for fold in folds]
            points = [draws[fold][range_name][0] for fold in folds]
            combined = np.mean([draws[fold][range_name][1] for fold in folds], axis=0)
            rows.append(
                f"| {metric}, {range_name} | {' | '.join(cells)} | {cell(float(np.mean(points)), combined)} |"
            )
    record(
        f"Cross-fitted: {args.variant} judged on all 800 images",
        "BD-rate vs IJG on images the tables were not chosen on, each fold with its 95% paired "
        "bootstrap interval, and the two-fold estimate (mean of the folds, interval from independent "
        "draws of both): * = the interval excludes zero.\n\n"
        f"| measure | {' | '.join(folds)} | cross-fitted (800 images) |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nCommand: `python benchmarks/cross_fit.py --variant {args.variant}`",
    )


if __name__ == "__main__":
    with unpacked(RESULTS):
        main()
