"""Two-fold cross-fitting: search on one split and judge on the other, then swap, so that a
method's figures stand on all 800 images, none of which its tables were chosen on. Each fold's
BD-rates vs IJG (whole range and from IJG quality 50 up) and the bits saved at 99/98/95/90% of
the uncompressed accuracy are bootstrapped over its own judged images; the two folds' resamples
are independent, so the cross-fitted estimate is their mean and its interval the percentiles of
the mean of independent draws. Both folds' runs are resumable: the same command continues them.

    python benchmarks/cross_fit.py [--variant slopes-mozjpeg4] [--budget 150]
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from common import ROOT, record, unpacked
from qsearch import report
from qsearch.cli import main as qsearch
from qsearch.pareto import bd_rate, bootstrap_samples, interval, saving_at
from qsearch.report import TARGETS
from qsearch.trial import operating_target
from search_quality import BUDGET, VARIANTS, data_arguments, reference_curve, run, run_directory

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"


def swapped_run(variant: str, budget: int):
    """The variant searched on the test split and judged on the search split (resumable), with
    the scenario's IJG curves (computed once) linked in for its two splits."""
    out = run_directory("input-swapped", variant, 0, budget)
    out.mkdir(parents=True, exist_ok=True)
    for split, name in (("test", report.IJG_SEARCH), ("search", report.IJG_TEST)):
        reference_curve("input", split)
        if not (out / name).exists():
            (out / name).symlink_to(Path("../../input/reference") / f"ijg_{split}.csv")
    searcher, extra = VARIANTS.get(variant, (variant, []))
    command = [
        "run", *data_arguments("input"), "--split", "test", "--test-split", "search",
        "--searcher", searcher, "--budget", str(budget), "--seed", "0", "--quiet", "--out", str(out),
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


def measures(directory, ijg: pd.DataFrame, metric: str) -> dict:
    """BD-rates over the whole range and from IJG q50 up, and the saving at each operating
    point (fractions of the uncompressed value on the judged split), as curve statistics."""
    uncompressed = json.loads((directory / report.REFERENCE).read_text())["test"][metric]
    floor = float(ijg.loc[ijg["quality"] == 50, metric].iloc[0])
    return {
        "BD-rate, whole range": bd_rate,
        "BD-rate, IJG q50 up": partial(bd_rate, floor=floor),
        **{
            f"saving at {100 * f:g}%": partial(
                saving_at, target=operating_target(metric, uncompressed, f)
            )
            for f in TARGETS
        },
    }


def fold_draws(
    directory, ijg: pd.DataFrame, metric: str, seed: int
) -> dict[str, tuple[float, np.ndarray]]:
    """Point estimate and bootstrap draws of each measure for one fold."""
    reference, front_points, front = judged(directory, ijg, metric)
    found = {}
    for name, statistic in measures(directory, ijg, metric).items():
        point = statistic(ijg["bpp"], ijg[metric], front["bpp"], front[metric])
        found[name] = (point, bootstrap_samples(reference, front_points, statistic, seed=seed))
    return found


def cell(point: float, draws: np.ndarray) -> str:
    if not np.isfinite(point):
        return "not reached"
    low, high = interval(draws)
    star = " *" if high < 0 or low > 0 else ""
    return f"{point:+.1f}% [{low:+.1f}, {high:+.1f}]{star}"


def images_to_settle(point: float, draws: np.ndarray, images: int = 800) -> str:
    """Judged images for the interval around ``point`` to exclude zero, were the estimate to hold
    ('-' where it already does; 'no gain' where the estimate is not a saving)."""
    low, high = interval(draws)
    if high < 0 or low > 0:
        return "-"
    if point >= 0:
        return "no gain"
    return f"{images * ((high - low) / 2 / abs(point)) ** 2:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="slopes-mozjpeg4")
    parser.add_argument("--budget", type=int, default=BUDGET)
    args = parser.parse_args()
    searched = run_directory("input", args.variant, 0, args.budget)
    if not (searched / "summary.json").exists() or (
        json.loads((searched / "summary.json").read_text())["trials"] < args.budget
    ):
        run("input", args.variant, 0, args.budget)
    folds = {
        "searched on `search`, judged on `test`": (
            searched,
            pd.read_csv(RESULTS / "input" / "reference" / "ijg_test.csv"),
        ),
        "searched on `test`, judged on `search`": (
            swapped_run(args.variant, args.budget),
            pd.read_csv(RESULTS / "input" / "reference" / "ijg_search.csv"),
        ),
    }
    rows = []
    for metric in ("top1", "logprob"):
        draws = {
            fold: fold_draws(directory, ijg, metric, seed)
            for seed, (fold, (directory, ijg)) in enumerate(folds.items())
        }
        for range_name in draws[next(iter(folds))]:
            cells = [cell(*draws[fold][range_name]) for fold in folds]
            points = [draws[fold][range_name][0] for fold in folds]
            combined = np.mean([draws[fold][range_name][1] for fold in folds], axis=0)
            if not np.all(np.isfinite(points)):  # a fold whose front does not reach the target
                rows.append(f"| {metric}, {range_name} | {' | '.join(cells)} | not reached | |")
                continue
            point = float(np.mean(points))
            rows.append(
                f"| {metric}, {range_name} | {' | '.join(cells)} | {cell(point, combined)} | "
                f"{images_to_settle(point, combined)} |"
            )
    record(
        f"Cross-fitted: {args.variant} (budget {args.budget} a fold) judged on all 800 images",
        "% bits vs IJG at equal accuracy on images the tables were not chosen on (BD-rates, and the "
        "saving at a fraction of the uncompressed accuracy), each fold with its 95% paired bootstrap "
        "interval, and the two-fold estimate (mean of the folds, interval from independent draws of "
        "both): * = the interval excludes zero; negative is better.\n\n"
        "The last column is how many judged images would make the cross-fitted interval exclude zero "
        "if the estimate held (intervals narrow as 1/sqrt(images)).\n\n"
        f"| measure | {' | '.join(folds)} | cross-fitted (800 images) | images to settle |\n"
        "|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nCommand: `python benchmarks/cross_fit.py --variant {args.variant} --budget {args.budget}`",
    )


if __name__ == "__main__":
    with unpacked(RESULTS):
        main()
