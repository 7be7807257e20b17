"""Image sets: find and label the files, decode them once, prepare them for compression,
and keep the prepared uint8 originals in memory and in an on-disk cache."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from qsearch.errors import QSearchError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}
COMPRESS_AT = ("input", "source")
MIN_SIDE = 8  # smaller images cannot hold one 8x8 block per chroma plane: refused
_SYNSET_FILE = re.compile(r"^(n\d{8})_")
_CACHE_VERSION = 1


@cache
def imagenet_synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k synsets in sorted order: label i is the i-th synset."""
    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    return tuple(sorted(line.split()[0] for line in text.splitlines() if line.strip()))


@cache
def imagenet_class_names() -> tuple[str, ...]:
    text = resources.files("qsearch").joinpath("data/imagenet_synsets.txt").read_text()
    names = dict(line.split(maxsplit=1) for line in text.splitlines() if line.strip())
    return tuple(names[s] for s in imagenet_synsets())


@dataclass(frozen=True)
class Preprocessing:
    """How a source image becomes a network input: resize the short side, centre-crop."""

    input_size: int = 224
    resize_size: int = 256

    def __call__(self, image: Image.Image | np.ndarray) -> np.ndarray:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        width, height = image.size
        scale = self.resize_size / min(width, height)
        size = (max(self.input_size, round(width * scale)), max(self.input_size, round(height * scale)))
        image = image.resize(size, Image.BICUBIC)
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

    def __len__(self) -> int:
        return len(self.names)

    @property
    def pixels(self) -> int:
        return int(sum(image.shape[0] * image.shape[1] for image in self.images))

    def network_inputs(self) -> np.ndarray:
        """The uncompressed network inputs, (N, S, S, 3) uint8."""
        if self.compress_at == "input":
            return self.images
        return np.stack([self.preprocessing(image) for image in self.images])

    def subset(self, indices) -> ImageSet:
        indices = list(indices)
        images = self.images[indices] if isinstance(self.images, np.ndarray) else [self.images[i] for i in indices]
        return ImageSet(
            [self.names[i] for i in indices], images,
            None if self.labels is None else self.labels[indices],
            self.source_bytes[indices], self.compress_at, self.preprocessing,
        )


# -- finding files and labels ------------------------------------------------------------
def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def discover(folder: Path) -> tuple[list[Path], np.ndarray | None]:
    """Files and labels of a folder in one of the three layouts.

    - ImageFolder: one subfolder per class; subfolders named by ImageNet synsets get the
      synset's ImageNet index, others their position in sorted order (torchvision's rule).
    - ImageNet flat files ``nSYNSET_*.JPEG``: the synset's index among the 1000 synsets.
    - Anything else: plain unlabeled images.
    """
    if not folder.is_dir():
        raise QSearchError(f"{folder}: not a folder")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        synsets = imagenet_synsets()
        by_synset = all(c.name in synsets for c in classes)
        files, labels = [], []
        for position, class_dir in enumerate(classes):
            label = synsets.index(class_dir.name) if by_synset else position
            members = sorted(p for p in class_dir.iterdir() if not p.is_dir() and not p.name.startswith("."))
            files += members
            labels += [label] * len(members)
        return files, np.array(labels, dtype=np.int64)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() not in {".json", ".txt", ".csv", ".md"})
    matches = [_SYNSET_FILE.match(p.name) for p in files]
    if files and all(matches):
        synsets = {s: i for i, s in enumerate(imagenet_synsets())}
        labels = []
        for path, match in zip(files, matches):
            if match.group(1) not in synsets:
                raise QSearchError(f"{path}: unknown ImageNet synset {match.group(1)}")
            labels.append(synsets[match.group(1)])
        return files, np.array(labels, dtype=np.int64)
    return files, None


def select_split(folder: Path, files: list[Path], labels, split_file, split: str):
    """Keep the files that a JSON split file names under ``split``: paths relative to the
    folder (``class/file.jpg`` in an ImageFolder) or bare file names, in the file's order."""
    try:
        splits = json.loads(Path(split_file).read_text())
    except (OSError, ValueError) as error:
        raise QSearchError(f"{split_file}: cannot read split file ({error})") from None
    if not isinstance(splits, dict) or split not in splits:
        names = ", ".join(splits) if isinstance(splits, dict) else "none"
        raise QSearchError(f"{split_file}: no split named {split!r} (has: {names})")
    index = {p.name: i for i, p in enumerate(files)}
    index.update({p.relative_to(folder).as_posix(): i for i, p in enumerate(files)})
    missing = [name for name in splits[split] if name not in index]
    if missing:
        raise QSearchError(f"{split_file}: split {split!r} names {len(missing)} file(s) not in {folder}, e.g. {missing[0]}")
    chosen = [index[name] for name in splits[split]]
    return [files[i] for i in chosen], (None if labels is None else labels[chosen])


