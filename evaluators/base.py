"""What every evaluator shares: the prepared images, the codec, and the size metrics."""
from __future__ import annotations

import numpy as np

from qsearch.codec import Codec, EncoderSettings
from qsearch.images import ImageSet
from qsearch.qtable import QTable

Metrics = dict  # plain {"bpp": ..., "top1": ...} dicts, CSV- and JSON-ready


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

    def size_metrics(self, sizes: np.ndarray) -> Metrics:
        """bytes, bpp over the compressed pixels, and ratio to raw RGB (and to the source files)."""
        total = int(sizes.sum())
        metrics = {"bytes": total, "bpp": 8.0 * total / self._pixels, "ratio": 3.0 * self._pixels / total,
                   "images": len(sizes)}
        if self.images.compress_at == "source":
            metrics["source_ratio"] = float(self.images.source_bytes.sum()) / total
        return metrics

    def evaluate(self, qtable: QTable) -> Metrics:
        raise NotImplementedError

    def close(self) -> None:
        self.codec.close()
