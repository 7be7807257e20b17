"""The evaluator contract: score one quantization table on a fixed image set,
``evaluate(qtable) -> {"bpp": ..., "top1": ..., ...}`` (plain dicts, CSV- and JSON-ready).

Implementations live in ``qsearch.evaluators`` and register through the
``qsearch.evaluators`` entry-point group; the core never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from qsearch.codecs.codec import Codec, EncoderSettings
from qsearch.codecs.pool import ProcessEncoder
from qsearch.errors import QSearchError
from qsearch.images import ImageSet
from qsearch.registry import Registry
from qsearch.search.metrics import MetricSpec, declare
from qsearch.search.pruning import Rejection
from qsearch.tables.qtable import QTable

Metrics = dict[str, Any]
Prepared = TypeVar("Prepared")
EVALUATORS = Registry("qsearch.evaluators")


@dataclass(frozen=True)
class Evaluation(Mapping):
    """What one evaluation measured: its figures (a read-only mapping: ``evaluation["bpp"]``),
    and apart from them the per-image figures when asked for and whether it stopped early."""

    metrics: Metrics
    per_image: dict[str, list] | None = field(default=None, repr=False)
    """Image by image: every accuracy figure, ``bytes`` and ``pixels`` (paired bootstraps)."""
    pruned: bool = False
    """Stopped early by a rejection rule: the accuracy figures cover the images scored."""

    def __getitem__(self, key: str) -> Any:
        return self.metrics[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)


@dataclass(frozen=True)
class Annotation:
    """What a network says of one image, for a report to draw: a caption (a classifier's top
    class), boxes in the image's pixels ``(x1, y1, x2, y2, caption)`` (a detector's), or a
    boolean mask of the image's size (a segmenter's)."""

    caption: str = ""
    boxes: tuple[tuple[float, float, float, float, str], ...] = ()
    mask: np.ndarray | None = field(default=None, repr=False)


class EvaluatorView(Protocol):
    """What a searcher may read of the evaluator it is bound to (``Searcher.evaluator``): the
    images scored, the accuracy figures reported, their uncompressed values, and the frozen
    network (None where there is none; searchers declaring ``needs_network`` get one)."""

    @property
    def images(self) -> ImageSet:
        """The image set every table is scored on."""

    @property
    def accuracy_metrics(self) -> tuple[str, ...]:
        """The accuracy figures ``evaluate`` reports."""

    @property
    def reference(self) -> Metrics | None:
        """The same figures on the uncompressed images, or None."""

    @property
    def network(self) -> Any:
        """The frozen classifier (:class:`qsearch.models.Classifier`), or None."""


class Evaluator(ABC):
    """The one evaluator contract: score one table on a fixed image set.

    Attributes a study and searchers read: ``images`` (the :class:`ImageSet` scored),
    ``metric_specs`` (what each figure it can report is), ``accuracy_metrics`` (the accuracy
    figures ``evaluate`` reports, each with a spec), ``reference`` (the same
    figures on the uncompressed images, or None) and ``reference_per_image``, ``settings`` (the
    encoder settings) and ``network`` (the frozen classifier, for searchers that declare
    ``needs_network``; None where there is none). A searcher sees it as an
    :class:`EvaluatorView`."""

    name: ClassVar[str] = ""
    metric_specs: ClassVar[tuple[MetricSpec, ...]] = ()
    """What each accuracy figure the evaluator can report is (direction, bounds, scale,
    pooling): declared once here, read by the study, the reports and the searchers."""
    accuracy_metrics: tuple[str, ...] = ()
    reference: Metrics | None = None
    reference_per_image: dict[str, list[float]] | None = None
    """The uncompressed figures image by image, where known (paired operating-point intervals)."""
    images: ImageSet

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declare(cls.__dict__.get("metric_specs", ()))

    @property
    def network(self) -> Any:
        """The frozen classifier searchers with ``needs_network`` learn from; None here."""
        return None

    @property
    @abstractmethod
    def settings(self) -> EncoderSettings:
        """The encoder settings every table is compared under."""

    @abstractmethod
    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Evaluation:
        """The figures of ``qtable``. Evaluators that can stop early honour ``rejection`` (and
        say ``pruned``, with the figures of the images they scored); with ``per_image`` they
        add the per-image figures."""

    @abstractmethod
    def identity(self) -> dict[str, str]:
        """Everything that decides this evaluator's numbers, one readable value per setting, so
        that a run resumed on other images, labels or settings is refused (and says which)."""

    def describe(self) -> str:
        """One line for reports: evaluator, image count, encoder settings."""
        return f"{self.name}, {len(self.images)} images, {self.settings.describe()}"

    def annotate(self, pictures: list[np.ndarray], indices: list[int]) -> list[Annotation]:
        """What the network says of ``pictures`` (decoded versions of images ``indices`` of
        :attr:`images`, same sizes), for a report's crops; nothing to draw here."""
        return [Annotation() for _ in pictures]

    fidelity_metric: ClassVar[str] = ""
    """The per-image figure that per-image rate control keeps (1 where the network reads the
    compressed image as it reads the uncompressed one, lower as its reading moves away), as
    :meth:`evaluate_each` reports it; empty where images are not judged one by one."""

    def evaluate_each(
        self, tables: Sequence, indices: Sequence[int] | np.ndarray
    ) -> dict[str, Any]:
        """Image ``indices[k]`` encoded with ``tables[k]``, decoded and read by the network:
        per image its ``bytes``, ``pixels``, :attr:`fidelity_metric` and every accuracy figure
        (records for pooled ones). What per-image rate control probes."""
        raise QSearchError(
            f"the {self.name} evaluator does not judge images one by one: it cannot choose "
            "each image's quality"
        )

    def another_receiver(self) -> tuple[str, Evaluator] | None:
        """(what differs, the same network reading the same images another way: another resize
        filter), to check that choices made at the edge survive a receiver's pipeline; None
        where there is no other way."""
        return None

    def on_images(self, images: ImageSet) -> Evaluator:
        """The same network and settings judging other images (per-image rate control applies
        a rule calibrated on some images to others, chunk by chunk)."""
        return self.evaluate_each([], [])  # type: ignore[return-value]  # refuses, naming it

    def close(self) -> None:
        """Release what the evaluator holds (threads, processes)."""


