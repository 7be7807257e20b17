"""Labels for detectors and segmenters, read beside the image names: YOLO text files (one box
a line, ``class cx cy w h`` as fractions of the image), a COCO instances JSON file (crowd
regions kept as COCO keeps them: neither hit nor miss) and PNG class-index masks, mapped to
the network's classes. An image without a label file has no boxes (counted, not an error);
anything a label cannot mean is one line naming the file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from qsearch.errors import QSearchError
from qsearch.jsonfile import read_json_object

EDGE_TOLERANCE = 1e-3
"""How far (a fraction of the image) a YOLO box may reach past the edge: rounding, no more."""


@dataclass(frozen=True)
class Boxes:
    """One image's labelled boxes: x1 y1 x2 y2 in pixels, network classes, crowd flags."""

    boxes: np.ndarray
    classes: np.ndarray
    crowd: np.ndarray | None = None

    @classmethod
    def none(cls) -> Boxes:
        """An image without boxes."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))


@dataclass(frozen=True)
class Annotations:
    """Labels of an image set, image by image (None where an image has none), with the
    digest of the files read (a run's identity) and how many images had no file."""

    items: list
    digest: str
    missing: int
    kind: str
    unmatched: int = 0
    """Label files (or COCO images) that name no image of the set: left out, and said."""

    def describe(self) -> str:
        """One line: kind, digest, images without a file (what a run's identity records)."""
        return f"{self.kind}, sha256 {self.digest[:16]}, {self.missing} images without a file"

    def said(self) -> str:
        """What a user is told: the description and label files that name no image."""
        unmatched = f"; {self.unmatched} label files name no image (left out)"
        return self.describe() + (unmatched if self.unmatched else "")


def _matched(annotations: Annotations, where: Path) -> Annotations:
    """The labels, refused in one line where they match none of the images."""
    if annotations.items and annotations.missing == len(annotations.items):
        raise QSearchError(
            f"{where}: none of the {len(annotations.items)} images has a label here (another "
            "split's labels, or file names that differ from the images'?)"
        )
    return annotations


def _digest(parts: list[tuple[str, bytes]]) -> str:
    hasher = hashlib.sha256()
    for name, data in parts:
        hasher.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return hasher.hexdigest()


def _label_file(folder: Path, name: str, suffix: str) -> Path:
    return folder / Path(name).with_suffix(suffix)


def read_boxes(
    folder: Path, names: list[str], sizes: list[tuple[int, int]], classes: int,
    class_map: dict[int, int] | None = None,
) -> Annotations:  # fmt: skip
    """YOLO boxes of each image (``folder/NAME.txt``) as (x1 y1 x2 y2 pixels, network classes);
    ``sizes`` are the images' (height, width); ``class_map`` maps label classes to outputs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QSearchError(f"{folder}: not a folder of label files")
    items, parts, missing = [], [], 0
    for name, (height, width) in zip(names, sizes):
        path = _label_file(folder, name, ".txt")
        if not path.exists():
            missing += 1
            items.append(Boxes.none())
            continue
        data = path.read_bytes()
        parts.append((name, data))
        items.append(Boxes(*_yolo_lines(path, data, width, height, classes, class_map)))
    found = Annotations(
        items, _digest(parts), missing, "YOLO boxes", _unmatched(folder, names, ".txt")
    )
    return _matched(found, folder)


def _unmatched(folder: Path, names: list[str], suffix: str) -> int:
    """Label files in ``folder`` that belong to no image of the set."""
    expected = {_label_file(folder, name, suffix) for name in names}
    return sum(1 for path in folder.rglob(f"*{suffix}") if path not in expected)


def read_coco(
    path: Path, names: list[str], sizes: list[tuple[int, int]], classes: int,
    class_map: dict[int, int] | None = None,
) -> Annotations:  # fmt: skip
    """COCO instances JSON boxes of each image (matched by file name). Without ``class_map``
    the categories, sorted by id, are the network's classes 0..N-1 (the convention of COCO
    detectors: ids 1..90 -> 0..79), which needs as many categories as network classes."""
    path = Path(path)
    data, files, categories, annotations = _coco_file(path)
    if class_map is None:
        if len(categories) != classes:
            raise QSearchError(
                f"{path}: {len(categories)} categories for a network of {classes} classes; give "
                "--class-map FILE (category id -> network class)"
            )
        class_map = {c: k for k, c in enumerate(categories)}
    by_image: dict[int, list] = {}
    for note in annotations:
        by_image.setdefault(note.get("image_id"), []).append(note)
    items, missing = [], 0
    for name, (height, width) in zip(names, sizes):
        image_id = files.get(Path(name).name)
        missing += image_id is None
        notes = by_image.get(image_id, []) if image_id is not None else []
        items.append(_coco_boxes(path, notes, width, height, classes, class_map))
    matched = {Path(name).name for name in names}
    found = Annotations(
        items, hashlib.sha256(data).hexdigest(), missing, "COCO instances",
        sum(1 for name in files if name not in matched),
    )  # fmt: skip
    return _matched(found, path)


def _coco_file(path: Path) -> tuple[bytes, dict, list, list]:
    """A COCO instances file's bytes, image ids by file name, sorted category ids and notes."""
    try:
        data = path.read_bytes()
        found = json.loads(data)
        files = {Path(i["file_name"]).name: i["id"] for i in found["images"]}
        return data, files, sorted(c["id"] for c in found["categories"]), found["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise QSearchError(f"{path}: not a COCO instances JSON file ({error})") from None


def _coco_boxes(path: Path, notes: list[dict], width: int, height: int, classes: int,
                class_map: dict[int, int]) -> Boxes:  # fmt: skip
    boxes, labels, crowd = [], [], []
    for note in notes:
        where = f"{path}: annotation {note.get('id')}"
        try:
            x, y, w, h = (float(v) for v in note["bbox"])
            category = int(note["category_id"])
        except (KeyError, TypeError, ValueError):
            raise QSearchError(f"{where}: no bbox [x, y, w, h] or category_id") from None
        slack = EDGE_TOLERANCE * max(width, height)
        if not (w >= 0 and h >= 0 and x >= -slack and y >= -slack and x + w <= width + slack
                and y + h <= height + slack):  # fmt: skip
            raise QSearchError(f"{where}: box {x:g} {y:g} {w:g} {h:g} reaches outside its image")
        labels.append(_network_class(where, category, classes, class_map))
        boxes.append([x, y, x + w, y + h])
        crowd.append(bool(note.get("iscrowd", 0)))
    return Boxes(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(labels, np.int64),
        np.array(crowd, bool),
    )


def _yolo_lines(path: Path, data: bytes, width: int, height: int, classes: int,
                class_map: dict[int, int] | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    boxes, labels = [], []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            label, cx, cy, w, h = _yolo_fields(path, number, line)
            labels.append(_network_class(f"{path}:{number}", label, classes, class_map))
            boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                          (cy + h / 2) * height])  # fmt: skip
    found = np.array(boxes, np.float32).reshape(-1, 4)
    return np.clip(found, 0, [width, height] * 2), np.array(labels, np.int64)


