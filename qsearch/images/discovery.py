"""Finding a folder's image files and their labels by an explicit rule: ImageNet file names,
class folders, or none."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError
from qsearch.images.files import is_image

_SYNSET_FILE = re.compile(r"^(n\d{8})_")

LABEL_RULES = ("auto", "none", "imagenet", "folders")


@cache
def imagenet_synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k synsets in sorted order: label i is the i-th synset."""
    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    return tuple(sorted(line.split()[0] for line in text.splitlines() if line.strip()))


@dataclass
class Discovery:
    """The files of a folder, their labels and the rule that gave them, and what was left out."""

    files: list[Path]
    labels: np.ndarray | None
    rule: str
    left_out: list[str] = field(default_factory=list)


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def discover(
    folder: Path, labels: str = "auto", class_map: dict[str, int] | None = None
) -> Discovery:
    """Files and labels of a folder by one of the label rules.

    - ``folders``: one subfolder per class (torchvision's ImageFolder); subfolders named by
      ImageNet synsets get the synset's ImageNet index, others their position in sorted order,
      or the index ``class_map`` gives them.
    - ``imagenet``: flat files ``nSYNSET_*``: the synset's index among the 1000 synsets; other
      images are left out (with a count).
    - ``none``: every image, unlabeled.
    - ``auto``: ``folders`` when there are subfolders, ``imagenet`` when most images are
      ImageNet-named, else ``none``.
    Files that are not images by their suffix (a LICENSE, notes) are never candidates.
    """
    if labels not in LABEL_RULES:
        raise QSearchError.about(f"{{labels}} {labels!r} is not one of {', '.join(LABEL_RULES)}")
    if not folder.is_dir():
        raise QSearchError(f"{folder}: not a folder")
    classes = _class_folders(folder)
    if labels == "auto":
        labels = _automatic_rule(folder, classes)
    if labels == "folders":
        return _folder_labels(folder, classes, class_map)
    if labels == "imagenet":
        return _imagenet_labels(folder)
    return Discovery(_images_under(folder), None, "none")


def _automatic_rule(folder: Path, classes: list[Path]) -> str:
    """``folders`` when there are subfolders, ``imagenet`` when most images are so named."""
    if classes:
        return "folders"
    flat = [p for p in folder.iterdir() if is_image(p)]
    named = sum(bool(_SYNSET_FILE.match(p.name)) for p in flat)
    return "imagenet" if flat and named * 2 > len(flat) else "none"


def _images_under(folder: Path) -> list[Path]:
    """Every image below ``folder``, at any depth, outside hidden folders, in sorted order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if is_image(p) and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _folder_labels(
    folder: Path, classes: list[Path], class_map: dict[str, int] | None
) -> Discovery:
    if not classes:
        raise QSearchError(
            f"{folder}: --labels folders needs one subfolder per class, and it has none"
        )
    _refuse_split_layout(folder, classes)
    index, rule = _class_indices(folder, classes, class_map)
    files, values = [], []
    for class_dir in classes:
        members = _images_under(class_dir)  # nested folders too, as torchvision's ImageFolder
        if not members:
            raise QSearchError(
                f"{class_dir}: a class folder with no images (as torchvision, refused: it would "
                "shift the labels of the classes after it); remove it"
            )
        files += members
        values += [index[class_dir.name]] * len(members)
    loose = [p.name for p in folder.iterdir() if is_image(p)]
    return Discovery(
        files,
        np.array(values, dtype=np.int64),
        rule,
        [f"{folder / name}: an image outside the class folders" for name in loose],
    )


def _class_indices(
    folder: Path, classes: list[Path], class_map: dict[str, int] | None
) -> tuple[dict[str, int], str]:
    """Each class folder's network output, and the rule that gave it: the class map, the
    folders' ImageNet synsets, or their sorted position (torchvision's ImageFolder)."""
    if class_map is not None:
        unmapped = [c.name for c in classes if c.name not in class_map]
        if unmapped:
            raise QSearchError.about(
                f"{{class_map}} has no entry for the class folder {unmapped[0]!r} of {folder}"
            )
        return {c.name: int(class_map[c.name]) for c in classes}, "folders (class map)"
    synsets = imagenet_synsets()
    if all(c.name in synsets for c in classes):
        return {c.name: synsets.index(c.name) for c in classes}, "folders (ImageNet synsets)"
    return {c.name: i for i, c in enumerate(classes)}, "folders (sorted position)"


def _refuse_split_layout(folder: Path, classes: list[Path]) -> None:
    """``train/`` and ``val/`` holding the same class folders are splits, not two classes."""
    inner = {c.name: {p.name for p in _class_folders(c)} for c in classes}
    shared = set.intersection(*inner.values()) if len(inner) > 1 else set()
    if shared:
        names = ", ".join(sorted(inner))
        raise QSearchError(
            f"{folder}: its folders {names} hold the same class folders ({', '.join(sorted(shared)[:3])}"
            f"{', ...' if len(shared) > 3 else ''}): a split layout, not classes; give --data "
            f"{folder / classes[0].name} (one split), or a split file"
        )


def _imagenet_labels(folder: Path) -> Discovery:
    synsets = {s: i for i, s in enumerate(imagenet_synsets())}
    files, values, left_out = [], [], []
    for path in sorted(p for p in folder.iterdir() if is_image(p)):
        match = _SYNSET_FILE.match(path.name)
        if match is None:
            left_out.append(f"{path}: not named nSYNSET_*, so it has no ImageNet label")
        elif match.group(1) not in synsets:
            raise QSearchError(f"{path}: unknown ImageNet synset {match.group(1)}")
        else:
            files.append(path)
            values.append(synsets[match.group(1)])
    return Discovery(files, np.array(values, dtype=np.int64), "imagenet", left_out)
