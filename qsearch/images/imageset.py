"""A prepared image set: what gets compressed, its labels, and the input geometry it was
prepared for."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from qsearch.images.geometry import InputGeometry

COMPRESS_AT = ("input", "source")


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
    preprocessing: InputGeometry
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

    @classmethod
    def joined(cls, sets: list[ImageSet]) -> ImageSet:
        """Several image sets prepared alike as one; an image without a label gets -1 where
        others have labels (None where none has)."""
        first = sets[0]
        if len({(s.compress_at, s.preprocessing) for s in sets}) > 1:
            raise ValueError("image sets prepared differently cannot be joined")
        rules = sorted({s.label_rule for s in sets if s.labels is not None})
        return cls(
            _flat(sets, "names"),
            _joined_images(sets),
            _joined_labels(sets),
            np.concatenate([s.source_bytes for s in sets]),
            first.compress_at,
            first.preprocessing,
            digests=_flat(sets, "digests"),
            label_rule="+".join(rules) or "none",
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


def _flat(sets: list[ImageSet], attribute: str) -> list:
    return [item for s in sets for item in getattr(s, attribute)]


def _joined_images(sets: list[ImageSet]) -> np.ndarray | list[np.ndarray]:
    """One stacked array where every set is one (network-sized images), else a list."""
    if all(isinstance(s.images, np.ndarray) for s in sets):
        return np.concatenate([s.images for s in sets])
    return _flat(sets, "images")


def _joined_labels(sets: list[ImageSet]) -> np.ndarray | None:
    """The labels of joined sets: -1 for an unlabelled set's images, None where none has any."""
    if all(s.labels is None for s in sets):
        return None
    return np.concatenate([s.labels if s.labels is not None else np.full(len(s), -1) for s in sets])
