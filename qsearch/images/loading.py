"""Loading an image set: find and label the files, decode them once, prepare them for
compression, and keep the prepared uint8 originals in memory and in the on-disk cache."""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError
from qsearch.images.cache import ImageCache
from qsearch.images.discovery import Discovery, discover
from qsearch.images.files import content_digest, read_rgb, relative_name
from qsearch.images.geometry import InputGeometry
from qsearch.images.imageset import COMPRESS_AT, ImageSet
from qsearch.images.splits import select_split

log = logging.getLogger(__name__)


CACHE_VERSION = 4
"""Bumped whenever what a file reads as changes (4: EXIF orientation applied, 16-bit scaled
from full range), so that no set prepared before is reused."""


def load_images(
    folder,
    *,
    split_file=None,
    split: str | None = None,
    compress_at: str = "input",
    preprocessing: InputGeometry = InputGeometry.centre_crop(),
    limit: int | None = None,
    strict: bool = False,
    labels: str = "auto",
    class_map: dict[str, int] | None = None,
    cache: ImageCache | None = None,
    threads: int | None = None,
) -> ImageSet:
    """Load a folder (or a list of unlabeled image files) as an :class:`ImageSet`, from the
    prepared-image cache when the same files, labels and preprocessing were seen before.
    Unreadable images, and images the label rule cannot label, are skipped with a count (or
    are fatal with ``strict``)."""
    _check_arguments(compress_at, limit, split_file, split)
    folder, found = _found(folder, labels, class_map, strict)
    files, values = found.files, found.labels
    if split_file is not None and split is not None:
        files, values = select_split(folder, files, values, split_file, split)
    if limit is not None:
        files, values = files[:limit], (None if values is None else values[:limit])
    if not files and found.left_out:
        raise QSearchError(
            f"{folder}: the {found.rule} label rule labels none of its {len(found.left_out)} "
            f"image file(s) ({found.left_out[0]}); give --labels none, auto or the rule they follow"
        )
    if not files:
        raise QSearchError(f"{folder}: no image files found")
    image_set = _prepared(
        folder, files, values, found.rule, compress_at, preprocessing, cache, threads
    )
    _report(image_set, folder, len(files), strict, preprocessing)
    return image_set


def _check_arguments(compress_at: str, limit: int | None, split_file, split: str | None) -> None:
    if compress_at not in COMPRESS_AT:
        raise QSearchError.about(
            f"{{compress_at}} {compress_at!r} is not one of {', '.join(COMPRESS_AT)}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise QSearchError.about(
            f"{{limit}} {limit!r} must be a whole number of images, at least 1"
        )
    if (split_file is None) != (split is None):
        raise QSearchError.about("a split needs both {split_file} and {split}")


def _found(folder, labels: str, class_map, strict: bool) -> tuple[Path, Discovery]:
    """Step one: the candidate files and their labels (what the label rule leaves out warned
    about, or fatal with ``strict``)."""
    if isinstance(folder, (list, tuple)):
        found = Discovery([Path(f) for f in folder], None, "none")
        folder = Path(folder[0]).parent
    else:
        folder = Path(folder)
        found = discover(folder, labels, class_map)
    _left_out(
        found.left_out, strict, f"left out %d file(s) that the {found.rule} label rule cannot label"
    )
    return folder, found


def _prepared(
    folder: Path,
    files: list[Path],
    values,
    rule: str,
    compress_at: str,
    preprocessing: InputGeometry,
    cache: ImageCache | None,
    threads: int | None,
) -> ImageSet:
    """Step two: the files decoded and prepared, from the cache when seen before."""
    digests = [content_digest(path) for path in files]
    cache = cache if cache is not None else ImageCache()
    key = cache_key(folder, files, digests, values, rule, compress_at, preprocessing)
    stored = cache.read(key)
    if stored is not None:
        return _from_record(*stored, preprocessing)
    names = [relative_name(folder, path) for path in files]
    image_set = _prepare(files, names, digests, values, compress_at, preprocessing, threads)
    image_set.label_rule = rule
    cache.write(key, *_to_record(image_set, folder))
    return image_set


def _left_out(problems: list[str], strict: bool, counted: str) -> None:
    """Files left out: fatal with ``strict`` (the first named), else one warning with a count."""
    if problems and strict:
        raise QSearchError(problems[0])
    if problems:
        log.warning(counted + ", first: %s", len(problems), problems[0])


def _report(
    image_set: ImageSet, folder: Path, candidates: int, strict: bool, preprocessing
) -> None:
    """Step three: unreadable images skipped with a count (fatal with ``strict``), none left
    refused, upscaled ones noted."""
    _left_out(image_set.skipped, strict, f"skipped %d unreadable image(s) of {candidates}")
    if not len(image_set):
        raise QSearchError(
            f"{folder}: none of its {candidates} files is a readable image ({image_set.skipped[0]})"
        )
    if image_set.upscaled:
        log.info(
            "%d image(s) smaller than %d px were upscaled to the network input",
            image_set.upscaled,
            min(preprocessing.height, preprocessing.width),
        )


