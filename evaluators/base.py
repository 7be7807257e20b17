"""What every evaluator shares: the prepared images, the codec, the size metrics, and the
early-rejection rule a study may hand to an evaluation."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qsearch.codec import Codec, EncoderSettings
from qsearch.images import ImageSet
from qsearch.qtable import QTable

Metrics = dict  # plain {"bpp": ..., "top1": ...} dicts, CSV- and JSON-ready


@dataclass(frozen=True)
class Rejection:
    """When an evaluation may stop early: the table cannot enter the current front, and
    cannot reach ``floor`` either when one is given (single-objective searches).

    ``front`` holds (rate, accuracy, per-image accuracies) of the front's tables, accuracy
    signed higher-is-better. A table is judged against each front table of no greater rate
    on the same images (paired: most images agree, so the difference is far less noisy than
    either accuracy), by an upper confidence bound on its full-set accuracy, ``z`` standard
    errors above the estimate (benchmarks/early_rejection.py measures what each width saves
    and what it does to the front).
    """

    metric: str
    front: tuple[tuple[float, float, tuple[float, ...]], ...]
    floor: float | None = None
    rate: str = "bpp"
    z: float = 1.0
    min_images: int = 50
    min_sd: float = 0.05

    def _upper(self, values: np.ndarray, total: int, rival: np.ndarray | None) -> float:
        """Upper confidence bound on the full-set mean of a table whose first values are known,
        paired with ``rival``'s per-image values when given."""
        seen = len(values)
        differences = values - rival[:seen] if rival is not None else values
        spread = max(float(np.std(differences, ddof=1)), self.min_sd)
        rest = float(np.mean(differences)) + self.z * spread / math.sqrt(seen)
        if rival is not None:
            rest += float(np.mean(rival[seen:]))
        return (float(np.sum(values)) + (total - seen) * rest) / total

    def hopeless(self, rate: float, values: np.ndarray, total: int) -> bool:
        """Whether a table of this rate, whose first images scored ``values`` (signed), cannot matter."""
        seen = len(values)
        if seen < min(self.min_images, total) or seen >= total:
            return False
        rivals = [(accuracy, np.asarray(per_image)) for point_rate, accuracy, per_image in self.front
                  if point_rate <= rate]
        if not rivals:
            return False
        if self.floor is not None and self._upper(values, total, None) > self.floor:
            return False
        return any(self._upper(values, total, per_image) <= accuracy for accuracy, per_image in rivals)


class Evaluator:
    """Scores one table on a fixed image set: ``evaluate(qtable) -> Metrics``."""

    name: str = ""
    accuracy_metrics: tuple[str, ...] = ()

    def __init__(self, images: ImageSet, settings: EncoderSettings = EncoderSettings(), threads: int | None = None):
        self.images = images
        self.codec = Codec(settings, threads)
        self._pixels = images.pixels

    @property
    def settings(self) -> EncoderSettings:
        return self.codec.settings

    def describe(self) -> str:
        return f"{self.name}, {len(self.images)} images, {self.settings.describe()}"

    def size_metrics(self, sizes: np.ndarray) -> Metrics:
        """bytes, bpp over the compressed pixels, and ratio to raw RGB (and to the source files)."""
        total = int(sizes.sum())
        metrics = {"bytes": total, "bpp": 8.0 * total / self._pixels, "ratio": 3.0 * self._pixels / total,
                   "images": len(sizes)}
        if self.images.compress_at == "source":
            metrics["source_ratio"] = float(self.images.source_bytes.sum()) / total
        return metrics

    def evaluate(self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False) -> Metrics:
        """Metrics of ``qtable``; evaluators that can stop early honour ``rejection`` and then
        report ``pruned: True`` with the figures of the images they scored; those that can
        add ``per_image`` figures when asked."""
        raise NotImplementedError

    def close(self) -> None:
        self.codec.close()
