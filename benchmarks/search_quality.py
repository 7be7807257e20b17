"""How many bits each searcher saves against the IJG tables: every searcher searches the
`search` split at a fixed budget, its front is re-scored on the unseen `test` split, and
BD-rate and hypervolume are reported for both. Resumable: each run lives in
benchmarks/results/search_quality/SCENARIO/SEARCHER-sSEED and the same command continues it.

    python benchmarks/search_quality.py [--budget 150] [--seeds 0] [--scenario input]
        [--searchers quality nsga2 ...] [--report-only]
"""
from __future__ import annotations

import argparse
import json
import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common import IMAGENET_SAMPLE, ROOT, SPLITS, record  # noqa: E402
from qsearch.cli import main as qsearch  # noqa: E402
from qsearch.pareto import hypervolume  # noqa: E402
from qsearch.searchers import SEARCHERS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"
BEST_FRONT = ROOT / "benchmarks" / "results" / "best_front"
OPTIONS = {"gradient": ["--option", "steps=5"], "sensitivity": ["--option", "images_used=128"]}
ORDER = ["quality", "sensitivity", "nsga2", "bayes", "gradient", "ga", "de", "mcmc", "sorted", "random"]


def run_directory(scenario: str, searcher: str, seed: int):
    return RESULTS / scenario / f"{searcher}-s{seed}"


def run(scenario: str, searcher: str, seed: int, budget: int) -> None:
    out = run_directory(scenario, searcher, seed)
    command = ["run", "--data", str(IMAGENET_SAMPLE), "--split-file", str(SPLITS), "--split", "search",
               "--test-split", "test", "--compress-at", scenario, "--searcher", searcher, "--budget", str(budget),
               "--seed", str(seed), "--quiet", "--out", str(out), *OPTIONS.get(searcher, [])]
    if qsearch(command) != 0:
        print(f"{searcher} (seed {seed}) failed; see above")


def hypervolume_curve(trials: pd.DataFrame, metric: str) -> list[float]:
    """Hypervolume of the running front after each evaluation."""
    complete = trials[trials["state"] == "complete"]
    return [hypervolume(complete["bpp"][:k], complete[metric][:k]) for k in range(1, len(complete) + 1)]


def report(scenario: str, budget: int) -> None:
    rows, curves, best = [], {}, None
    for directory in sorted((RESULTS / scenario).glob("*-s*")):
        summary_path = directory / "summary.json"
        if not summary_path.exists():
            continue
        summary = json.loads(summary_path.read_text())
        trials = pd.read_csv(directory / "trials.csv")
        test = summary.get("test", {})
        rows.append(f"| {directory.name} | {summary['space']} | {summary['trials']} | {summary['front_size']} | "
                    f"{summary['search']['bd_rate_vs_ijg_percent']} | {test.get('bd_rate_vs_ijg_percent')} | "
                    f"{summary['search'].get('hypervolume')} | {test.get('hypervolume')} |")
        curves[directory.name] = hypervolume_curve(trials, summary["metric"])
        score = test.get("bd_rate_vs_ijg_percent")
        if score is not None and (best is None or score < best[0]):
            best = (score, directory)
    if not rows:
        print("no finished runs yet")
        return
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for label, curve in curves.items():
        axes.plot(range(1, len(curve) + 1), curve, label=label)
    axes.set_xlabel("evaluations")
    axes.set_ylabel("hypervolume (top-1, bpp <= 4)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    plot = RESULTS / scenario / "hypervolume.png"
    figure.savefig(plot)
    plt.close(figure)
    if best is not None and scenario == "input":
        shutil.rmtree(BEST_FRONT, ignore_errors=True)
        shutil.copytree(best[1] / "tables", BEST_FRONT)
        shutil.copy(best[1] / "front.csv", BEST_FRONT / "front.csv")
        shutil.copy(best[1] / "front.png", BEST_FRONT / "front.png")
    record(f"Search quality ({scenario} scenario, budget {budget}, search split 400 images, front re-scored on test)",
           "BD-rate vs the IJG curve on the same images and settings (4:2:0, standard Huffman); negative is "
           "better. No confidence intervals yet.\n\n"
           "| run | space | trials | front | BD-rate search % | BD-rate test % | HV search | HV test |\n"
           "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) +
           f"\n\nHypervolume vs evaluations: `{plot.relative_to(ROOT)}`"
           + (f"; best test BD-rate: {best[1].name} ({best[0]}%), tables in "
              f"`{BEST_FRONT.relative_to(ROOT)}`" if best else "") +
           f"\n\nCommand: `python benchmarks/search_quality.py --budget {budget} --scenario {scenario}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--scenario", choices=("input", "source"), default="input")
    parser.add_argument("--searchers", nargs="+", default=[n for n in ORDER if n in SEARCHERS] +
                        [n for n, _ in SEARCHERS.items() if n not in ORDER])
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        for seed in args.seeds:
            for searcher in args.searchers:
                run(args.scenario, searcher, seed, args.budget)
    report(args.scenario, args.budget)


if __name__ == "__main__":
    main()
