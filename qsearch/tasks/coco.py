"""COCO box mAP, written so that a bootstrap can recompute the pooled figure fast.

COCO's evaluation is two steps: matching, image by image and class by class (greedy by score,
at IoU 0.50:0.05:0.95, at most 100 detections a class), then accumulation over all images
(precision envelope, 101 recall points). Matching never looks at other images, so it is done
once per image and kept as a small record; accumulation is repeated on any resample of images
with weights (an image drawn twice counts twice). With unit weights the figures equal
pycocotools' ``COCOeval`` (``stats[0]`` and ``stats[1]``; tests check it on COCO128)."""

from __future__ import annotations

import numpy as np

from qsearch.tasks.annotations import Boxes
from qsearch.tasks.boxes import Detections

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100
"""Detections kept per image and class, as COCO's mAP counts them."""


def box_iou(a: np.ndarray, b: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """IoU of every x1 y1 x2 y2 box in ``a`` with every one in ``b`` (COCO's areas: w x h); for
    a ``crowd`` box of ``b``, the share of the ``a`` box inside it, as COCO counts crowds."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    union = area_a[:, None] + area_b[None, :] - inter
    if crowd is not None:
        union = np.where(crowd[None, :], area_a[:, None], union)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match(
    found: Detections, boxes: np.ndarray, classes: np.ndarray, crowd: np.ndarray | None = None
) -> dict:
    """One image's matching record: ``gt`` the boxes a class that count ({class: count}, crowds
    left out), ``det`` one row a kept detection ``[class, score, hits]`` (plus ``ignored`` where
    it matched a crowd) where bit t of ``hits`` (``ignored``) says it is a true positive (is
    left out) at IoU threshold t."""
    crowd = np.zeros(len(classes), bool) if crowd is None else np.asarray(crowd, bool)
    rows: list[list] = []
    for cls in np.unique(found.classes):
        mine = np.flatnonzero(found.classes == cls)
        mine = mine[np.argsort(-found.scores[mine], kind="mergesort")][:MAX_DETECTIONS]
        theirs = np.flatnonzero(classes == cls)
        theirs = theirs[np.argsort(crowd[theirs], kind="mergesort")]  # crowds last, as COCO
        ious = box_iou(found.boxes[mine], boxes[theirs], crowd[theirs])
        hits, ignored = _hits(ious, crowd[theirs])
        for d, hit, left in zip(mine, hits, ignored):
            rows.append(
                [int(cls), float(found.scores[d]), int(hit), *([int(left)] if left else [])]
            )
    counted = classes[~crowd].astype(np.int64)
    counts = np.bincount(counted) if len(counted) else np.zeros(0, np.int64)
    return {"gt": {str(c): int(n) for c, n in enumerate(counts) if n}, "det": rows}


def _hits(ious: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching of score-sorted detections to boxes, per threshold, by COCO's rule: the
    unmatched box of highest IoU at or above the threshold, crowds (matched any number of
    times) only where no other box matches; (hit bits, ignored bits) a detection."""
    hits = np.zeros(len(ious), np.int64)
    ignored = np.zeros(len(ious), np.int64)
    if not ious.shape[1]:
        return hits, ignored
    reach = ious.max(1)
    near = np.flatnonzero(reach >= IOU_THRESHOLDS[0])  # the others match nothing, at any threshold
    for t, threshold in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(ious.shape[1], bool)
        floor = min(threshold, 1 - 1e-10)
        for d in near[reach[near] >= floor]:
            best = _best_box(ious[d], taken, crowd, floor)
            if best < 0:
                continue
            if crowd[best]:
                ignored[d] |= 1 << t
            else:
                hits[d] |= 1 << t
                taken[best] = True
    return hits, ignored


def _best_box(ious: np.ndarray, taken: np.ndarray, crowd: np.ndarray, floor: float) -> int:
    """The box a detection matches (-1 for none): the free non-crowd box of highest IoU at or
    above ``floor``, else the crowd box of highest IoU there."""
    for pool in (~crowd & ~taken, crowd):
        candidates = np.where(pool, ious, -1.0)
        best = int(candidates.argmax())
        if candidates[best] >= floor:
            return best
    return -1


