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
import shutil
from functools import cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from common import ROOT, evaluator, record, search, unpacked
from qsearch.report.curves import IJG_SEARCH, IJG_TEST, TEST_SCORES, frame_points, rescore
from qsearch.report.operating import TARGETS
from qsearch.report.pareto import bd_rate, bootstrap_samples, interval, saving_at
from qsearch.report.plots import plot_curves
from qsearch.search.front import non_dominated
from qsearch.search.journal import Journal
from qsearch.search.metrics import metric_sign, operating_target
from search_quality import BUDGET, VARIANTS, reference_curve, run, run_directory

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"


def swapped_run(variant: str, budget: int):
    """The variant searched on the test split and judged on the search split (resumable), with
    the scenario's IJG curves (computed once) linked in for its two splits."""
    out = run_directory("input-swapped", variant, 0, budget)
    out.mkdir(parents=True, exist_ok=True)
    for split, name in (("test", IJG_SEARCH), ("search", IJG_TEST)):
        reference_curve("input", split)
        if not (out / name).exists():
            (out / name).symlink_to(Path("../../input/reference") / f"ijg_{split}.csv")
    searcher, settings = VARIANTS.get(variant, (variant, {}))
    search(out, searcher, budget=budget, split="test", test_split="search", **settings)
    return out


@cache
def recorded(directory: Path) -> dict:
    """A fold run's trials by table key, read from its journal once."""
    return {t.qtable.key: t for t in Journal.read(directory)[0]}


def front_tables(directory: Path, rank: str) -> dict:
    """The fold's front, by key: as the run exported it (``run``: ranked by its searched metric),
    or the tables non-dominated in (bpp, ``rank``) on the searched images."""
    trials = [t for t in recorded(directory).values() if t.state == "complete"]
    if rank == "run":
        keys = set(pd.read_csv(directory / "front.csv")["key"])
    else:
        sign = metric_sign(rank)
        kept = non_dominated(
            [t.metrics["bpp"] for t in trials], [sign * t.metrics[rank] for t in trials]
        )
        keys = {trials[i].qtable.key for i in kept}
    return {t.qtable.key: t.qtable for t in trials if t.qtable.key in keys}


def judged(
    directory: Path, ijg: pd.DataFrame, metric: str, rank: str, split: str
) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """(IJG points, front points, front frame) on ``split``, the split the fold's tables were not
    chosen on; front tables not yet scored there are scored and kept with the run's scores."""
    tables, path = front_tables(directory, rank), directory / TEST_SCORES
    scored_keys = set(pd.read_csv(path, usecols=["key"])["key"])
    if set(tables) - scored_keys:
        rescore(evaluator("input", split), tables, path)
    scores = pd.read_csv(path)
    front = scores[scores["key"].isin(tables)]
    return frame_points(ijg, metric), frame_points(front, metric), front


def uncompressed(split: str) -> dict:
    """The network's figures on the uncompressed images of ``split`` (computed once, kept beside
    the scenario's IJG curves: every run of the scenario shares them)."""
    path = RESULTS / "input" / "reference" / f"uncompressed_{split}.json"
    if not path.exists():
        path.write_text(json.dumps(evaluator("input", split).reference, indent=2))
    return json.loads(path.read_text())


def measures(ijg: pd.DataFrame, metric: str, split: str) -> dict:
    """BD-rates over the whole range and from IJG q50 up, and the saving at each operating
    point (fractions of the uncompressed value on the judged ``split``), as curve statistics."""
    reference = uncompressed(split)[metric]
    floor = float(ijg.loc[ijg["quality"] == 50, metric].iloc[0])
    return {
        "BD-rate, whole range": bd_rate,
        "BD-rate, IJG q50 up": partial(bd_rate, floor=floor),
        **{
            f"saving at {100 * f:g}%": partial(
                saving_at, target=operating_target(metric, reference, f)
            )
            for f in TARGETS
        },
    }