def _yolo_fields(path: Path, number: int, line: str) -> tuple[int, float, float, float, float]:
    """One line's class and box, refused in one line where it is not one inside the image."""
    fields = line.split()
    try:
        label, cx, cy, w, h = int(fields[0]), *map(float, fields[1:5])
    except (ValueError, IndexError):
        raise QSearchError(f"{path}:{number}: not a YOLO box line 'class cx cy w h'") from None
    if len(fields) != 5:
        raise QSearchError(f"{path}:{number}: {len(fields)} fields, a YOLO box has 5")
    if not (w > 0 and h > 0):
        raise QSearchError(f"{path}:{number}: box width {w:g} and height {h:g} must be above 0")
    low, high = -EDGE_TOLERANCE, 1 + EDGE_TOLERANCE
    if not (low <= min(cx - w / 2, cy - h / 2) and max(cx + w / 2, cy + h / 2) <= high):
        raise QSearchError(
            f"{path}:{number}: box {cx:g} {cy:g} {w:g} {h:g} reaches outside its image "
            "(YOLO boxes are fractions 0..1 of the width and height)"
        )
    return label, cx, cy, w, h


def _network_class(where: str, label: int, classes: int, class_map: dict[int, int] | None) -> int:
    """A label class as the network's class, refused in one line naming ``where`` it is."""
    if class_map is not None:
        if label not in class_map:
            raise QSearchError(f"{where}: class {label} is not in the class map")
        label = class_map[label]
    if not 0 <= label < classes:
        raise QSearchError(
            f"{where}: class {label} is beyond the network's {classes} classes"
            + ("" if class_map is not None else "; give --class-map FILE")
        )
    return label


def read_masks(folder: Path, names: list[str], sizes: list[tuple[int, int]]) -> Annotations:
    """Class-index masks of each image (``folder/NAME.png``, one dataset class a pixel); None
    where an image has no mask."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QSearchError(f"{folder}: not a folder of PNG masks")
    items: list = []
    parts, missing = [], 0
    for name, (height, width) in zip(names, sizes):
        path = _label_file(folder, name, ".png")
        if not path.exists():
            missing += 1
            items.append(None)
            continue
        data = path.read_bytes()
        parts.append((name, data))
        try:
            with Image.open(path) as opened:
                mask = np.asarray(opened)
        except OSError as error:
            raise QSearchError(f"{path}: not a readable PNG mask ({error})") from None
        if mask.ndim != 2:
            raise QSearchError(
                f"{path}: a mask has one class index a pixel, not {mask.ndim} channels"
            )
        if mask.shape != (height, width):
            raise QSearchError(
                f"{path}: mask {mask.shape[1]}x{mask.shape[0]} differs from its image "
                f"{width}x{height} (as displayed: its EXIF orientation applied)"
            )
        items.append(mask.astype(np.int32))
    found = Annotations(
        items, _digest(parts), missing, "PNG masks", _unmatched(folder, names, ".png")
    )
    return _matched(found, folder)


def read_label_class_map(path: Path | None) -> dict[int, int] | None:
    """A JSON object mapping the labels' class ids to the network's output classes."""
    if path is None:
        return None
    what = "a JSON object of label class -> network class"
    mapping = read_json_object(path, what, f"--class-map {path}")
    try:
        return {int(k): int(v) for k, v in mapping.items()}
    except (ValueError, TypeError) as error:
        raise QSearchError(f"--class-map {path}: must be {what} ({error})") from None


__all__ = ["Annotations", "Boxes", "read_boxes", "read_label_class_map", "read_coco", "read_masks"]
