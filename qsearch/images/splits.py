"""Split files: the images a JSON file names under a split, by path below the folder or by
bare name where that names one file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qsearch.errors import QSearchError
from qsearch.images.discovery import discover
from qsearch.images.files import relative_name
from qsearch.jsonfile import read_json_object


def _read_splits(split_file: Path | str) -> dict:
    """The JSON object of a split file (refused: unreadable, or not an object)."""
    return read_json_object(
        split_file, "a JSON object of named lists of image names", f"split file {split_file}"
    )


def read_split(split_file, split: str) -> list[str]:
    """The names a JSON split file lists under ``split`` (refused: a missing split, a name
    listed twice)."""
    splits = _read_splits(split_file)
    if split not in splits:
        raise QSearchError(
            f"{split_file}: no split named {split!r} (has: {', '.join(splits) or 'none'})"
        )
    chosen_names = splits[split]
    if not isinstance(chosen_names, list) or not all(isinstance(n, str) for n in chosen_names):
        raise QSearchError(f"{split_file}: split {split!r} is not a list of file names")
    repeated = sorted({n for n in chosen_names if chosen_names.count(n) > 1})
    if repeated:
        raise QSearchError(f"{split_file}: split {split!r} names {repeated[0]!r} more than once")
    return chosen_names


def select_split(folder: Path, files: list[Path], labels, split_file, split: str):
    """Keep the files that a JSON split file names under ``split``, in the file's order: paths
    relative to the folder (``class/file.jpg`` in an ImageFolder), or bare file names where one
    file has that name (a bare name shared by several files is refused, naming them)."""
    chosen_names = read_split(split_file, split)
    where = _SplitNames(folder, files, f"{split_file}: split {split!r}")
    missing = [n for n in chosen_names if not where.knows(n)]
    if missing:
        raise QSearchError(
            f"{where.context} names {len(missing)} file(s) not in {folder}, e.g. {missing[0]}"
        )
    chosen: list[int] = []
    seen: dict[int, str] = {}
    for name in chosen_names:
        position = where.position(name)
        if position in seen:
            raise QSearchError(
                f"{split_file}: split {split!r} names {relative_name(folder, files[position])} "
                f"twice ({seen[position]!r} and {name!r})"
            )
        seen[position] = name
        chosen.append(position)
    return [files[i] for i in chosen], (None if labels is None else labels[chosen])


class _SplitNames:
    """How a split file's names find files: a path below the folder, or a bare file name
    where exactly one file has it."""

    def __init__(self, folder: Path, files: list[Path], context: str):
        self.folder, self.files, self.context = folder, files, context
        self.index = {relative_name(folder, p): i for i, p in enumerate(files)}
        self.bare: dict[str, list[int]] = {}
        for i, p in enumerate(files):
            self.bare.setdefault(p.name, []).append(i)

    def knows(self, name: str) -> bool:
        """Whether ``name`` names a file of the folder (by path or bare name)."""
        return name in self.index or name in self.bare

    def position(self, name: str) -> int:
        """The file ``name`` names (refused: a bare name of several files)."""
        if name in self.index:
            return self.index[name]
        if len(self.bare[name]) > 1:
            where = ", ".join(relative_name(self.folder, self.files[i]) for i in self.bare[name])
            raise QSearchError(
                f"{self.context} names {name!r}, which is several files ({where}); "
                "name it by its path below the folder"
            )
        return self.bare[name][0]


def split_files(
    folder, split_file, split: str, labels: str = "auto", class_map: dict[str, int] | None = None
) -> list[Path]:
    """The files a split names, resolved, without decoding any (to check splits before work)."""
    folder = Path(folder)
    found = discover(folder, labels, class_map)
    files, _ = select_split(folder, found.files, found.labels, split_file, split)
    return [p.resolve() for p in files]


def check_held_out(
    searched: Sequence[str],
    held_out: Sequence[str],
    names: Sequence[str],
    held_out_are: str = "the held-out images",
    searched_are: str = "the searched ones",
) -> None:
    """Refuse held-out images that are not held out: any image whose content (its digest, as
    :func:`qsearch.images.files.content_digest` gives it) is among the searched images'. The
    command line checks the split files before any work, the API the loaded sets: one rule."""
    common = set(searched) & set(held_out)
    if common:
        shared = [name for name, digest in zip(names, held_out) if digest in common]
        raise QSearchError(
            f"{held_out_are} share {len(shared)} of their {len(held_out)} images with "
            f"{searched_are} (e.g. {shared[0]}): figures on them would not be held out"
        )
