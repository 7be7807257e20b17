"""A segmenter's output, read as declared (per-class ``logits`` or one ``probability`` map), as
a class-index mask at the stored image's size; per-class intersection and union image by
image, pooled into mean IoU over the classes present (a bootstrap re-pools any resample)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from qsearch.errors import QSearchError
from qsearch.images.geometry import Placement
from qsearch.tasks.inputs import InputSpec

OUTPUTS = ("logits", "probability")
BACKGROUND = -1
"""The class of pixels a ``probability`` segmenter leaves out (none of its classes)."""


@dataclass(frozen=True)
class SegmenterHead:
    """How a segmenter's output is read: ``output`` is ``logits`` (one channel a class, the
    largest wins) or ``probability`` (one map, > ``threshold`` is its class); ``classes`` names
    the dataset class each channel means (the selfie segmenter's one channel: COCO panoptic 1)."""

    output: str
    classes: tuple[int, ...]
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise QSearchError(f"output {self.output!r} is not one of {', '.join(OUTPUTS)}")
        if not self.classes or (self.output == "probability" and len(self.classes) != 1):
            raise QSearchError(
                f"channel classes {list(self.classes)}: a {self.output} output needs "
                + ("one class" if self.output == "probability" else "one class a channel")
            )

    def describe(self) -> str:
        """One line: output kind and the classes of its channels."""
        rule = f" > {self.threshold:g}" if self.output == "probability" else " argmax"
        return f"{self.output}{rule}, channel classes {list(self.classes)}"

    def mask(self, output: np.ndarray, spec: InputSpec, place: Placement) -> np.ndarray:
        """One image's output (batch row, NCHW or NHWC as declared) -> its class mask at the
        stored size (dataset class ids; :data:`BACKGROUND` where a probability map says no)."""
        maps = output if spec.layout == "nhwc" else np.moveaxis(output, 0, -1)
        if maps.ndim != 3 or maps.shape[-1] != len(self.classes):
            raise QSearchError(
                f"segmenter output {self.output} with {len(self.classes)} channel(s) expects "
                f"one image's output of HxWx{len(self.classes)} ({spec.layout.upper()}); the "
                f"model gives {'x'.join(map(str, output.shape))}"
            )
        maps = _on_image(maps, spec, place)
        if self.output == "probability":
            return np.where(maps[..., 0] > self.threshold, self.classes[0], BACKGROUND).astype(
                np.int32
            )
        return np.asarray(self.classes, np.int32)[maps.argmax(-1)]


def _on_image(maps: np.ndarray, spec: InputSpec, place: Placement) -> np.ndarray:
    """Output maps cropped to where the image lies on the input and resized (bilinear) to the
    stored size."""
    rows = maps.shape[0] / spec.height
    cols = maps.shape[1] / spec.width
    top, left = int(place.offset_y * rows), int(place.offset_x * cols)
    bottom = top + max(1, round(place.height * place.scale_y * rows))
    right = left + max(1, round(place.width * place.scale_x * cols))
    cropped = maps[top:bottom, left:right].astype(np.float32)
    size = (place.width, place.height)
    channels = [
        np.asarray(Image.fromarray(cropped[..., c]).resize(size, Image.Resampling.BILINEAR))
        for c in range(cropped.shape[-1])
    ]
    return np.stack(channels, -1)


def overlap(predicted: np.ndarray, truth: np.ndarray, classes: tuple[int, ...]) -> dict:
    """One image's record: intersection ``i`` and union ``u`` in pixels, one per class."""
    inter, union = [], []
    for cls in classes:
        mine, theirs = predicted == cls, truth == cls
        inter.append(int((mine & theirs).sum()))
        union.append(int((mine | theirs).sum()))
    return {"i": inter, "u": union}


def pooled_iou(records: list[dict], weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(mean IoU over the classes with any pixel, per-class IoU with NaN for absent classes),
    pixels summed over the images, each counted ``weights[i]`` times."""
    inter = np.array([r["i"] for r in records], dtype=np.float64)
    union = np.array([r["u"] for r in records], dtype=np.float64)
    w = np.ones(len(records)) if weights is None else np.asarray(weights, float)
    total_i, total_u = w @ inter, w @ union
    present = total_u > 0
    per_class = np.where(present, total_i / np.where(present, total_u, 1), np.nan)
    return (float(per_class[present].mean()) if present.any() else float("nan")), per_class


def mean_iou_figures(records: list[dict]) -> Callable[[np.ndarray | None], tuple[float, ...]]:
    """Mean IoU of ``records`` for any weighting of the images (a pooled metric's figures)."""

    def figures(weights: np.ndarray | None = None) -> tuple[float, ...]:
        return (pooled_iou(records, weights)[0],)

    return figures


__all__ = ["BACKGROUND", "OUTPUTS", "SegmenterHead", "mean_iou_figures", "overlap", "pooled_iou"]