def cache_key(
    folder: Path,
    files: list[Path],
    digests: list[str],
    labels,
    rule: str,
    compress_at: str,
    preprocessing: InputGeometry,
) -> str:
    """Everything a prepared set depends on: names, contents, labels and the rule that gave
    them, preprocessing, scenario."""
    digest = hashlib.sha256(f"{CACHE_VERSION}|{rule}|{compress_at}|{preprocessing}".encode())
    for position, (path, content) in enumerate(zip(files, digests)):
        label = "-" if labels is None else int(labels[position])
        digest.update(f"{relative_name(folder, path)}|{content}|{label}\n".encode())
    return digest.hexdigest()[:32]


def _prepare_one(
    path: Path, compress_at: str, preprocessing: InputGeometry
) -> tuple[np.ndarray, bool] | QSearchError:
    """One image as compressed (the network crop, or the stored image) and whether it was
    smaller than the network input; or why it could not be read."""
    try:
        rgb = read_rgb(path)
    except QSearchError as error:
        return error
    prepared = preprocessing(rgb) if compress_at == "input" else rgb
    return prepared, preprocessing.smaller_than_input(*rgb.shape[:2])


def _decode_all(
    files: list[Path], compress_at: str, preprocessing: InputGeometry, threads: int | None
) -> list[tuple[np.ndarray, bool] | QSearchError]:
    """Every file prepared on threads (with a progress bar on a terminal)."""
    from tqdm import tqdm  # a bar on a terminal only (disable=None): decoding takes a while

    prepare = partial(_prepare_one, compress_at=compress_at, preprocessing=preprocessing)
    with ThreadPoolExecutor(threads or os.cpu_count()) as pool:
        mapped = pool.map(prepare, files)
        return list(
            tqdm(mapped, total=len(files), desc="preparing images", unit="image", disable=None)
        )


def _readable(decoded: list) -> dict[int, tuple[np.ndarray, bool]]:
    return {i: item for i, item in enumerate(decoded) if not isinstance(item, QSearchError)}


def _pick(values: list, positions: list[int]) -> list:
    return [values[i] for i in positions]


def _prepare(
    files, names, digests, labels, compress_at: str, preprocessing: InputGeometry, threads
) -> ImageSet:
    decoded = _decode_all(files, compress_at, preprocessing, threads)
    kept = _readable(decoded)
    keep = list(kept)
    images = [image for image, _ in kept.values()]
    return ImageSet(
        names=_pick(names, keep),
        images=np.stack(images) if compress_at == "input" and images else images,
        labels=None if labels is None else labels[keep],
        source_bytes=np.array([path.stat().st_size for path in _pick(files, keep)], dtype=np.int64),
        compress_at=compress_at,
        preprocessing=preprocessing,
        skipped=[str(item) for item in decoded if isinstance(item, QSearchError)],
        upscaled=sum(small for _, small in kept.values()),  # the network input was larger
        digests=_pick(digests, keep),
    )


def _to_record(image_set: ImageSet, folder: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Plain arrays and a JSON index entry for the cache (no pickle anywhere)."""
    arrays = {"source_bytes": image_set.source_bytes}
    if image_set.labels is not None:
        arrays["labels"] = image_set.labels
    if isinstance(image_set.images, np.ndarray):
        arrays["images"] = image_set.images
    else:
        arrays.update({f"image_{i}": image for i, image in enumerate(image_set.images)})
    index = {
        "folder": str(folder),
        "names": image_set.names,
        "digests": image_set.digests,
        "skipped": image_set.skipped,
        "upscaled": image_set.upscaled,
        "compress_at": image_set.compress_at,
        "label_rule": image_set.label_rule,
        "preprocessing": image_set.preprocessing.describe(),
    }
    return arrays, index


def _from_record(
    arrays: dict[str, np.ndarray], index: dict, preprocessing: InputGeometry
) -> ImageSet:
    count = len(index["names"])
    images = (
        arrays["images"] if "images" in arrays else [arrays[f"image_{i}"] for i in range(count)]
    )
    return ImageSet(
        names=list(index["names"]),
        images=images,
        labels=arrays.get("labels"),
        source_bytes=arrays["source_bytes"],
        compress_at=index["compress_at"],
        preprocessing=preprocessing,
        skipped=list(index["skipped"]),
        upscaled=int(index["upscaled"]),
        digests=list(index["digests"]),
        label_rule=index["label_rule"],
    )
