"""The evaluator contract: score one quantization table on a fixed image set,
``evaluate(qtable) -> {"bpp": ..., "top1": ..., ...}`` (plain dicts, CSV- and JSON-ready).

Implementations live in ``qsearch.evaluators`` and register through the
``qsearch.evaluators`` entry-point group; the core never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from qsearch.codec import Codec, EncoderSettings
from qsearch.encoding import ProcessEncoder
from qsearch.images import ImageSet
from qsearch.pruning import Rejection
from qsearch.qtable import QTable
from qsearch.registry import Registry

Metrics = dict[str, Any]
EVALUATORS = Registry("qsearch.evaluators")


@runtime_checkable
class StudyEvaluator(Protocol):
    """What a :class:`qsearch.study.Study` reads from an evaluator, and nothing more."""

    accuracy_metrics: tuple[str, ...]
    """Names of the accuracy figures ``evaluate`` reports (the front's metric is one of them)."""
    reference: Metrics | None
    """The same figures on the uncompressed images (for relative floors), or None."""

    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Metrics:
        """Metrics of one table (see :meth:`Evaluator.evaluate`)."""
        ...

    def identity(self) -> dict[str, str]:
        """Everything that decides the evaluator's numbers, for the run's identity."""
        ...


class Evaluator(ABC):
    """Scores one table on a fixed image set with a real codec; subclasses add the figures."""

    name: ClassVar[str] = ""
    accuracy_metrics: tuple[str, ...] = ()
    reference: Metrics | None = None
    reference_per_image: dict[str, list[float]] | None = None
    """The uncompressed figures image by image, where known (paired operating-point intervals)."""

    def __init__(
        self,
        images: ImageSet,
        settings: EncoderSettings = EncoderSettings(),
        threads: int | None = None,
        encoder_processes: int = 0,
    ):
        """``encoder_processes`` > 1 encodes in that many worker processes (for many-core GPU
        machines, where the GIL-bound encoder is the cost); 0 or 1 encodes on threads."""
        self.images = images
        self.codec = Codec(settings, threads)
        self._pixels = images.pixels
        self._processes = None
        self.encoder_processes = encoder_processes if encoder_processes > 1 else 0
        if encoder_processes > 1 and isinstance(images.images, np.ndarray):
            self._processes = ProcessEncoder(images.images, settings, encoder_processes)

    def encode_all(self, qtable: QTable) -> list[bytes]:
        """Every image's complete JPEG file with ``qtable``, in order."""
        if self._processes is not None:
            return self._processes.encode_all(qtable)
        return self.codec.encode_all(self.images.images, qtable)

    @property
    def settings(self) -> EncoderSettings:
        """The encoder settings every table is compared under."""
        return self.codec.settings

    def describe(self) -> str:
        """One line for reports: evaluator, image count, encoder settings."""
        return f"{self.name}, {len(self.images)} images, {self.settings.describe()}"

    def identity(self) -> dict[str, str]:
        """Everything that decides this evaluator's numbers, one readable value per setting, so
        that a run resumed on other images, labels or settings is refused (and says which)."""
        return {
            "evaluator": self.name,
            **self.images.identity(),
            "encoder": self.settings.describe(),
        }

    def size_metrics(self, sizes: np.ndarray) -> Metrics:
        """bytes, bpp over the compressed pixels, and ratio to raw RGB (and to the source files)."""
        total = int(sizes.sum())
        metrics = {
            "bytes": total,
            "bpp": 8.0 * total / self._pixels,
            "ratio": 3.0 * self._pixels / total,
            "images": len(sizes),
        }
        if self.images.compress_at == "source":
            metrics["source_ratio"] = float(self.images.source_bytes.sum()) / total
        return metrics

    @abstractmethod
    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Metrics:
        """Metrics of ``qtable``. Evaluators that can stop early honour ``rejection`` and then
        report ``pruned: True`` with the figures of the images they scored; with ``per_image``
        they add ``per_image`` figures (accuracy figures, bytes, pixels) image by image."""

    def close(self) -> None:
        """Release the codec's threads and any encoder processes."""
        self.codec.close()
        if self._processes is not None:
            self._processes.close()


__all__ = ["EVALUATORS", "Evaluator", "Metrics", "StudyEvaluator"]
