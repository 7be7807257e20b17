"""Where the `targets` searcher's gain comes from: for each target, the table it started from
(the family reaching the target with the fewest bits) and its table after each round of band
moves, replayed from the run's record (no search is rerun), scored on the split the run did not
search: the bits each saves against the IJG curve at its own accuracy (paired bootstrap
interval over images), in top-1 and in mean log-probability, and how far it landed from the
target on the searched images. Family choice against band moves, round by round.

    python benchmarks/targets_rounds.py [--run benchmarks/results/search_quality/input/targets-b368-s0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from common import ROOT, record, unpacked
from cross_fit import cell, own_saving
from qsearch.report.curves import REFERENCE, scored, write_csv
from qsearch.search.journal import Journal
from qsearch.search.searcher import make_searcher
from qsearch.search.space import make_space
from search_quality import evaluator, reference_curve

RESULTS = ROOT / "benchmarks" / "results" / "search_quality"
DEFAULT_RUN = RESULTS / "input" / "targets-b368-s0"
ROUNDS_FILE = "rounds_judged.csv"


def replay_centres(directory: Path) -> tuple[list[list], object, dict, dict]:
    """Each target's table at the start of every round (its centre), by replaying the recorded
    trials through a fresh searcher; the searcher itself, the trials by key and the identity."""
    trials, _, identity = Journal.read(directory)
    by_key = {t.qtable.key: t for t in trials}
    reference = json.loads((directory / REFERENCE).read_text())["search"]
    bound_to = SimpleNamespace(accuracy_metrics=tuple(reference), reference=reference, images=None)
    searcher = make_searcher(identity["searcher"], **json.loads(identity["options"]))
    searcher.setup(make_space("full"), bound_to, int(identity["seed"]))
    rounds = []
    while True:
        tables = searcher.ask(10**6)  # a whole generation
        if searcher.bases is not None:
            rounds.append([searcher.table(t) for t in range(len(searcher.targets))])
        if any(table.key not in by_key for table in tables):
            return rounds, searcher, by_key, identity
        searcher.tell([by_key[table.key] for table in tables])


def judged_cell(ijg: pd.DataFrame, point: pd.Series, metric: str) -> str:
    """One table's saving at its own accuracy, with its interval."""
    value, draws = own_saving(ijg, point, metric)
    return cell(value, draws) if np.isfinite(value) else "outside IJG's range"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    directory = parser.parse_args().run.resolve()
    with unpacked(RESULTS / "input" / "reference"), unpacked(directory):  # only what it reads
        report_rounds(directory)


def report_rounds(directory: Path) -> None:
    """Replay, score the centres on the judged split (cached in the run), and record the table."""
    rounds, searcher, searched, identity = replay_centres(directory)
    judged_split = "test" if "input-swapped" not in directory.parts else "search"
    path = directory / ROUNDS_FILE
    tables = {table.key: table for centres in rounds for table in centres}
    known = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["key"])
    missing = [key for key in tables if key not in set(known["key"])]
    if missing:
        scorer = evaluator("input", judged_split)
        fresh = pd.DataFrame([{"key": k, **scored(scorer, tables[k])} for k in missing])
        known = pd.concat([known, fresh], ignore_index=True) if len(known) else fresh
        write_csv(known, path)
    scores = known.set_index("key")
    ijg = reference_curve("input", judged_split)
    rows = []
    for t, fraction in enumerate(searcher.targets):
        for r, centres in enumerate(rounds):
            table = centres[t]
            point = scores.loc[table.key]
            landed = searched.get(table.key)
            gap = (
                f"{landed.metrics[searcher._signal] - searcher.signal_targets[t]:+.3f}"
                if landed is not None
                else "not evaluated"
            )
            rows.append(
                f"| {100 * fraction:g}% | {'start' if r == 0 else r} | {gap} | "
                f"{point['bpp']:.3f} | {point['top1']:.3f} | "
                f"{judged_cell(ijg, point, 'top1')} | "
                f"{point['logprob']:.3f} | "
                f"{judged_cell(ijg, point, 'logprob')} |"
            )
    where = directory.relative_to(ROOT)
    record(
        f"Targets round by round: `{where}` (judged on the `{judged_split}` split)",
        f"Options `{identity['options']}`. For each target (a share of the uncompressed top-1 on the "
        "searched images), the table the searcher started from (the best family there) and its table "
        "after each round; 'landed' is its log-probability minus the target's on the searched images; "
        "the savings are % bits vs the IJG curve of the judged images at the table's own accuracy, "
        "[95% paired bootstrap interval], * = excludes zero.\n\n"
        "| target | round | landed (search) | bpp | top-1 | saving, top-1 | log-prob | saving, log-prob |\n"
        "|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nCommand: `python benchmarks/targets_rounds.py --run {where}`",
    )


if __name__ == "__main__":
    main()
