"""Image sets: find and label the files, decode them once, prepare them for compression,
and keep the prepared uint8 originals in memory and in an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from qsearch.cache import ImageCache
from qsearch.errors import QSearchError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}
COMPRESS_AT = ("input", "source")
MIN_SIDE = 8  # smaller images cannot hold one 8x8 block per chroma plane: refused
_SYNSET_FILE = re.compile(r"^(n\d{8})_")
CACHE_VERSION = 2


@cache
def imagenet_synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k synsets in sorted order: label i is the i-th synset."""
    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    return tuple(sorted(line.split()[0] for line in text.splitlines() if line.strip()))


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """Human-readable names of the 1000 classes, in label order."""
    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    names = dict(line.split(maxsplit=1) for line in text.splitlines() if line.strip())
    return tuple(names[s] for s in imagenet_synsets())


INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class Preprocessing:
    """How a source image becomes a network input: resize the short side, centre-crop."""

    input_size: int = 224
    resize_size: int = 256
    interpolation: str = "bicubic"

    def __post_init__(self):
        if self.interpolation not in INTERPOLATIONS:
            raise QSearchError(
                f"interpolation {self.interpolation!r} is not one of {', '.join(INTERPOLATIONS)}"
            )
        if not 8 <= self.input_size <= self.resize_size:
            raise QSearchError(
                f"input size {self.input_size} must be at least 8 and at most the resize size "
                f"{self.resize_size}"
            )

    def describe(self) -> str:
        """One line: resize, crop and filter."""
        return (
            f"short side {self.resize_size} ({self.interpolation}), centre crop {self.input_size}"
        )

    def __call__(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """Resize the short side, then centre-crop: (S, S, 3) uint8."""
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        width, height = image.size
        scale = self.resize_size / min(width, height)
        size = (
            max(self.input_size, round(width * scale)),
            max(self.input_size, round(height * scale)),
        )
        image = image.resize(size, INTERPOLATIONS[self.interpolation])
        left, top = (size[0] - self.input_size) // 2, (size[1] - self.input_size) // 2
        return np.asarray(image.crop((left, top, left + self.input_size, top + self.input_size)))


@dataclass
class ImageSet:
    """Prepared originals, ready for an evaluator.

    ``images`` is what gets compressed: a stacked (N, S, S, 3) uint8 array of network-sized
    crops when ``compress_at == "input"``, a list of stored-resolution images when
    ``"source"``. ``labels`` holds class indices, or is None for unlabeled folders.
    """

    names: list[str]
    images: np.ndarray | list[np.ndarray]
    labels: np.ndarray | None
    source_bytes: np.ndarray
    compress_at: str
    preprocessing: Preprocessing
    skipped: list[str] = field(default_factory=list)
    upscaled: int = 0
    digests: list[str] = field(default_factory=list)
    """sha1 of each file's bytes: which images these are, whatever their names."""
    label_rule: str = "none"
    """How the labels were read: none, imagenet (file names), folders (class subfolders)."""

    def __len__(self) -> int:
        return len(self.names)

    @property
    def pixels(self) -> int:
        """Pixels of all images as compressed (bpp is over these)."""
        return int(sum(image.shape[0] * image.shape[1] for image in self.images))

    def network_inputs(self) -> np.ndarray:
        """The uncompressed network inputs, (N, S, S, 3) uint8."""
        if isinstance(self.images, np.ndarray):
            return self.images
        return np.stack([self.preprocessing(image) for image in self.images])

    def subset(self, indices) -> ImageSet:
        """The images at ``indices``, with their labels and provenance."""
        indices = list(indices)
        images = (
            self.images[indices]
            if isinstance(self.images, np.ndarray)
            else [self.images[i] for i in indices]
        )
        return ImageSet(
            [self.names[i] for i in indices],
            images,
            None if self.labels is None else self.labels[indices],
            self.source_bytes[indices],
            self.compress_at,
            self.preprocessing,
            digests=[self.digests[i] for i in indices] if self.digests else [],
            label_rule=self.label_rule,
        )

    def identity(self) -> dict[str, str]:
        """Which images (names and contents), which labels, and how they are prepared."""
        contents = hashlib.sha256(
            "\n".join(f"{n} {d}" for n, d in zip(self.names, self.digests)).encode()
        )
        labels = (
            "none"
            if self.labels is None
            else (
                f"{self.label_rule}, sha256 {hashlib.sha256(self.labels.astype(np.int64).tobytes()).hexdigest()[:16]}"
            )
        )
        return {
            "images": f"{len(self)} images, sha256 {contents.hexdigest()[:16]}",
            "labels": labels,
            "compress_at": self.compress_at,
            "preprocessing": self.preprocessing.describe(),
        }


# -- finding files and labels ------------------------------------------------------------
LABEL_RULES = ("auto", "none", "imagenet", "folders")


@dataclass
class Discovery:
    """The files of a folder, their labels and the rule that gave them, and what was left out."""

    files: list[Path]
    labels: np.ndarray | None
    rule: str
    left_out: list[str] = field(default_factory=list)


def _is_image(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


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
        flat = [p for p in folder.iterdir() if _is_image(p)]
        named = sum(bool(_SYNSET_FILE.match(p.name)) for p in flat)
        labels = "folders" if classes else "imagenet" if flat and named * 2 > len(flat) else "none"
    if labels == "folders":
        return _folder_labels(folder, classes, class_map)
    if labels == "imagenet":
        return _imagenet_labels(folder)
    return Discovery(_images_under(folder), None, "none")


def _images_under(folder: Path) -> list[Path]:
    """Every image below ``folder``, at any depth, outside hidden folders, in sorted order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if _is_image(p) and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _folder_labels(
    folder: Path, classes: list[Path], class_map: dict[str, int] | None
) -> Discovery:
    if not classes:
        raise QSearchError(
            f"{folder}: --labels folders needs one subfolder per class, and it has none"
        )
    synsets = imagenet_synsets()
    if class_map is not None:
        unmapped = [c.name for c in classes if c.name not in class_map]
        if unmapped:
            raise QSearchError.about(
                f"{{class_map}} has no entry for the class folder {unmapped[0]!r} of {folder}"
            )
        index = {c.name: int(class_map[c.name]) for c in classes}
        rule = "folders (class map)"
    elif all(c.name in synsets for c in classes):
        index, rule = {c.name: synsets.index(c.name) for c in classes}, "folders (ImageNet synsets)"
    else:
        index, rule = (
            {c.name: position for position, c in enumerate(classes)},
            "folders (sorted position)",
        )
    files, values = [], []
    for class_dir in classes:
        members = _images_under(class_dir)  # nested folders too, as torchvision's ImageFolder
        files += members
        values += [index[class_dir.name]] * len(members)
    loose = [p.name for p in folder.iterdir() if _is_image(p)]
    return Discovery(
        files,
        np.array(values, dtype=np.int64),
        rule,
        [f"{folder / name}: an image outside the class folders" for name in loose],
    )


def _imagenet_labels(folder: Path) -> Discovery:
    synsets = {s: i for i, s in enumerate(imagenet_synsets())}
    files, values, left_out = [], [], []
    for path in sorted(p for p in folder.iterdir() if _is_image(p)):
        match = _SYNSET_FILE.match(path.name)
        if match is None:
            left_out.append(f"{path}: not named nSYNSET_*, so it has no ImageNet label")
        elif match.group(1) not in synsets:
            raise QSearchError(f"{path}: unknown ImageNet synset {match.group(1)}")
        else:
            files.append(path)
            values.append(synsets[match.group(1)])
    return Discovery(files, np.array(values, dtype=np.int64), "imagenet", left_out)


def read_split(split_file, split: str) -> list[str]:
    """The names a JSON split file lists under ``split`` (refused: a missing split, a name
    listed twice)."""
    try:
        splits = json.loads(Path(split_file).read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"{split_file}: cannot read split file ({error})") from None
    if not isinstance(splits, dict) or split not in splits:
        names = ", ".join(splits) if isinstance(splits, dict) else "none"
        raise QSearchError(f"{split_file}: no split named {split!r} (has: {names})")
    chosen_names = splits[split]
    if not isinstance(chosen_names, list) or not all(isinstance(n, str) for n in chosen_names):
        raise QSearchError(f"{split_file}: split {split!r} is not a list of file names")
    repeated = sorted({n for n in chosen_names if chosen_names.count(n) > 1})
    if repeated:
        raise QSearchError(f"{split_file}: split {split!r} names {repeated[0]!r} more than once")
    return chosen_names


def relative_name(folder: Path, path: Path) -> str:
    """An image's name in its set: its path below the folder (``bees/same.jpg``)."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def select_split(folder: Path, files: list[Path], labels, split_file, split: str):
    """Keep the files that a JSON split file names under ``split``, in the file's order: paths
    relative to the folder (``class/file.jpg`` in an ImageFolder), or bare file names where one
    file has that name (a bare name shared by several files is refused, naming them)."""
    chosen_names = read_split(split_file, split)
    index = {relative_name(folder, p): i for i, p in enumerate(files)}
    bare: dict[str, list[int]] = {}
    for i, p in enumerate(files):
        bare.setdefault(p.name, []).append(i)
    chosen: list[int] = []
    seen: dict[int, str] = {}
    for name in chosen_names:
        if name in index:
            position = index[name]
        elif len(bare.get(name, [])) > 1:
            where = ", ".join(relative_name(folder, files[i]) for i in bare[name])
            raise QSearchError(
                f"{split_file}: split {split!r} names {name!r}, which is several files ({where}); "
                "name it by its path below the folder"
            )
        elif name in bare:
            position = bare[name][0]
        else:
            missing = [n for n in chosen_names if n not in index and n not in bare]
            raise QSearchError(
                f"{split_file}: split {split!r} names {len(missing)} file(s) not in {folder}, "
                f"e.g. {missing[0]}"
            )
        if position in seen:
            raise QSearchError(
                f"{split_file}: split {split!r} names {relative_name(folder, files[position])} "
                f"twice ({seen[position]!r} and {name!r})"
            )
        seen[position] = name
        chosen.append(position)
    return [files[i] for i in chosen], (None if labels is None else labels[chosen])


def split_files(
    folder, split_file, split: str, labels: str = "auto", class_map: dict[str, int] | None = None
) -> list[Path]:
    """The files a split names, resolved, without decoding any (to check splits before work)."""
    folder = Path(folder)
    found = discover(folder, labels, class_map)
    files, _ = select_split(folder, found.files, found.labels, split_file, split)
    return [p.resolve() for p in files]


# -- decoding -----------------------------------------------------------------------------
def read_rgb(path: Path) -> np.ndarray:
    """Decode any supported image to RGB uint8; 16-bit, grayscale, RGBA, CMYK are converted."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(image, dtype=np.float64)
                peak = 65535.0 if wide.max() > 255 else 255.0
                image = Image.fromarray(np.round(wide * 255.0 / peak).astype(np.uint8))
            if image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            ):
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            rgb = np.asarray(image.convert("RGB"))
    except (
        OSError,
        SyntaxError,
        ValueError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ) as error:
        raise QSearchError(f"{path}: not a readable image ({error})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise QSearchError(
            f"{path}: {rgb.shape[1]}x{rgb.shape[0]} px is too small (minimum {MIN_SIDE} px a side)"
        )
    return rgb


def read_metadata(path: Path) -> dict[str, bytes]:
    """What a file carries besides pixels that a re-encoded copy should keep: its EXIF block
    (orientation included) and its ICC profile, as stored."""
    try:
        with Image.open(path) as opened:
            info = opened.info
            return {"exif": info.get("exif") or b"", "icc_profile": info.get("icc_profile") or b""}
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as error:
        raise QSearchError(f"{path}: not a readable image ({error})") from None


def load_images(
    folder,
    *,
    split_file=None,
    split: str | None = None,
    compress_at: str = "input",
    preprocessing: Preprocessing = Preprocessing(),
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
    if compress_at not in COMPRESS_AT:
        raise QSearchError.about(
            f"{{compress_at}} {compress_at!r} is not one of {', '.join(COMPRESS_AT)}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise QSearchError.about(
            f"{{limit}} {limit!r} must be a whole number of images, at least 1"
        )
    folder, found = _found(folder, labels, class_map, strict)
    files, values = found.files, found.labels
    if split_file is not None or split is not None:
        if split_file is None or split is None:
            raise QSearchError.about("a split needs both {split_file} and {split}")
        files, values = select_split(folder, files, values, split_file, split)
    if limit is not None:
        files, values = files[:limit], (None if values is None else values[:limit])
    if not files:
        raise QSearchError(f"{folder}: no image files found")
    image_set = _prepared(
        folder, files, values, found.rule, compress_at, preprocessing, cache, threads
    )
    _report(image_set, folder, len(files), strict, preprocessing)
    return image_set


def _found(folder, labels: str, class_map, strict: bool) -> tuple[Path, Discovery]:
    """Step one: the candidate files and their labels (what the label rule leaves out warned
    about, or fatal with ``strict``)."""
    if isinstance(folder, (list, tuple)):
        found = Discovery([Path(f) for f in folder], None, "none")
        folder = Path(folder[0]).parent
    else:
        folder = Path(folder)
        found = discover(folder, labels, class_map)
    if found.left_out:
        if strict:
            raise QSearchError(found.left_out[0])
        log.warning(
            "left out %d file(s) that the %s label rule cannot label, first: %s",
            len(found.left_out),
            found.rule,
            found.left_out[0],
        )
    return folder, found


def _prepared(
    folder: Path,
    files: list[Path],
    values,
    rule: str,
    compress_at: str,
    preprocessing: Preprocessing,
    cache: ImageCache | None,
    threads: int | None,
) -> ImageSet:
    """Step two: the files decoded and prepared, from the cache when seen before."""
    digests = [hashlib.sha1(path.read_bytes()).hexdigest() for path in files]
    cache = cache if cache is not None else ImageCache()
    key = cache_key(folder, files, digests, values, compress_at, preprocessing)
    stored = cache.read(key)
    if stored is not None:
        return _from_record(*stored, preprocessing)
    names = [relative_name(folder, path) for path in files]
    image_set = _prepare(files, names, digests, values, compress_at, preprocessing, threads)
    image_set.label_rule = rule
    cache.write(key, *_to_record(image_set, folder))
    return image_set


def _report(
    image_set: ImageSet, folder: Path, candidates: int, strict: bool, preprocessing
) -> None:
    """Step three: unreadable images skipped with a count (fatal with ``strict``), none left
    refused, upscaled ones noted."""
    if image_set.skipped:
        if strict:
            raise QSearchError(image_set.skipped[0])
        log.warning(
            "skipped %d unreadable image(s) of %d, first: %s",
            len(image_set.skipped),
            candidates,
            image_set.skipped[0],
        )
    if not len(image_set):
        raise QSearchError(
            f"{folder}: none of its {candidates} files is a readable image ({image_set.skipped[0]})"
        )
    if image_set.upscaled:
        log.info(
            "%d image(s) smaller than %d px were upscaled to the network input",
            image_set.upscaled,
            preprocessing.input_size,
        )


def cache_key(
    folder: Path,
    files: list[Path],
    digests: list[str],
    labels,
    compress_at: str,
    preprocessing: Preprocessing,
) -> str:
    """Everything a prepared set depends on: names, contents, labels, preprocessing, scenario."""
    digest = hashlib.sha256(f"{CACHE_VERSION}|{compress_at}|{preprocessing}".encode())
    for position, (path, content) in enumerate(zip(files, digests)):
        label = "-" if labels is None else int(labels[position])
        digest.update(f"{relative_name(folder, path)}|{content}|{label}\n".encode())
    return digest.hexdigest()[:32]


def _prepare(
    files, names, digests, labels, compress_at: str, preprocessing: Preprocessing, threads
) -> ImageSet:
    def prepare(path: Path):
        try:
            rgb = read_rgb(path)
        except QSearchError as error:
            return error
        return preprocessing(rgb) if compress_at == "input" else rgb, min(
            rgb.shape[:2]
        ) < preprocessing.input_size

    with ThreadPoolExecutor(threads or os.cpu_count()) as pool:
        from tqdm import tqdm  # a bar on a terminal only (disable=None): decoding takes a while

        mapped = pool.map(prepare, files)
        prepared = list(
            tqdm(mapped, total=len(files), desc="preparing images", unit="image", disable=None)
        )
    keep = [i for i, item in enumerate(prepared) if not isinstance(item, QSearchError)]
    images = [prepared[i][0] for i in keep]
    return ImageSet(
        names=[names[i] for i in keep],
        images=np.stack(images) if compress_at == "input" and images else images,
        labels=None if labels is None else labels[keep],
        source_bytes=np.array([files[i].stat().st_size for i in keep], dtype=np.int64),
        compress_at=compress_at,
        preprocessing=preprocessing,
        skipped=[str(item) for item in prepared if isinstance(item, QSearchError)],
        upscaled=sum(prepared[i][1] for i in keep),
        digests=[digests[i] for i in keep],
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
    arrays: dict[str, np.ndarray], index: dict, preprocessing: Preprocessing
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
