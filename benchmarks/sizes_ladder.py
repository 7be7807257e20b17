"""The codec ladder at both sent sizes for a task's network, as a user asks for it:
``qsearch baseline --task T --size stored,network --codec jpeg,mozjpeg,avif`` on COCO128 val2017
against its labels, each codec at each size, bits per stored pixel; its ladder (BD-rate and bits
at each target against IJG at the stored size, paired bootstrap intervals) and the rung with the
fewest bits at each target are recorded.

    python benchmarks/sizes_ladder.py [--task detect] [--codecs jpeg,mozjpeg,avif]

The sweeps are kept in benchmarks/results/sizes_ladder/TASK (not committed; the command
rebuilds them)."""

from __future__ import annotations

import argparse
import json

from tasks import COCO128, DECLARATIONS, QUALITIES, TASKS

from common import ROOT, record
from qsearch.cli import main as qsearch


def arguments(task: str, codecs: str, out) -> list[str]:
    spec = TASKS[task]
    declared = json.loads((DECLARATIONS / spec["declaration"]).read_text())
    declare = [part for k, v in declared.items() for part in ("--declare", f"{k}={json.dumps(v)}")]
    return [
        "baseline", "--task", task, "--model", str(spec["model"]), *declare,
        "--data", str(COCO128 / "images" / "val2017"),
        "--annotations", str(spec["labels"] / "val2017"),
        "--size", "stored,network", "--codec", codecs,
        "--qualities", *map(str, QUALITIES), "--quiet", "--out", str(out),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(TASKS), default="detect")
    parser.add_argument("--codecs", default="jpeg,mozjpeg,avif")
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "results" / "sizes_ladder" / args.task
    assert qsearch(arguments(args.task, args.codecs, out)) == 0
    record(
        f"Sent size: the codec ladder at both sizes ({args.task})",
        f"`python benchmarks/sizes_ladder.py --task {args.task} --codecs {args.codecs}`: "
        f"`qsearch baseline --size stored,network` with {TASKS[args.task]['network']} on the 128 "
        f"COCO128 val2017 images, each codec at qualities {','.join(map(str, QUALITIES))} of its "
        "own scale, 4:2:0; `NAME@network` is the curve sent at the network's size; bits per "
        "stored pixel, each against IJG at the stored size (95% paired bootstrap intervals "
        "recomputing the pooled figure, * = the interval excludes zero).\n\n"
        + (out / "ladder.md").read_text().strip(),
    )


if __name__ == "__main__":
    main()
