"""Tasks beyond classification: what a detector or a segmenter expects (declared, never
guessed), how its outputs become boxes or masks, how labels are read, and the pooled figures
(COCO mAP, mean IoU) their evaluators report. ``--task classify`` is the classifier of
``qsearch.models``; ``detect`` and ``segment`` live here."""

TASKS = ("classify", "detect", "segment")
"""The evaluator's task settings: ``classify`` is the default."""

__all__ = ["TASKS"]
