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
    """When an evaluation may stop early: its accuracy cannot enter the current front
    (``front``: (rate, accuracy) points, accuracy signed higher-is-better), nor reach
    ``floor`` when one is given. Judged by an upper confidence bound on the full-set mean."""

    metric: str
    front: tuple[tuple[float, float], ...]
    floor: float | None = None
    rate: str = "bpp"
    z: float = 2.5
    min_images: int = 50
    min_sd: float = 0.05

    def needed(self, rate: float) -> float | None:
        """The accuracy a table of this rate must beat to matter, or None when anything would."""
        beaten = [accuracy for point_rate, accuracy in self.front if point_rate <= rate]
        if not beaten:
            return None
        return max(beaten) if self.floor is None else min(max(beaten), self.floor)

    def hopeless(self, values: np.ndarray, total: int, needed: float) -> bool:
        """Whether the full-set mean of ``values`` (the first images' per-image accuracy)
        is, with confidence, at most ``needed``."""
        seen = len(values)
        if seen < min(self.min_images, total) or seen >= total:
            return False
        spread = max(float(np.std(values, ddof=1)), self.min_sd)
        upper_rest = float(np.mean(values)) + self.z * spread / math.sqrt(seen)
        return (float(np.sum(values)) + (total - seen) * upper_rest) / total <= needed


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

    def evaluate(self, qtable: QTable, rejection: Rejection | None = None) -> Metrics:
        """Metrics of ``qtable``; evaluators that can stop early honour ``rejection`` and then
        report ``pruned: True`` with the figures of the images they scored."""
        raise NotImplementedError

    def close(self) -> None:
        self.codec.close()
