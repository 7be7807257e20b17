"""The frozen-CNN evaluator: encode, decode and classify every image with one table."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from qsearch.codec import EncoderSettings
from qsearch.evaluators.base import Evaluator, Metrics
from qsearch.images import ImageSet
from qsearch.models import Classifier
from qsearch.qtable import QTable


class ClassifierEvaluator(Evaluator):
    """Accuracy of a frozen classifier (top-1/top-5, log-prob, agreement, KL) against size."""

    name = "classifier"

    def __init__(self, images: ImageSet, classifier: Classifier, settings: EncoderSettings = EncoderSettings(),
                 batch_size: int = 50, threads: int | None = None):
        super().__init__(images, settings, threads)
        self.classifier = classifier
        self.batch_size = batch_size
        self._transform = images.preprocessing if images.compress_at == "source" else None
        self._prefetch = ThreadPoolExecutor(1, thread_name_prefix="qsearch-prefetch")
        self._labels = None if images.labels is None else torch.from_numpy(images.labels)
        uncompressed = images.network_inputs()
        self._reference_log_probs = torch.cat([classifier.log_probs(uncompressed[batch]) for batch in self._batches()])
        self.reference = self._score(self._reference_log_probs)

    @property
    def accuracy_metrics(self) -> tuple[str, ...]:
        labelled = ("top1", "top5", "logprob") if self._labels is not None else ()
        return (*labelled, "agreement", "kl")

    def _batches(self) -> list[slice]:
        n = len(self.images)
        return [slice(start, min(start + self.batch_size, n)) for start in range(0, n, self.batch_size)]

    def _score(self, log_probs: torch.Tensor) -> Metrics:
        """Accuracy figures of a full set of log-probabilities, against labels and the reference."""
        reference = self._reference_log_probs
        metrics = {
            "agreement": float((log_probs.argmax(1) == reference.argmax(1)).float().mean()),
            "kl": float((reference.exp() * (reference - log_probs)).sum(1).mean()),
        }
        if self._labels is not None:
            top5 = log_probs.topk(5, dim=1).indices
            metrics["top1"] = float((top5[:, 0] == self._labels).float().mean())
            metrics["top5"] = float((top5 == self._labels[:, None]).any(1).float().mean())
            metrics["logprob"] = float(log_probs.gather(1, self._labels[:, None]).mean())
        return metrics

    def _roundtrip(self, qtable: QTable, batch: slice):
        return self.codec.roundtrip(self.images.images, qtable, np.arange(batch.start, batch.stop), self._transform)

    def evaluate(self, qtable: QTable) -> Metrics:
        """Encode → decode → batched forward, the codec of batch k+1 overlapping the forward of k."""
        start = time.perf_counter()
        batches = self._batches()
        pending = self._prefetch.submit(self._roundtrip, qtable, batches[0])
        log_probs, sizes = [], []
        for k in range(len(batches)):
            decoded, batch_sizes = pending.result()
            if k + 1 < len(batches):
                pending = self._prefetch.submit(self._roundtrip, qtable, batches[k + 1])
            log_probs.append(self.classifier.log_probs(decoded))
            sizes.append(batch_sizes)
        metrics = {**self._score(torch.cat(log_probs)), **self.size_metrics(np.concatenate(sizes))}
        metrics["seconds"] = time.perf_counter() - start
        return metrics

    def close(self) -> None:
        self._prefetch.shutdown()
        super().close()
