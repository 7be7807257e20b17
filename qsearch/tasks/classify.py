"""``--task classify``: a classifier of :mod:`qsearch.models` (a named network or a model file
with its sidecar), labels from ImageNet synset names or class folders, top-1, top-5,
log-probability and the label-free agreement and similarity from the ``classifier`` evaluator.
Its network-sized crops are compressed unless ``--compress-at source`` says otherwise."""

from __future__ import annotations

from qsearch.errors import QSearchError
from qsearch.models.sidecar import CLASSIFY
from qsearch.tasks.task import TASKS, Task


class ClassifyTask(Task):
    """Image classification: top-1 against labels, agreement with the network's own answer on
    the uncompressed image without."""

    name = CLASSIFY
    evaluator = "classifier"
    labels = "ImageNet synset names (nSYNSET_*) or one folder per class (--labels)"
    head_keys = ()
    declared = False
    compress_at = "input"
    labels_from_names = True
    default_learn = "batchnorm"

    def head(self, given: dict):
        """A classifier's output is its logits: there is no head to declare."""
        raise QSearchError("--task classify: a classifier declares its input only (M.json)")

    def read_labels(self, path, names, sizes, head, class_map):
        """A classifier's labels come from the names (--labels), not from --annotations."""
        raise QSearchError("--task classify: labels come from the image names (--labels)")

    def export_adapted(self, adapter, out, model, weights, declared):
        """The classifier with the adapter applied, traced to TorchScript (``.pt``) or ONNX."""
        from qsearch.models.adapter import export_model, load_adapted

        classifier = load_adapted(adapter, model, weights, "cpu", declared)
        return export_model(classifier, out), classifier.name


CLASSIFY_TASK = TASKS.register()(ClassifyTask())

__all__ = ["CLASSIFY_TASK", "ClassifyTask"]
