"""``qsearch inspect``: the tables of JPEG files a user already has."""

from __future__ import annotations

from pathlib import Path

NAME = "inspect"
HELP = "the tables of a JPEG file or of every JPEG in a folder, nearest IJG quality"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch inspect``."""
    parser.add_argument("path", type=Path, help="a JPEG file or a folder of them")


def run(args) -> int:
    """The tables of a JPEG file or of every JPEG in a folder, grouped, with the nearest IJG
    quality of each and the error of that estimate."""
    from qsearch.tables.inspection import inspect_files, nearest_quality

    groups = inspect_files(args.path)
    count = sum(map(len, groups.values()))
    print(f"{args.path}: {count} JPEG file(s), {len(groups)} distinct set(s) of tables")
    for tables, files in sorted(groups.items(), key=lambda item: len(item[1]), reverse=True):
        kind = "luma only (grayscale)" if len(tables) == 1 else f"{len(tables)} tables"
        estimate = nearest_quality(tables).describe()
        print(f"\n{len(files)} file(s), {kind}, e.g. {files[0]}: {estimate}")
        for slot, values in enumerate(tables):
            rows = (" ".join(f"{v:3d}" for v in values[i : i + 8]) for i in range(0, 64, 8))
            print(f"# slot {slot}\n" + "\n".join(rows))
    return 0
