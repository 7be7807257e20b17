"""``qsearch repair``: drop the damaged lines of a run's journal."""

from __future__ import annotations

from pathlib import Path

NAME = "repair"
HELP = "drop damaged lines of a run's journal, keeping every intact trial"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch repair``."""
    parser.add_argument("run", type=Path, help="run folder written by qsearch run")


def run(args) -> int:
    """Drop the damaged lines of a run's journal, keeping every intact trial."""
    from qsearch.search.journal import repair_journal

    dropped, kept = repair_journal(args.run)
    print(
        f"{args.run}: dropped {dropped} damaged line(s), kept {kept} trial(s)"
        + (" (the original is in study.journal.damaged)" if dropped else "")
    )
    return 0
