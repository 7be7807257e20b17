"""Which forward path a classifier takes (``forward="auto"``): the fastest of this device's paths
whose answers on the uncompressed images stay within half a point of eager fp32 (top-1 with
labels, agreement with fp32 without), else fp32 itself."""

from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from qsearch.errors import QSearchError
from qsearch.models.classifier import Classifier
from qsearch.models.forward import auto_candidates

log = logging.getLogger(__name__)
PRECISION_TOLERANCE = 0.005
"""A faster forward path may move top-1 (or agreement) by half a point at most."""


def choose_forward(
    classifier: Classifier,
    forward: str,
    inputs: np.ndarray,
    batches: list[slice],
    labels: torch.Tensor | None,
) -> tuple[Classifier, torch.Tensor]:
    """The classifier on the chosen path and its log-probabilities on ``inputs`` (the
    uncompressed network inputs, run batch by batch)."""
    if forward != "auto" or classifier.fixed_forward:
        chosen = classifier if forward == classifier.forward else classifier.with_forward(forward)
        return chosen, _log_probs(chosen, inputs, batches)
    exact = classifier.with_forward("fp32")
    exact_log_probs = _log_probs(exact, inputs, batches)
    for path in tqdm(auto_candidates(classifier.device), desc="timing forward paths",
                     unit="path", disable=None):  # fmt: skip
        try:
            fast = classifier.with_forward(path)
        except QSearchError as error:
            log.info("forward path %s unavailable: %s", path, error)
            continue
        fast_log_probs = _log_probs(fast, inputs, batches)
        shift = _shift(fast_log_probs, exact_log_probs, labels)
        log.info("forward path %s moves accuracy by %.2f points on the uncompressed images",
                 path, 100 * shift)  # fmt: skip
        if shift <= PRECISION_TOLERANCE:
            return fast, fast_log_probs
    return exact, exact_log_probs


def _log_probs(classifier: Classifier, inputs: np.ndarray, batches: list[slice]) -> torch.Tensor:
    return torch.cat([classifier.log_probs(inputs[b]) for b in batches])


def _shift(fast: torch.Tensor, exact: torch.Tensor, labels: torch.Tensor | None) -> float:
    """How far the fast path moves top-1 (with labels) or agreement with fp32 (without)."""
    if labels is None:
        return 1.0 - float((fast.argmax(1) == exact.argmax(1)).float().mean())
    top1 = lambda found: float((found.argmax(1) == labels[: len(found)]).float().mean())  # noqa: E731
    return abs(top1(fast) - top1(exact))


__all__ = ["PRECISION_TOLERANCE", "choose_forward"]
