"""The detector evaluator: COCO mAP@[.5:.95] and AP50 of a frozen detector's boxes against
labels, and ``map_ref`` / ``ap50_ref``, the same against its own confident boxes on the
uncompressed image (no labels needed), each pooled over the images, against size."""

from __future__ import annotations

import logging

import numpy as np

from qsearch.errors import QSearchError
from qsearch.search.evaluator import EVALUATORS, Annotation, Metrics
from qsearch.search.metrics import MetricSpec, Pooling
from qsearch.tasks.annotations import Boxes
from qsearch.tasks.boxes import Detections, DetectorHead
from qsearch.tasks.coco import MAX_DETECTIONS, PooledAP, match
from qsearch.tasks.evaluation import TaskEvaluator

log = logging.getLogger(__name__)

REFERENCE_SCORE = 0.3
"""Without labels, the uncompressed image's boxes above this score are the truth."""


@EVALUATORS.register()
class DetectorEvaluator(TaskEvaluator):
    """mAP of a detector on compressed stored images (``--task detect``)."""

    name = "detector"
    task = "detect"
    metric_specs = (
        MetricSpec("map", bounds=(0, 1), pooled=Pooling("map", PooledAP, 0),
                   description="COCO mAP@[.5:.95] against the labels"),
        MetricSpec("ap50", bounds=(0, 1), pooled=Pooling("map", PooledAP, 1),
                   description="COCO AP at IoU 0.5 against the labels"),
        MetricSpec("map_ref", bounds=(0, 1), pooled=Pooling("map_ref", PooledAP, 0), self_referenced=True,
                   description="mAP against the network's own confident boxes, uncompressed"),
        MetricSpec("ap50_ref", bounds=(0, 1), pooled=Pooling("map_ref", PooledAP, 1), self_referenced=True,
                   description="AP50 against the network's own confident boxes, uncompressed"),
    )  # fmt: skip

    reference_score = REFERENCE_SCORE

    @property
    def _truth(self) -> list[Boxes] | None:
        """Each image's labelled boxes, or None without labels."""
        return None if self.annotations is None else self.annotations.items

    kept_from = "map_ref"

    def read(self, output: np.ndarray, index: int) -> Detections:
        """One image's boxes in stored pixels."""
        head = self.model.head
        assert isinstance(head, DetectorHead)  # a detect model's head
        return head.detections(output, self.model.spec, self._places[index])

    def annotation(self, read: Detections) -> Annotation:
        """The boxes above the reference score, captioned with class and score."""
        kept = read.scores > self.reference_score
        boxes = tuple(
            (float(x1), float(y1), float(x2), float(y2), f"{int(c)} {s:.2f}")
            for (x1, y1, x2, y2), c, s in zip(
                read.boxes[kept], read.classes[kept], read.scores[kept]
            )
        )
        return Annotation(caption=f"{len(boxes)} boxes above {self.reference_score:g}", boxes=boxes)

    def records(self, outputs: list) -> dict[str, list]:
        """COCO matches of each image: against the labels and against the uncompressed boxes
        above the reference score."""
        found: dict[str, list] = {"map_ref": []}
        for detections, plain in zip(outputs, self._uncompressed):
            confident = plain.scores > self.reference_score
            found["map_ref"].append(
                match(detections, plain.boxes[confident], plain.classes[confident])
            )
        if self._truth is not None:
            found["map"] = [
                match(d, truth.boxes, truth.classes, truth.crowd)
                for d, truth in zip(outputs, self._truth)
            ]
        return found

    def pooled(self, records: dict[str, list]) -> Metrics:
        """mAP and AP50 (against labels, and against the uncompressed boxes), and the mean
        number of boxes kept an image."""
        figures: Metrics = {}
        for key in ("map", "map_ref"):
            if key in records:
                overall, at_50 = PooledAP(records[key])()
                figures[key], figures[key.replace("map", "ap50")] = overall, at_50
        figures["boxes_per_image"] = float(np.mean([len(r["det"]) for r in records["map_ref"]]))
        return figures

    def check_reference(self) -> None:
        """The uncompressed images' boxes judged against their own confident boxes score 1 by
        construction (where no image has more confident boxes of a class than COCO counts):
        anything else means the declared output is read wrongly (another layout, scale or
        channel order). Hundreds of confident boxes, or a labelled mAP of 0, are said."""
        reference = self.reference or {}
        own = reference.get("map_ref", float("nan"))
        crowded = sum(
            np.bincount(plain.classes[plain.scores > self.reference_score]).max(initial=0)
            > MAX_DETECTIONS
            for plain in self._uncompressed
        )
        if crowded:
            log.warning(
                "%s: %d images have over %d boxes of one class above score %g (COCO counts "
                "%d); check the declaration", self.model.runtime.path, crowded, MAX_DETECTIONS,
                self.reference_score, MAX_DETECTIONS,
            )  # fmt: skip
        elif np.isfinite(own) and own < 0.999:
            raise QSearchError(
                f"{self.model.runtime.path}: its uncompressed boxes judged against themselves "
                f"score map_ref {own:.3f}, not 1: the declaration reads its output wrongly "
                f"(output {self.model.head.describe()}; input {self.model.spec.describe()})"
            )
        if reference.get("map") == 0:
            log.warning(
                "%s: mAP 0 on the uncompressed images against the labels; check the declaration "
                "(scale, channels, output layout) and --class-map", self.model.runtime.path,
            )  # fmt: skip

    def _accuracy_metrics(self) -> tuple[str, ...]:
        labelled = ("map", "ap50") if self._truth is not None else ()
        return (*labelled, "map_ref", "ap50_ref")

    def identity(self) -> dict[str, str]:
        """The evaluator's settings and the score that makes an uncompressed box a truth."""
        return {**super().identity(), "reference_score": f"{self.reference_score:g}"}
