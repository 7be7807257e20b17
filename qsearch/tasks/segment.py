"""``--task segment``: class masks from a declared segmenter output (logits or probabilities),
labels from PNG class-index masks, mean IoU from the ``segmenter`` evaluator."""

from __future__ import annotations

from pathlib import Path

from qsearch.tasks.masks import SegmenterHead
from qsearch.tasks.task import TASKS, Task


class SegmentTask(Task):
    """Semantic segmentation: mean IoU over the classes present, against masks and against the
    network's own mask on the uncompressed image."""

    name = "segment"
    evaluator = "segmenter"
    labels = "a folder of PNG class-index masks (NAME.png)"
    head_keys = ("output", "classes")
    optional_keys = frozenset({"threshold"})

    def head(self, given: dict) -> SegmenterHead:
        """The declared output kind, the class id of each channel and the threshold."""
        classes = given["classes"]
        if not isinstance(classes, list) or not all(isinstance(c, int) for c in classes):
            raise ValueError(
                f"classes {classes!r}: a segmenter declares the class id of each channel"
            )
        return SegmenterHead(
            str(given["output"]), tuple(classes), float(given.get("threshold", 0.5))
        )

    def read_labels(self, path, names, sizes, head, class_map):
        """PNG class-index masks named like the images."""
        from qsearch.tasks.annotations import read_masks

        return read_masks(Path(path), names, sizes)

    def divergence(self, model):
        """Per-pixel KL between the frozen and the adapted masks."""
        from qsearch.tasks.adapt import segmenter_divergence

        return segmenter_divergence(model)


SEGMENT = TASKS.register()(SegmentTask())

__all__ = ["SEGMENT", "SegmentTask"]