def fold_draws(
    directory, ijg: pd.DataFrame, metric: str, seed: int, rank: str, split: str
) -> dict[str, tuple[float, np.ndarray]]:
    """Point estimate and bootstrap draws of each measure for one fold."""
    reference, front_points, front = judged(directory, ijg, metric, rank, split)
    found = {}
    for name, statistic in measures(ijg, metric, split).items():
        point = statistic(ijg["bpp"], ijg[metric], front["bpp"], front[metric])
        found[name] = (point, bootstrap_samples(reference, front_points, statistic, seed=seed))
    searched = "search" if split == "test" else "test"
    for fraction, key in chosen_tables(directory, rank, searched).items():
        name = f"table chosen for {100 * fraction:g}%"
        found[name] = (np.nan, np.full(1, np.nan))
        if key is not None:
            found[name] = own_saving(ijg, front[front["key"] == key].iloc[0], metric, seed)
    return found


def chosen_tables(directory: Path, rank: str, searched: str) -> dict[float, str | None]:
    """For each operating point, the table a user would take from the searched images alone:
    the cheapest front table whose searched top-1 reaches that share of the searched images'
    uncompressed top-1 (None where none does). Judging it on the other split involves no
    choice there, so a dense front gains nothing from lucky points."""
    reference = uncompressed(searched)["top1"]
    trials = recorded(directory)
    front = [trials[key] for key in front_tables(directory, rank)]
    chosen: dict[float, str | None] = {}
    for fraction in TARGETS:
        target = operating_target("top1", reference, fraction)
        reaching = [t for t in front if t.metrics["top1"] >= target]
        best = min(reaching, key=lambda t: t.metrics["bpp"]) if reaching else None
        chosen[fraction] = best.qtable.key if best is not None else None
    return chosen


def own_saving(
    ijg: pd.DataFrame, point: pd.Series, metric: str, seed: int = 0
) -> tuple[float, np.ndarray]:
    """Bits of one table against the IJG curve at the table's own accuracy, and bootstrap draws
    over images (paired: the same images for the table and the curve)."""
    figures = json.loads(point["per_image"])
    one = [{"accuracy": figures[metric], "bytes": figures["bytes"], "pixels": figures["pixels"]}]

    def statistic(ref_bpp, ref_acc, bpp, acc):
        return saving_at(ref_bpp, ref_acc, bpp, acc, target=float(acc[0]))

    value = statistic(ijg["bpp"], ijg[metric], [point["bpp"]], [point[metric]])
    return value, bootstrap_samples(frame_points(ijg, metric), one, statistic, seed=seed)


def cell(point: float, draws: np.ndarray) -> str:
    if not np.isfinite(point):
        return "not reached"
    low, high = interval(draws)
    if not np.isfinite(low):
        return f"{point:+.1f}% (no interval: most resamples do not reach it)"
    star = " *" if high < 0 or low > 0 else ""
    return f"{point:+.1f}% [{low:+.1f}, {high:+.1f}]{star}"


def images_to_settle(point: float, draws: np.ndarray, images: int = 800) -> str:
    """Judged images for the interval around ``point`` to exclude zero, were the estimate to hold
    ('-' where it already does; 'no gain' where the estimate is not a saving)."""
    low, high = interval(draws)
    if not np.isfinite(low) or high < 0 or low > 0:
        return "-"
    if point >= 0:
        return "no gain"
    return f"{images * ((high - low) / 2 / abs(point)) ** 2:,.0f}"


