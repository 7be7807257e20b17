"""Evaluator for the human eye, and the fast real evaluator of searcher tests."""

from __future__ import annotations

import time

import numpy as np
from skimage.metrics import structural_similarity

from qsearch.search.evaluator import CodecEvaluator, Evaluation
from qsearch.search.metrics import MetricSpec
from qsearch.search.pruning import Rejection
from qsearch.tables.qtable import QTable


class FidelityEvaluator(CodecEvaluator):
    """Size with PSNR and SSIM against the originals; no network."""

    name = "fidelity"
    metric_specs = (
        MetricSpec("psnr", description="peak signal-to-noise ratio over all pixels, dB"),
        MetricSpec("ssim", bounds=(-1, 1), description="mean structural similarity"),
    )
    accuracy_metrics = ("psnr", "ssim")

    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Evaluation:
        """Sizes, PSNR over all images' pixels and mean SSIM; no early stop. Per image: SSIM,
        bytes and pixels (PSNR is one figure over all pixels, not a mean over images)."""
        start = time.perf_counter()
        decoded, sizes = self.codec.roundtrip(self.images.images, qtable)
        squared_error = sum(
            float(np.mean((d.astype(np.float64) - o) ** 2))
            for d, o in zip(decoded, self.images.images)
        )
        mse = max(squared_error / len(sizes), 1e-12)
        ssim = [
            float(structural_similarity(o, d, channel_axis=2, data_range=255))
            for d, o in zip(decoded, self.images.images)
        ]
        metrics = {
            "psnr": float(10 * np.log10(255.0**2 / mse)),
            "ssim": float(np.mean(ssim)),
            **self.size_metrics(sizes),
            "seconds": time.perf_counter() - start,
        }
        pixels = [int(image.shape[0] * image.shape[1]) for image in self.images.images]
        images = {"ssim": ssim, "bytes": sizes.tolist(), "pixels": pixels} if per_image else None
        return Evaluation(metrics, images)
