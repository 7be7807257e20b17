"""``--task detect``: boxes from a declared detector output (yolox, yolov5, yolov8 rows or final
boxes), labels from YOLO files or a COCO JSON file, COCO mAP from the ``detector`` evaluator."""

from __future__ import annotations

from pathlib import Path

from qsearch.tasks.boxes import DetectorHead
from qsearch.tasks.task import TASKS, Task


class DetectTask(Task):
    """Object detection: COCO mAP@[.5:.95] and AP50, against labels and against the network's
    own boxes on the uncompressed image."""

    name = "detect"
    evaluator = "detector"
    labels = "a folder of YOLO label files (NAME.txt: class cx cy w h) or a COCO JSON file"
    head_keys = ("output", "classes")
    optional_keys = frozenset({"strides", "score_threshold", "nms_iou"})

    def head(self, given: dict) -> DetectorHead:
        """The declared output layout, class count, score threshold, NMS IoU and strides."""
        return DetectorHead(
            str(given["output"]), int(given["classes"]),
            float(given.get("score_threshold", 0.01)), float(given.get("nms_iou", 0.65)),
            tuple(int(s) for s in given.get("strides", (8, 16, 32))),
        )  # fmt: skip

    def needed_keys(self, given: dict) -> tuple[str, ...]:
        """YOLOX rows need the strides of their grids."""
        return (*self.head_keys, *(("strides",) if given.get("output") == "yolox" else ()))

    def read_labels(self, path, names, sizes, head, class_map):
        """YOLO label files (a folder) or a COCO JSON file, classes mapped to the network's."""
        from qsearch.tasks.annotations import read_boxes, read_coco

        reader = read_coco if Path(path).suffix.lower() == ".json" else read_boxes
        return reader(Path(path), names, sizes, head.classes, class_map)

    def divergence(self, model):
        """Box rows (smooth L1) weighted by the frozen objectness, scores as probabilities."""
        from qsearch.tasks.adapt import detector_divergence

        return detector_divergence(model)


DETECT = TASKS.register()(DetectTask())

__all__ = ["DETECT", "DetectTask"]
