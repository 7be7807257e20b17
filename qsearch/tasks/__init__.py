"""Tasks: what a network of each kind expects and answers. A classifier of ``qsearch.models``
(``classify``); a detector or a segmenter declared, never guessed: how its outputs become boxes
or masks, how labels are read, and the pooled figures (COCO mAP, mean IoU) their evaluators
report. Each is a plugin of :data:`qsearch.tasks.task.TASKS` (``classify``, ``detect`` and
``segment`` ship here)."""