class PooledAP:
    """mAP@[.5:.95] and AP50 of a set of image records, for any weighting of the images."""

    def __init__(self, records: list[dict]):
        classes = sorted(
            {int(c) for r in records for c in r["gt"]}
            | {row[0] for r in records for row in r["det"]}
        )
        index = {c: k for k, c in enumerate(classes)}
        self.truth = np.zeros((len(records), len(classes)))
        """Boxes that count, image by class."""
        for i, record in enumerate(records):
            for c, n in record["gt"].items():
                self.truth[i, index[int(c)]] = n
        table = _detection_table(records, index)
        self.segment = table[:, 0].astype(np.int64)
        self.image = table[:, 4].astype(np.int64)
        steps = np.arange(len(IOU_THRESHOLDS))
        self.true = ((table[:, 2:3].astype(np.int64) >> steps) & 1).astype(np.float64)
        self.counted = 1.0 - ((table[:, 3:4].astype(np.int64) >> steps) & 1)
        """0 where a detection matched a crowd at that threshold: neither hit nor miss."""
        self.classes = len(classes)
        starts = np.searchsorted(self.segment, np.arange(self.classes))
        self.before = np.maximum(starts - 1, 0)
        self.has_rows = np.bincount(self.segment, minlength=self.classes) > 0
        self.first = starts

    def __call__(self, weights: np.ndarray | None = None) -> tuple[float, ...]:
        """(mAP@[.5:.95], AP50) with each image counted ``weights[i]`` times (default once)."""
        weights = np.ones(len(self.truth)) if weights is None else np.asarray(weights, float)
        truth = weights @ self.truth
        counted = truth > 0
        if not counted.any():
            return float("nan"), float("nan")
        precision = np.zeros((self.classes, len(IOU_THRESHOLDS)))
        if len(self.segment):
            precision = self._precision(weights, truth)
        ap = precision[counted]
        return float(ap.mean()), float(ap[:, 0].mean())

    def _segment_cumsum(self, values: np.ndarray) -> np.ndarray:
        total = np.cumsum(values, axis=0)
        offset = np.where(
            (self.first > 0)[:, None], total[self.before], 0.0
        )  # the running total before each class's first row
        return total - offset[self.segment]

    def _precision(self, weights: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """Area under each class's interpolated precision-recall curve, per threshold."""
        w = weights[self.image][:, None] * self.counted
        tp = self._segment_cumsum(self.true * w)
        fp = self._segment_cumsum((1 - self.true) * w)
        recall = tp / np.maximum(truth[self.segment], 1e-12)[:, None]
        precision = tp / (tp + fp + np.spacing(1))
        lift = 2.0 * (self.classes - 1 - self.segment)[:, None]  # keeps classes apart below
        envelope = np.maximum.accumulate((precision + lift)[::-1], axis=0)[::-1] - lift
        shift = 2.0 * np.arange(self.classes)
        ends = self.first + np.bincount(self.segment, minlength=self.classes)
        result = np.zeros((self.classes, len(IOU_THRESHOLDS)))
        queries = (RECALL_POINTS[None, :] + shift[:, None]).ravel()
        for t in range(len(IOU_THRESHOLDS)):
            found = np.searchsorted(recall[:, t] + 2.0 * self.segment, queries, side="left")
            found = found.reshape(self.classes, len(RECALL_POINTS))
            valid = found < ends[:, None]
            values = np.where(valid, envelope[np.minimum(found, len(envelope) - 1), t], 0.0)
            result[:, t] = values.mean(1)
        return np.where(self.has_rows[:, None], result, 0.0)


def _detection_table(records: list[dict], index: dict[int, int]) -> np.ndarray:
    """Every detection as a row (class index, score, hit bits, ignored bits, image), sorted by
    class, then by score, ties in image order (COCO's mergesort over images in order)."""
    rows = [
        (index[row[0]], row[1], row[2], row[3] if len(row) > 3 else 0, i)
        for i, r in enumerate(records)
        for row in r["det"]
    ]
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return table[np.lexsort((-table[:, 1], table[:, 0]))]


def coco_dicts(found: list[Detections], truth: list[Boxes]) -> tuple[list, list, list]:
    """(images, annotations, results) in COCO's JSON form, image k given id k and category ids
    the network's classes: what pycocotools reads, to check figures against it or export them."""
    images: list[dict] = []
    annotations: list[dict] = []
    results: list[dict] = []
    for k, (seen, labelled) in enumerate(zip(found, truth)):
        images.append({"id": k})
        crowd = labelled.crowd if labelled.crowd is not None else np.zeros(len(labelled.classes))
        for box, cls, flag in zip(labelled.boxes.tolist(), labelled.classes.tolist(), crowd):
            width, height = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": k, "category_id": cls,
                                "bbox": [box[0], box[1], width, height], "area": width * height,
                                "iscrowd": int(flag)})  # fmt: skip
        for box, score, cls in zip(
            seen.boxes.tolist(), seen.scores.tolist(), seen.classes.tolist()
        ):
            results.append({"image_id": k, "category_id": cls, "score": score,
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})  # fmt: skip
    return images, annotations, results


__all__ = ["IOU_THRESHOLDS", "MAX_DETECTIONS", "PooledAP", "box_iou", "coco_dicts", "match"]
