"""Early rejection: the same searcher, seed and budget with and without it; image forward
passes spent, and the final front's BD-rate against the IJG curve (search split, and the
front re-scored on the test split). Both runs compute the IJG curve for their report (the
early run first, to prune against it); those 19 evaluations are not counted in either.
Resumable: runs live in benchmarks/results/.

    python benchmarks/early_rejection.py [--searcher nsga2] [--budget 100] [--seed 0] [--z 1]
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from common import ROOT, record, search, unpacked


def run(out, args, z: float | None) -> dict:
    search(out, args.searcher, budget=args.budget, seed=args.seed, rejection_z=z)
    summary = json.loads((out / "summary.json").read_text())
    summary["seconds"] = float(pd.read_csv(out / "trials.csv")["seconds"].sum())
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searcher", default="nsga2")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--z", type=float, default=1.0, help="width of the rejection bound (standard errors)"
    )
    args = parser.parse_args()
    base = (
        ROOT
        / "benchmarks"
        / "results"
        / f"early_rejection_{args.searcher}_b{args.budget}_s{args.seed}"
    )
    base.mkdir(parents=True, exist_ok=True)
    with unpacked(base):  # its own folder only: other benchmarks may be running
        compare(args, base)


def compare(args, base) -> None:
    """Run (or resume) the full and the early-stopped searches, and record the comparison."""
    label = f"early-z{args.z:g}"
    results = {"full": run(base / "full", args, None)}
    for directory in sorted(base.glob("early-z*")):  # earlier widths, as recorded
        if directory.name != label and (directory / "summary.json").exists():
            results[directory.name] = {
                **json.loads((directory / "summary.json").read_text()),
                "seconds": float(pd.read_csv(directory / "trials.csv")["seconds"].sum()),
            }
    results[label] = run(base / label, args, args.z)
    full, early = results["full"], results[label]
    rows = [
        f"| {label} | {r['trials']} | {r['pruned']} | {r['images_scored']} | {r['seconds']:.0f} | "
        f"{r['search']['bd_rate_vs_ijg_percent']} | {r['test']['bd_rate_vs_ijg_percent']} | {r['front_size']} |"
        for label, r in results.items()
    ]
    saving = full["images_scored"] / early["images_scored"]
    moved = early["search"]["bd_rate_vs_ijg_percent"] - full["search"]["bd_rate_vs_ijg_percent"]
    record(
        f"Early rejection ({args.searcher}, budget {args.budget}, seed {args.seed}, search split 400 images)",
        "| run | trials | pruned | images through the network | evaluation s | BD-rate vs IJG, search % "
        "| BD-rate vs IJG, test % | front size |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n**{label}: forward passes saved: {saving:.2f}x; search-split BD-rate moved by {moved:+.2f} "
        f"points**\n\nCommand: `python benchmarks/early_rejection.py --searcher {args.searcher} "
        f"--budget {args.budget} --seed {args.seed} --z {args.z:g}`",
    )


if __name__ == "__main__":
    main()