class CodecEvaluator(Evaluator):
    """An evaluator that encodes the images itself with the real codec: subclasses add the
    accuracy figures."""

    takes_sent_sizes: ClassVar[bool] = False
    """Whether images may be sent smaller than stored (``EncoderSettings.size``): the network
    reads the decoded image however large it is; a pixel-by-pixel comparison cannot."""

    def __init__(
        self,
        images: ImageSet,
        settings: EncoderSettings = EncoderSettings(),
        threads: int | None = None,
        encoder_processes: int = 0,
    ):
        """``encoder_processes`` > 1 encodes in that many worker processes (for many-core GPU
        machines, where the GIL-bound encoder is the cost); 0 or 1 encodes on threads."""
        if settings.size != "stored" and not self.takes_sent_sizes:
            CodecEvaluator.sent(self, settings)  # refuses, naming the evaluator
        self.images = images
        self.codec = Codec(settings, threads)
        self._pixels = images.pixels
        self._processes = None
        self.encoder_processes = encoder_processes if encoder_processes > 1 else 0
        if encoder_processes > 1 and isinstance(images.images, np.ndarray):
            self._processes = ProcessEncoder(images.images, settings, encoder_processes)
        self._prefetch = ThreadPoolExecutor(1, thread_name_prefix="qsearch-prefetch")

    def prefetched(self, prepare: Callable[[int], Prepared], count: int) -> Iterator[Prepared]:
        """``prepare(0)``, ``prepare(1)``, ... ``prepare(count - 1)`` in order, each prepared on
        the prefetch thread while the caller uses the one before: every evaluator's batches are
        decoded (or coded and placed) while the network runs on the batch before."""
        if count == 0:
            return
        pending = self._prefetch.submit(prepare, 0)
        for k in range(count):
            prepared = pending.result()
            if k + 1 < count:
                pending = self._prefetch.submit(prepare, k + 1)
            yield prepared

    def sent(self, settings: EncoderSettings) -> EncoderSettings:
        """``settings`` as this evaluator sends images (``network`` resolved to the side its
        network reads, by evaluators that take sent sizes)."""
        if settings.size != "stored" and not self.takes_sent_sizes:
            raise QSearchError(
                f"--size {settings.size}: the {self.name} evaluator compares the stored pixels; "
                "it judges images sent at their stored size only"
            )
        return settings

    def use_encoder(self, settings: EncoderSettings) -> None:
        """Encode with other settings from now on (a baseline's codec ladder on one network and
        one image set, at one or more sent sizes; a run never changes its encoder)."""
        settings = self.sent(settings)
        if settings == self.codec.settings:
            return
        self._close_encoder()
        self.codec = Codec(settings, self.codec.threads)
        if self.encoder_processes and isinstance(self.images.images, np.ndarray):
            self._processes = ProcessEncoder(self.images.images, settings, self.encoder_processes)

    def encode_all(self, setting) -> list[bytes]:
        """Every image's complete file with ``setting`` (a table, or a quality codec's quality)."""
        if self._processes is not None:
            return self._processes.encode_all(setting)
        return self.codec.encode_all(self.images.images, setting)

    @property
    def settings(self) -> EncoderSettings:
        """The encoder settings every table is compared under."""
        return self.codec.settings

    def identity(self) -> dict[str, str]:
        """The images, their labels, their preparation and the encoder settings."""
        return {
            "evaluator": self.name,
            **self.images.identity(),
            "encoder": self.settings.describe(),
        }

    def size_metrics(self, sizes: np.ndarray) -> Metrics:
        """bytes, bpp over the compressed pixels, and ratio to raw RGB (and to the source files),
        and the encoder's milliseconds per image (threads; not measured in worker processes)."""
        total = int(sizes.sum())
        metrics = {
            "bytes": total,
            "bpp": 8.0 * total / self._pixels,
            "ratio": 3.0 * self._pixels / total,
            "images": len(sizes),
        }
        if self._processes is None:
            metrics["encode_ms_per_image"] = 1000 * self.codec.encode_seconds / len(sizes)
        if self.images.compress_at == "source":
            metrics["source_ratio"] = float(self.images.source_bytes.sum()) / total
        return metrics

    def close(self) -> None:
        """Stop the prefetch thread and release the codec's threads and any encoder processes."""
        self._prefetch.shutdown()
        self._close_encoder()

    def _close_encoder(self) -> None:
        self.codec.close()
        if self._processes is not None:
            self._processes.close()
            self._processes = None


__all__ = [
    "EVALUATORS",
    "Annotation",
    "CodecEvaluator",
    "Evaluation",
    "Evaluator",
    "EvaluatorView",
    "Metrics",
]
