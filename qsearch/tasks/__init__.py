"""Tasks beyond classification: what a detector or a segmenter expects (declared, never
guessed), how its outputs become boxes or masks, how labels are read, and the pooled figures
(COCO mAP, mean IoU) their evaluators report. ``--task classify`` is the classifier of
``qsearch.models``; every other task is a plugin of :data:`qsearch.tasks.task.TASKS`
(``detect`` and ``segment`` ship here)."""