# -- decoding -----------------------------------------------------------------------------
def read_rgb(path: Path) -> np.ndarray:
    """Decode any supported image to RGB uint8; 16-bit, grayscale, RGBA, CMYK are converted."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(image, dtype=np.float64)
                peak = 65535.0 if wide.max() > 255 else 255.0
                image = Image.fromarray(np.round(wide * 255.0 / peak).astype(np.uint8))
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise QSearchError(f"{path}: not a readable image ({error})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise QSearchError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]} px is too small (minimum {MIN_SIDE} px a side)")
    return rgb


def _cache_key(files: list[Path], compress_at: str, preprocessing: Preprocessing) -> str:
    digest = hashlib.sha256(f"{_CACHE_VERSION}|{compress_at}|{preprocessing}".encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(hashlib.sha1(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def default_cache_dir() -> Path:
    return Path(os.environ.get("QSEARCH_CACHE", Path.home() / ".cache" / "qsearch"))


def load_images(
    folder, *, split_file=None, split: str | None = None, compress_at: str = "input",
    preprocessing: Preprocessing = Preprocessing(), limit: int | None = None,
    strict: bool = False, cache_dir=None, threads: int | None = None,
) -> ImageSet:
    """Load a folder (or a list of unlabeled image files) as an :class:`ImageSet`, from the
    prepared cache when the same files and preprocessing were seen before. Unreadable images
    are skipped with a count (or are fatal with ``strict``)."""
    if compress_at not in COMPRESS_AT:
        raise QSearchError(f"--compress-at {compress_at!r} is not one of {', '.join(COMPRESS_AT)}")
    if isinstance(folder, (list, tuple)):
        files, labels, folder = [Path(f) for f in folder], None, Path(folder[0]).parent
    else:
        folder = Path(folder)
        files, labels = discover(folder)
    if split_file is not None or split is not None:
        if split_file is None or split is None:
            raise QSearchError("a split needs both --split-file and --split")
        files, labels = select_split(folder, files, labels, split_file, split)
    if limit is not None:
        files, labels = files[:limit], (None if labels is None else labels[:limit])
    if not files:
        raise QSearchError(f"{folder}: no image files found")

    cache_path = Path(cache_dir or default_cache_dir()) / f"images-{_cache_key(files, compress_at, preprocessing)}.pkl"
    image_set = _read_cache(cache_path)
    if image_set is None:
        image_set = _prepare(files, labels, compress_at, preprocessing, threads)
        _write_cache(cache_path, image_set)
    if image_set.skipped:
        if strict:
            raise QSearchError(image_set.skipped[0])
        log.warning("skipped %d unreadable image(s) of %d, first: %s", len(image_set.skipped),
                    len(files), image_set.skipped[0])
    if not len(image_set):
        raise QSearchError(f"{folder}: none of its {len(files)} files is a readable image ({image_set.skipped[0]})")
    if image_set.upscaled:
        log.info("%d image(s) smaller than %d px were upscaled to the network input", image_set.upscaled,
                 preprocessing.input_size)
    return image_set


def _prepare(files, labels, compress_at: str, preprocessing: Preprocessing, threads) -> ImageSet:
    def prepare(path: Path):
        try:
            rgb = read_rgb(path)
        except QSearchError as error:
            return error
        return preprocessing(rgb) if compress_at == "input" else rgb, min(rgb.shape[:2]) < preprocessing.input_size

    with ThreadPoolExecutor(threads or os.cpu_count()) as pool:
        prepared = list(pool.map(prepare, files))
    keep = [i for i, item in enumerate(prepared) if not isinstance(item, QSearchError)]
    images = [prepared[i][0] for i in keep]
    return ImageSet(
        names=[files[i].name for i in keep],
        images=np.stack(images) if compress_at == "input" and images else images,
        labels=None if labels is None else labels[keep],
        source_bytes=np.array([files[i].stat().st_size for i in keep], dtype=np.int64),
        compress_at=compress_at, preprocessing=preprocessing,
        skipped=[str(item) for item in prepared if isinstance(item, QSearchError)],
        upscaled=sum(prepared[i][1] for i in keep),
    )


def _read_cache(path: Path) -> ImageSet | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        log.warning("%s: unreadable image cache, rebuilding", path)
        return None


def _write_cache(path: Path, image_set: ImageSet) -> None:
    """Atomic: a crash mid-write leaves no half file for the next run to trip on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    with temporary.open("wb") as handle:
        pickle.dump(image_set, handle, protocol=5)
    temporary.replace(path)
