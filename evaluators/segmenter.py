"""The segmenter evaluator: mean IoU of a frozen segmenter's masks over the classes present,
against class-index masks (``miou``, with per-class IoU) and against its own mask on the
uncompressed image (``miou_ref``, no labels needed), pixels pooled over images, against size."""

from __future__ import annotations

import numpy as np

from qsearch.search.evaluator import EVALUATORS, Annotation, Metrics
from qsearch.search.metrics import MetricSpec, Pooling
from qsearch.tasks.evaluation import TaskEvaluator
from qsearch.tasks.masks import BACKGROUND, SegmenterHead, mean_iou_figures, overlap, pooled_iou


@EVALUATORS.register()
class SegmenterEvaluator(TaskEvaluator):
    """Mean IoU of a segmenter on compressed stored images (``--task segment``). With masks,
    images without a mask count in ``miou_ref`` only (their ``miou`` record is empty, so that
    records stay image by image for paired bootstraps)."""

    name = "segmenter"
    task = "segment"
    metric_specs = (
        MetricSpec("miou", bounds=(0, 1), pooled=Pooling("miou", mean_iou_figures),
                   description="mean IoU over the classes present, against the masks"),
        MetricSpec("miou_ref", bounds=(0, 1), pooled=Pooling("miou_ref", mean_iou_figures), self_referenced=True,
                   description="mean IoU against the network's own uncompressed mask"),
    )  # fmt: skip

    @property
    def _masks(self) -> list | None:
        """Each image's mask (None where it has none), or None without masks."""
        return None if self.annotations is None else self.annotations.items

    @property
    def _head(self) -> SegmenterHead:
        head = self.model.head
        assert isinstance(head, SegmenterHead)  # a segment model's head
        return head

    kept_from = "miou_ref"

    def read(self, output: np.ndarray, index: int) -> np.ndarray:
        """One image's class mask at its stored size."""
        return self._head.mask(output, self.model.spec, self._places[index])

    def annotation(self, read: np.ndarray) -> Annotation:
        """The pixels of any class but background, and their share."""
        mask = read != BACKGROUND
        return Annotation(caption=f"{100 * mask.mean():.1f}% of pixels segmented", mask=mask)

    def records(self, outputs: list) -> dict[str, list]:
        """Intersections and unions a class, image by image: against the masks (images that
        have one) and against the uncompressed output."""
        classes = self._head.classes
        found = {
            "miou_ref": [
                overlap(m, plain, classes) for m, plain in zip(outputs, self._uncompressed)
            ]
        }
        if self._masks is not None:
            nothing = {"i": [0] * len(classes), "u": [0] * len(classes)}  # pools to nothing
            found["miou"] = [
                nothing if truth is None else overlap(m, truth, classes)
                for m, truth in zip(outputs, self._masks)
            ]
        return found

    def pooled(self, records: dict[str, list]) -> Metrics:
        """Mean IoU (and IoU of each class, ``iou_<class>``) over the pooled pixels."""
        figures: Metrics = {"miou_ref": pooled_iou(records["miou_ref"])[0]}
        if "miou" in records:
            overall, per_class = pooled_iou(records["miou"])
            figures["miou"] = overall
            figures.update({f"iou_{c}": float(v) for c, v in zip(self._head.classes, per_class)})
        return figures

    def _accuracy_metrics(self) -> tuple[str, ...]:
        return ("miou", "miou_ref") if self._masks is not None else ("miou_ref",)
