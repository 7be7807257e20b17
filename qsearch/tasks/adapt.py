"""Detectors and segmenters adapted to compression, without labels: the model file becomes a
trainable module (ONNX through ``onnx2torch``; TorchScript and ``.pt2`` as they are), its raw
output on a compressed image is pulled towards the frozen model's raw output on the
uncompressed image, and the result is an adapter of the same kind as a classifier's. Exported
(:func:`qsearch.tasks.export.export_task_model`), it is an ONNX file with the base's input and output names and
shapes and its declaration beside it, which every command, ONNX Runtime and the ladder take."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.images import ImageSet
from qsearch.models.learner import Learner, trainable
from qsearch.models.sidecar import read_declaration, sidecar_path
from qsearch.tasks.declaration import TaskModel, load_task_model
from qsearch.tasks.export import trainable_module
from qsearch.tasks.task import TASKS

TASK_LEARNABLE = ("biases", "head", "batchnorm", "all")
"""``biases``: every bias (an ONNX export folds BatchNorm into its convolutions, leaving the
biases as its shifts); ``head``: the parameters under a module named ``head``; ``batchnorm``
where there are BatchNorm layers; ``all``."""


def task_trainable(module: torch.nn.Module, learn: str) -> list[torch.nn.Parameter]:
    """The parameters that learn under one of :data:`TASK_LEARNABLE`."""
    if learn == "batchnorm":
        return trainable(module, "batchnorm")
    chosen = _NAMED[learn]
    return [p for n, p in module.named_parameters() if chosen(n)]


_NAMED = {
    "all": lambda name: True,
    "biases": lambda name: name.endswith("bias"),
    "head": lambda name: name.replace(".", "/").split("/")[0] == "head",
}


class TaskLearner(Learner):
    """A declared detector or segmenter: inputs placed as declared, the raw first output
    compared by the divergence its output layout defines."""

    divergence_name = "divergence"

    def __init__(self, model: Path | str, task: str, declared: dict | None = None):
        path = Path(model)
        self.declaration = {**read_declaration(path), **(declared or {}), "task": task}
        self.model: TaskModel = load_task_model(path, task, declared)
        self.task, self.name = task, str(path)
        self.digest = self.model.runtime.sha256
        self.module = trainable_module(path)
        self.pull = TASKS[self.model.task].divergence(self.model)

    def identity(self) -> dict[str, str]:
        """The model file's contents and every declared step."""
        return self.model.identity()

    def inputs(self, images: ImageSet) -> np.ndarray:
        """Each stored image on the declared canvas."""
        return np.stack([self.model.spec.canvas(image) for image in images.images])

    def placed(self, images: ImageSet, decoded: np.ndarray) -> np.ndarray:
        """A decoded stored image on the declared canvas."""
        return self.model.spec.canvas(decoded)

    def output(self, module: torch.nn.Module, batch: np.ndarray) -> torch.Tensor:
        """The first raw output for a batch of canvases."""
        with warnings.catch_warnings():  # onnx2torch's slicing warns of a future torch change
            warnings.simplefilter("ignore", UserWarning)
            found = module(torch.from_numpy(self.model.spec.tensor(batch)))
        return (found[0] if isinstance(found, (tuple, list)) else found).float()

    def divergence(self, teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        """The layout's divergence, mean over images."""
        return self.pull(teacher, student).mean()

    def trainable(self, module: torch.nn.Module, learn: str) -> list[torch.nn.Parameter]:
        """One of :data:`TASK_LEARNABLE`."""
        if learn not in TASK_LEARNABLE:
            raise QSearchError(f"--learn {learn}: a {self.task} network learns one of "
                               f"{', '.join(TASK_LEARNABLE)}")  # fmt: skip
        return task_trainable(module, learn)

    def written(self, path: Path, student: torch.nn.Module) -> torch.nn.Module:
        """The adapted module; the base's declaration beside the adapter."""
        write_text(sidecar_path(path), json.dumps(self.declaration, indent=2) + "\n")
        return student


def detector_divergence(model: TaskModel):
    """Box rows (smooth L1) weighted by the frozen objectness (or best class score), objectness
    and class scores as probabilities (KL), per image."""
    head, spec = model.head, model.spec
    if head.layout == "yolox":
        return lambda t, s: _rows_divergence(t, s, box_scale=1.0)
    if head.layout == "yolov5":
        return lambda t, s: _rows_divergence(t, s, box_scale=float(max(spec.width, spec.height)))
    if head.layout == "yolov8":
        return lambda t, s: _yolov8_divergence(t, s, float(max(spec.width, spec.height)))
    raise QSearchError(
        f"output {head.layout}: adapting needs the raw rows (yolox, yolov5 or yolov8), not final boxes"
    )


def segmenter_divergence(model: TaskModel):
    """Masks pixel by pixel (KL), per image."""
    channels = -1 if model.spec.layout == "nhwc" else 1
    return lambda t, s: _map_divergence(t, s, model.head.output, channels)


def _binary_kl(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """KL between Bernoulli probabilities, element by element (0 where they are equal)."""
    t = teacher.clamp(1e-6, 1 - 1e-6)
    s = student.clamp(1e-6, 1 - 1e-6)
    return t * (t / s).log() + (1 - t) * ((1 - t) / (1 - s)).log()


def _box_gap(t: torch.Tensor, s: torch.Tensor, box_scale: float) -> torch.Tensor:
    """Per row: smooth L1 between the box coordinates (quadratic near zero, so that the
    uncompressed image's term, at its minimum, grows slower than a compressed one falls)."""
    return torch.nn.functional.smooth_l1_loss(
        s / box_scale, t / box_scale, reduction="none", beta=1.0
    ).sum(-1)


def _weighted(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per image: the mean of ``values`` over rows, weighted."""
    return (values * weights).sum(1) / weights.sum(1).clamp_min(1e-6)


def _rows_divergence(t: torch.Tensor, s: torch.Tensor, box_scale: float) -> torch.Tensor:
    """(N, rows, 5 + classes): x, y, w, h, objectness, class scores."""
    weight = t[..., 4]
    boxes = _box_gap(t[..., :4], s[..., :4], box_scale)
    classes = _binary_kl(t[..., 5:], s[..., 5:]).mean(-1)
    objectness = _binary_kl(t[..., 4], s[..., 4]).mean(1)
    return _weighted(boxes, weight) + objectness + _weighted(classes, weight)


def _yolov8_divergence(t: torch.Tensor, s: torch.Tensor, box_scale: float) -> torch.Tensor:
    """(N, 4 + classes, rows): boxes then class scores, no objectness."""
    t, s = t.transpose(1, 2), s.transpose(1, 2)
    weight = t[..., 4:].amax(-1)
    boxes = _box_gap(t[..., :4], s[..., :4], box_scale)
    classes = _binary_kl(t[..., 4:], s[..., 4:]).mean(-1)
    return _weighted(boxes, weight) + _weighted(classes, weight)


def _map_divergence(t: torch.Tensor, s: torch.Tensor, output: str, channels: int) -> torch.Tensor:
    """Per-pixel KL of a probability map (binary) or of logits (softmax over channels)."""
    if output == "probability":
        return _binary_kl(t, s).flatten(1).mean(1)
    teacher, student = t.log_softmax(channels), s.log_softmax(channels)
    return (teacher.exp() * (teacher - student)).sum(channels).flatten(1).mean(1)


__all__ = [
    "TASK_LEARNABLE", "TaskLearner", "detector_divergence", "segmenter_divergence",
    "task_trainable",
]  # fmt: skip
