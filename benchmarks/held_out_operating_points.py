"""The operating points of a run as `qsearch front --target` reports them now: for 99/98/95/90%
of the uncompressed top-1, the table chosen on the searched images (and the one whose one-sided
95% bound reaches the target there), judged on the held-out images at its own accuracy: the
share of the uncompressed top-1 it keeps there and its own bits against IJG, with intervals;
the front's envelope crossing apart. Reads a run folder (gzipped files are read from a copy);
evaluates nothing.

    python benchmarks/held_out_operating_points.py [--run benchmarks/results/search_quality/input/targets-b368-s0]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
from pathlib import Path

from common import ROOT, record
from qsearch.report.operating import TARGETS
from qsearch.report.runs import Run

DEFAULT = ROOT / "benchmarks" / "results" / "search_quality" / "input" / "targets-b368-s0"


def readable_copy(folder: Path, into: Path) -> Path:
    """The run folder with its gzipped files unpacked, in ``into`` (the original untouched)."""
    copy = into / folder.name
    shutil.copytree(folder, copy, symlinks=False)
    for packed in copy.rglob("*.gz"):
        with gzip.open(packed, "rb") as source, open(packed.with_suffix(""), "wb") as target:
            shutil.copyfileobj(source, target)
        packed.unlink()
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run = Run(readable_copy(args.run.resolve(), Path(scratch)))
        lines = [run.describe_operating_point(fraction, "top1") for fraction in TARGETS]
    where = args.run.resolve().relative_to(ROOT)
    record(
        f"Operating points held out: `{where}`",
        f"Front of the run ({len(run.front)} tables, ranked by its searched metric "
        f"{run.metric}), chosen on the `search` split, judged on the `test` split:\n\n```\n"
        + "\n".join(lines)
        + "\n```\n\n"
        f"Command: `python benchmarks/held_out_operating_points.py --run {where}`",
    )


if __name__ == "__main__":
    main()
