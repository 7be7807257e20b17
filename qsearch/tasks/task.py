"""A task, as one plugin: what its model declares about its output, how that output is read,
how its labels are read, which evaluator scores it, where its images are compressed and what
adaptation learns by default. ``--task`` choices and ``qsearch list`` come from :data:`TASKS`
(``classify``, ``detect`` and ``segment`` ship here); a package adds a task with one module and
an entry point in the ``qsearch.tasks`` group (the conformance suite is
:class:`qsearch.testing.TaskSuite`). Commands read what a task declares, never its name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

from qsearch.errors import QSearchError
from qsearch.registry import Registry

TASKS = Registry("qsearch.tasks")
"""Tasks by name (``classify``, ``detect``, ``segment`` and those plugins add)."""


class OutputHead(Protocol):
    """How a task reads its network's output (a declared step of the model)."""

    def describe(self) -> str:
        """One line naming the declared output."""


class Task(ABC):
    """One task: its declaration keys and output reader, its label reader and its evaluator.

    ``head_keys`` are the declaration keys the output needs (beyond the input's), ``optional_keys``
    those it may take; ``evaluator`` names its evaluator in ``qsearch.evaluators`` (which takes
    the images, the :class:`~qsearch.tasks.declaration.TaskModel`, the labels, the encoder
    settings and a batch size); ``labels`` says what ``--annotations`` is for it."""

    name: ClassVar[str] = ""
    evaluator: ClassVar[str] = ""
    labels: ClassVar[str] = ""
    head_keys: ClassVar[tuple[str, ...]] = ("output",)
    optional_keys: ClassVar[frozenset[str]] = frozenset()
    declared: ClassVar[bool] = True
    """Its networks are model files with a declaration of input and output (``--declare``,
    ``M.json``) read by :mod:`qsearch.tasks.declaration`; a classifier is a named network or
    a model file of :mod:`qsearch.models` instead."""
    compress_at: ClassVar[str] = "source"
    """Where its images are compressed unless ``--compress-at`` says: ``source`` (the stored
    image; the network letterboxes or resizes it) or ``input`` (the network-sized crop)."""
    labels_from_names: ClassVar[bool] = False
    """Its labels are read from file or folder names (``--labels``, ``--class-map``); else from
    ``--annotations``."""
    default_learn: ClassVar[str] = "biases"
    """What ``qsearch adapt`` learns unless ``--learn`` says."""

    @abstractmethod
    def head(self, given: dict) -> OutputHead:
        """The output reader the declaration ``given`` describes (ValueError on a bad value)."""

    @abstractmethod
    def read_labels(
        self, path: Path, names: list[str], sizes: list[tuple[int, int]], head: Any,
        class_map: dict[int, int] | None,
    ) -> Any:  # fmt: skip
        """The labels at ``path`` of the images ``names`` (stored sizes ``sizes``), as
        :class:`~qsearch.tasks.annotations.Annotations`."""

    def needed_keys(self, given: dict) -> tuple[str, ...]:
        """The output keys ``given`` must hold (some outputs need more)."""
        return self.head_keys

    def divergence(self, model: Any):
        """``(teacher, student) -> per-image divergence`` of raw outputs, for ``qsearch adapt``."""
        raise QSearchError(f"--task {self.name}: its networks cannot be adapted")

    def export_adapted(
        self, adapter: Path, out: Path, model: str | None, weights: Path | None, declared: dict
    ) -> tuple[Path, str]:
        """An adapter of this task's network applied to its base and written as a model file
        serving code loads, its declaration beside it: (the file, what it holds). A declared
        model's adapted tensors go back into its ONNX base."""
        from qsearch.tasks.export import export_task_model

        return export_task_model(adapter, out, model), "the base's input and output, adapted"


def task_names() -> tuple[str, ...]:
    """Every registered task, plugins included."""
    return tuple(name for name, _ in TASKS.items())


__all__ = ["TASKS", "OutputHead", "Task", "task_names"]