def export_front(directory: Path, rank: str, judged_split: str, out: Path, command: str) -> None:
    """The fold's front (searched on ``directory``'s split, ranked by ``rank``) as cjpeg
    ``-qtables`` files with its figures on both splits, the table to take at each operating
    point, and a plot against IJG on the judged split."""
    trials = recorded(directory)
    tables = front_tables(directory, rank)
    scores = pd.read_csv(directory / TEST_SCORES).set_index("key")
    shutil.rmtree(out, ignore_errors=True)
    (out / "tables").mkdir(parents=True)
    rows = []
    for key in tables:
        trial, judged_row = trials[key], scores.loc[key]
        name = f"tables/trial-{trial.number:04d}.txt"
        trial.qtable.save(
            out / name,
            comment=f"qsearch {command}: trial {trial.number}, {judged_split} split "
            f"top1={judged_row['top1']:.4f} logprob={judged_row['logprob']:.4f} bpp={judged_row['bpp']:.4f}",
        )
        rows.append(
            {
                "table": name,
                **{m: trial.metrics[m] for m in ("bpp", "top1", "logprob")},
                **{f"{judged_split}_{m}": judged_row[m] for m in ("bpp", "top1", "logprob")},
                "key": key,
            }
        )
    front = pd.DataFrame(rows).sort_values("bpp")
    front.to_csv(out / "front.csv", index=False)
    searched = "search" if judged_split == "test" else "test"
    chosen = chosen_tables(directory, rank, searched)
    by_key = front.set_index("key")
    pd.DataFrame(
        [{"fraction": f, "table": by_key.loc[k, "table"] if k else None} for f, k in chosen.items()]
    ).to_csv(out / "operating_points.csv", index=False)
    judged_front = front.drop(columns=["bpp", "top1", "logprob"]).rename(
        columns={f"{judged_split}_{m}": m for m in ("bpp", "top1", "logprob")}
    )
    plot_curves(
        {
            f"front on the {judged_split} split": judged_front,
            f"IJG quality, {judged_split} split": reference_curve("input", judged_split),
        },
        "top1",
        out / "front.png",
        title=f"{command}: front chosen on the {searched} split, judged on the {judged_split} split",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="slopes-mozjpeg4")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument(
        "--rank",
        default="run",
        help="which tables form each fold's front: run (as the run ranked them, by its metric) "
        "or a metric, e.g. logprob (non-dominated in bpp and that metric on the searched images)",
    )
    parser.add_argument(
        "--export",
        type=Path,
        help="write the first fold's front (tables, figures, the table for each operating point, "
        "a plot) to this folder, e.g. benchmarks/results/best_front",
    )
    args = parser.parse_args()
    searched = run_directory("input", args.variant, 0, args.budget)
    if json.loads((searched / "summary.json").read_text())["trials"] < args.budget:
        run("input", args.variant, 0, args.budget)
    folds = {
        "searched on `search`, judged on `test`": (searched, "test"),
        "searched on `test`, judged on `search`": (
            swapped_run(args.variant, args.budget),
            "search",
        ),
    }
    command = f"cross_fit.py --variant {args.variant} --budget {args.budget}" + (
        "" if args.rank == "run" else f" --rank {args.rank}"
    )
    rows = []
    for metric in ("top1", "logprob"):
        draws = {
            fold: fold_draws(
                directory, reference_curve("input", split), metric, seed, args.rank, split
            )
            for seed, (fold, (directory, split)) in enumerate(folds.items())
        }
        for range_name in draws[next(iter(folds))]:
            cells = [cell(*draws[fold][range_name]) for fold in folds]
            points = [draws[fold][range_name][0] for fold in folds]
            if not np.all(np.isfinite(points)):  # a fold whose front does not reach the target
                rows.append(f"| {metric}, {range_name} | {' | '.join(cells)} | not reached | - |")
                continue
            combined = np.mean([draws[fold][range_name][1] for fold in folds], axis=0)
            point = float(np.mean(points))
            rows.append(
                f"| {metric}, {range_name} | {' | '.join(cells)} | {cell(point, combined)} | "
                f"{images_to_settle(point, combined)} |"
            )
    record(
        f"Cross-fitted: {args.variant} (budget {args.budget} a fold"
        + ("" if args.rank == "run" else f", front ranked by {args.rank}")
        + ") judged on all 800 images",
        "% bits vs IJG at equal accuracy on images the tables were not chosen on (BD-rates, and the "
        "saving at a fraction of the uncompressed accuracy), each fold with its 95% paired bootstrap "
        "interval, and the two-fold estimate (mean of the folds, interval from independent draws of "
        "both): * = the interval excludes zero; negative is better. 'Table chosen for 98%' is the "
        "cheapest front table whose top-1 on the searched images reaches 98% of their uncompressed "
        "top-1 (what a user would take), judged on the other split against IJG at that table's own "
        "accuracy: no choice is made on the judged images, so it carries no bias from a dense front; "
        "'saving at 98%' interpolates the front's upper envelope on the judged images.\n\n"
        "The last column is how many judged images would make the cross-fitted interval exclude zero "
        "if the estimate held (intervals narrow as 1/sqrt(images)).\n\n"
        f"| measure | {' | '.join(folds)} | cross-fitted (800 images) | images to settle |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + f"\n\nCommand: `python benchmarks/{command}`",
    )
    if args.export:
        directory, split = next(iter(folds.values()))
        export_front(directory, args.rank, split, args.export, command)


if __name__ == "__main__":
    with unpacked(RESULTS):
        main()
