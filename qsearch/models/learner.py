"""What adaptation trains, one network kind at a time: a :class:`Learner` says how an image
becomes the network's input, what of its output is compared with the frozen output and which
parameters learn (BatchNorm scales and shifts, the head, every bias, or all). The classifier's
learner is here; a detector's and a segmenter's are in :mod:`qsearch.tasks.adapt`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qsearch.errors import QSearchError
from qsearch.images import ImageSet
from qsearch.models.adapter import apply_adapter
from qsearch.models.classifier import Classifier
from qsearch.models.sidecar import CLASSIFY, write_sidecar
from qsearch.models.sources import RuntimeModule

LEARNABLE = ("batchnorm", "head", "biases", "all")


class Learner(ABC):
    """One kind of network as the trainer sees it: its trainable module, how an image becomes
    its input, what of its output is compared, and the divergence from the frozen output.
    :class:`ClassifierLearner` here; detectors and segmenters in :mod:`qsearch.tasks.adapt`."""

    name: str
    module: torch.nn.Module
    digest: str
    """sha256 of the base's weights: the adapter applies to these only."""
    task = CLASSIFY
    divergence_name = "kl"

    @abstractmethod
    def identity(self) -> dict[str, str]:
        """What decides the network's outputs (model, weights, declared inputs)."""

    @abstractmethod
    def inputs(self, images: ImageSet) -> np.ndarray:
        """The uncompressed images as the network takes them, (N, H, W, 3) uint8."""

    @abstractmethod
    def placed(self, images: ImageSet, decoded: np.ndarray) -> np.ndarray:
        """A decoded image (as compressed) as the network takes it."""

    @abstractmethod
    def output(self, module: torch.nn.Module, batch: np.ndarray) -> torch.Tensor:
        """What the divergence compares, for a (N, H, W, 3) uint8 batch."""

    @abstractmethod
    def divergence(self, teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        """The mean over images of how far the student's output is from the teacher's."""

    def trainable(self, module: torch.nn.Module, learn: str) -> list[torch.nn.Parameter]:
        """The parameters of ``module`` that learn under ``learn``."""
        return trainable(module, learn)

    def figures(self, teacher, plain, compressed, labels) -> dict[str, float]:
        """Counts over a validation batch beside the divergence (none by default)."""
        return {}

    def label_loss(self, compressed: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
        """Cross-entropy against labels where the task has them (None: it has none)."""
        return None

    @abstractmethod
    def written(self, path: Path, student: torch.nn.Module) -> Any:
        """The adapted network from its adapter file, its declaration written beside it."""


class ClassifierLearner(Learner):
    """A :class:`Classifier`: log-probabilities compared by KL; labels where asked for."""

    def __init__(self, classifier: Classifier):
        if isinstance(classifier.module, RuntimeModule) or not list(classifier.module.parameters()):
            raise QSearchError(
                f"{classifier.name}: adapt needs a trainable network (a PyTorch module with "
                "weights); an ONNX file or a network without parameters cannot learn"
            )
        self.frozen, self.name = classifier, classifier.name
        self.module, self.digest = classifier.module, classifier.weights_digest

    def identity(self) -> dict[str, str]:
        """The classifier's model, weights and normalisation."""
        return self.frozen.identity()

    def inputs(self, images: ImageSet) -> np.ndarray:
        """The network-sized crops."""
        return images.network_inputs()

    def placed(self, images: ImageSet, decoded: np.ndarray) -> np.ndarray:
        """Resized and cropped after decoding where stored images were compressed."""
        return images.preprocessing(decoded) if images.compress_at == "source" else decoded

    def output(self, module: torch.nn.Module, batch: np.ndarray) -> torch.Tensor:
        """Log-probabilities."""
        x = self.frozen.to_input(batch).contiguous(memory_format=torch.channels_last)
        return torch.log_softmax(module(x).float(), dim=1)

    def divergence(self, teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        """KL(teacher || student), mean over images."""
        return (teacher.exp() * (teacher - student)).sum(1).mean()

    def figures(self, teacher, plain, compressed, labels) -> dict[str, float]:
        """Uncompressed answers agreeing with the frozen ones; top-1 hits where labelled."""
        found = {"uncompressed_agreement": float((plain.argmax(1) == teacher.argmax(1)).sum())}
        if labels is not None:
            found["top1"] = float((compressed.argmax(1) == labels).sum())
            found["uncompressed_top1"] = float((plain.argmax(1) == labels).sum())
        return found

    def label_loss(self, compressed: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
        """Cross-entropy over the images that have a label."""
        if not bool((labels >= 0).any()):  # -1: an image without a label
            return None
        return torch.nn.functional.nll_loss(compressed, labels, ignore_index=-1)

    def written(self, path: Path, student: torch.nn.Module) -> Classifier:
        """The base with the adapter applied, its sidecar beside the adapter."""
        adapted = apply_adapter(self.frozen, path)
        write_sidecar(path, adapted)
        return adapted


def trainable(module: torch.nn.Module, learn: str) -> list[torch.nn.Parameter]:
    """The parameters that learn: BatchNorm scales and shifts, the last linear layer, every
    bias, or all."""
    return _LEARNABLE_SETS[learn](module)


def _norms(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    return [p for m in norms for p in m.parameters(recurse=False)]


def _last_linear(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    return list(linear[-1].parameters()) if linear else []


def _biases(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for n, p in module.named_parameters() if n.endswith("bias")]


_LEARNABLE_SETS = {
    "batchnorm": _norms,
    "head": _last_linear,
    "biases": _biases,
    "all": lambda module: list(module.parameters()),
}


__all__ = ["LEARNABLE", "ClassifierLearner", "Learner", "trainable"]
