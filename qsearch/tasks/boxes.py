"""A detector's output, decoded to boxes in the stored image's pixels: the declared output
layout (YOLOX grid-relative heads, the YOLOv5 and YOLOv8 export layouts, or already decoded
``boxes`` rows), then the score threshold and torchvision's per-class non-maximum suppression.
Other layouts register under the ``qsearch.box_layouts`` entry-point group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qsearch.errors import QSearchError
from qsearch.images.geometry import Placement
from qsearch.registry import Registry
from qsearch.tasks.inputs import InputSpec

BOX_LAYOUTS = Registry("qsearch.box_layouts")


@dataclass(frozen=True)
class Detections:
    """One image's boxes (x1 y1 x2 y2, stored pixels), scores and the network's classes."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class DetectorHead:
    """How a detector's output is read: ``layout`` (a :data:`BOX_LAYOUTS` name), its
    ``classes``, the ``strides`` of grid-relative heads, the score threshold and NMS IoU."""

    layout: str
    classes: int
    score_threshold: float = 0.01
    nms_iou: float = 0.65
    strides: tuple[int, ...] = (8, 16, 32)

    def __post_init__(self) -> None:
        BOX_LAYOUTS[self.layout]  # an unknown layout is refused now, naming the choices
        if self.classes < 1:
            raise QSearchError(f"classes {self.classes} must be at least 1")
        if not (0 <= self.score_threshold < 1 and 0 < self.nms_iou <= 1):
            raise QSearchError(
                f"score threshold {self.score_threshold} and NMS IoU {self.nms_iou} must lie "
                "within [0, 1) and (0, 1]"
            )

    def describe(self) -> str:
        """One line: layout, classes, thresholds."""
        strides = f" strides {list(self.strides)}" if self.layout == "yolox" else ""
        return (
            f"{self.layout}{strides}, {self.classes} classes, score > {self.score_threshold:g}, "
            f"NMS IoU {self.nms_iou:g}"
        )

    def detections(self, output: np.ndarray, spec: InputSpec, place: Placement) -> Detections:
        """One image's output (batch row) -> its kept boxes in stored pixels."""
        boxes, scores, classes = BOX_LAYOUTS[self.layout](output, self, spec)
        keep = scores > self.score_threshold
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        kept = _nms(boxes, scores, classes, self.nms_iou)
        order = kept[np.argsort(-scores[kept], kind="stable")]
        return Detections(place.to_stored(boxes[order]), scores[order], classes[order])


Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(boxes x1 y1 x2 y2 in input pixels, scores, classes) before the threshold and NMS."""


def _nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    import torch
    from torchvision.ops import batched_nms

    if not len(scores):
        return np.zeros(0, dtype=np.int64)
    kept = batched_nms(
        torch.from_numpy(np.ascontiguousarray(boxes, np.float32)),
        torch.from_numpy(np.ascontiguousarray(scores, np.float32)),
        torch.from_numpy(classes.astype(np.int64)),
        iou,
    )
    return kept.numpy()


def _check_shape(
    layout: str, output: np.ndarray, expected: tuple[int | None, ...], why: str
) -> None:
    fits = output.ndim == len(expected) and all(
        e is None or e == g for e, g in zip(expected, output.shape)
    )
    if not fits:
        shown = "x".join("N" if e is None else str(e) for e in expected)
        raise QSearchError(
            f"output layout {layout} expects one image's output of shape {shown} ({why}); the "
            f"model gives {'x'.join(map(str, output.shape))}"
        )


def _corners(xywh: np.ndarray) -> np.ndarray:
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], 1)


def _best_class(
    class_scores: np.ndarray, objectness: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """One class a box, the most likely (the exporters' own evaluation), scored objectness x
    class score where there is an objectness."""
    classes = class_scores.argmax(1)
    scores = class_scores[np.arange(len(classes)), classes]
    return (scores if objectness is None else objectness * scores), classes


@BOX_LAYOUTS.register("yolox")
def yolox(output: np.ndarray, head: DetectorHead, spec: InputSpec) -> Decoded:
    """``A x (5 + classes)`` rows ``x y w h objectness scores...``, grid-relative: one row per
    cell of each stride, row-major, strides in order; xy = (xy + cell) x stride, wh = exp(wh) x
    stride."""
    cells = [(spec.height // s, spec.width // s) for s in head.strides]
    anchors = sum(h * w for h, w in cells)
    _check_shape(
        "yolox",
        output,
        (anchors, 5 + head.classes),
        f"{spec.height}x{spec.width} input, strides {list(head.strides)}, {head.classes} classes",
    )
    grid, stride = [], []
    for (rows, cols), s in zip(cells, head.strides):
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grid.append(np.stack([xs, ys], -1).reshape(-1, 2))
        stride.append(np.full((rows * cols, 1), s))
    grid_xy, steps = np.concatenate(grid), np.concatenate(stride)
    xywh = np.concatenate([(output[:, :2] + grid_xy) * steps, np.exp(output[:, 2:4]) * steps], 1)
    scores, classes = _best_class(output[:, 5:], output[:, 4])
    return _corners(xywh), scores, classes


@BOX_LAYOUTS.register("yolov5")
def yolov5(output: np.ndarray, head: DetectorHead, spec: InputSpec) -> Decoded:
    """``A x (5 + classes)`` rows ``cx cy w h objectness scores...`` in input pixels."""
    _check_shape("yolov5", output, (None, 5 + head.classes), f"{head.classes} classes")
    scores, classes = _best_class(output[:, 5:], output[:, 4])
    return _corners(output[:, :4]), scores, classes


@BOX_LAYOUTS.register("yolov8")
def yolov8(output: np.ndarray, head: DetectorHead, spec: InputSpec) -> Decoded:
    """``(4 + classes) x A`` columns ``cx cy w h scores...`` in input pixels (no objectness)."""
    _check_shape("yolov8", output, (4 + head.classes, None), f"{head.classes} classes")
    rows = output.T
    scores, classes = _best_class(rows[:, 4:], None)
    return _corners(rows[:, :4]), scores, classes


@BOX_LAYOUTS.register("boxes")
def decoded_boxes(output: np.ndarray, head: DetectorHead, spec: InputSpec) -> Decoded:
    """``N x 6`` rows ``x1 y1 x2 y2 score class`` in input pixels (NMS is applied again)."""
    _check_shape("boxes", output, (None, 6), "x1 y1 x2 y2 score class rows")
    classes = output[:, 5].astype(np.int64)
    if len(classes) and (classes.min() < 0 or classes.max() >= head.classes):
        raise QSearchError(
            f"output layout boxes: class {int(classes.max())} is beyond the declared "
            f"{head.classes} classes"
        )
    return output[:, :4], output[:, 4], classes


Layout = Callable[[np.ndarray, DetectorHead, InputSpec], Decoded]

__all__ = ["BOX_LAYOUTS", "DetectorHead", "Detections", "Layout"]
