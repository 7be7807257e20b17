"""Evaluator for the human eye, and the fast real evaluator of searcher tests."""

from __future__ import annotations

import time

import numpy as np
from skimage.metrics import structural_similarity

from qsearch.evaluator import Evaluator, Metrics
from qsearch.qtable import QTable


class FidelityEvaluator(Evaluator):
    """Size with PSNR and SSIM against the originals; no network."""

    name = "fidelity"
    accuracy_metrics = ("psnr", "ssim")

    def evaluate(self, qtable: QTable, rejection=None, per_image: bool = False) -> Metrics:
        """Sizes, PSNR over all images' pixels and mean SSIM; no early stop, no per-image figures."""
        start = time.perf_counter()
        decoded, sizes = self.codec.roundtrip(self.images.images, qtable)
        squared_error = sum(
            float(np.mean((d.astype(np.float64) - o) ** 2))
            for d, o in zip(decoded, self.images.images)
        )
        mse = max(squared_error / len(sizes), 1e-12)
        ssim = np.mean(
            [
                structural_similarity(o, d, channel_axis=2, data_range=255)
                for d, o in zip(decoded, self.images.images)
            ]
        )
        return {
            "psnr": 10 * np.log10(255.0**2 / mse),
            "ssim": float(ssim),
            **self.size_metrics(sizes),
            "seconds": time.perf_counter() - start,
        }
