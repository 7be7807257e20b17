"""Several networks judging one table, for users whose network changes: a table searched for
one network may spend its bits where another needs them. Each network sees the images through
its own preprocessing (its own input size in the ``input`` scenario), the same table and encoder
settings; a table's accuracy is what it keeps on the worst of them (or on average).
"""

from __future__ import annotations

import time

import numpy as np

from qsearch.codecs.codec import EncoderSettings
from qsearch.errors import QSearchError
from qsearch.search.evaluator import Evaluation, Evaluator, Metrics
from qsearch.search.metrics import metric_sign
from qsearch.search.pruning import Rejection
from qsearch.tables.qtable import QTable

COMBINE = ("worst", "mean")


def _check_members(members: dict, combine: str) -> None:
    if combine not in COMBINE:
        raise QSearchError.about(f"{{combine}} {combine!r} is not one of {', '.join(COMBINE)}")
    if not members:
        raise QSearchError.about("{networks} names no network")
    names = [list(e.images.names) for e in members.values()]
    if any(n != names[0] for n in names):
        raise QSearchError.about("{networks}: the networks were given different images")


class NetworksEvaluator(Evaluator):
    """Accuracy figures combined over networks as the mean uncompressed value minus the worst
    (or mean) loss, so that fractions of the uncompressed value keep their meaning; each
    network's own figures are kept as ``METRIC@NETWORK``. Bits are counted on the first
    network's inputs (identical for all in the ``source`` scenario). Never stops early."""

    name = "networks"

    def __init__(self, members: dict, combine: str = "worst"):
        """``members``: network name -> its :class:`ClassifierEvaluator` on the same images."""
        _check_members(members, combine)
        self.members, self.combine = dict(members), combine
        self._first = next(iter(self.members.values()))
        self.images = self._first.images
        self.accuracy_metrics = tuple(
            m
            for m in self._first.accuracy_metrics
            if all(m in e.accuracy_metrics for e in self.members.values())
        )
        self.reference: Metrics = {
            m: float(np.mean([e.reference[m] for e in self.members.values()]))
            for m in self.accuracy_metrics
        }

    @property
    def settings(self) -> EncoderSettings:
        """The encoder settings of every network's evaluator (the same for all)."""
        return self._first.settings

    def describe(self) -> str:
        """One line for reports: how the networks are combined, and each network."""
        return f"{self.name} ({self.combine} of {', '.join(self.members)}): " + "; ".join(
            e.describe() for e in self.members.values()
        )

    def identity(self) -> dict[str, str]:
        """How the networks are combined and each network's own identity."""
        found = {
            "evaluator": self.name,
            "combine": self.combine,
            "encoder": self.settings.describe(),
        }
        for name, member in self.members.items():
            found.update({f"{key}@{name}": value for key, value in member.identity().items()})
        return found

    def _losses(self, metric: str, results: dict) -> dict[str, float]:
        """Each network's loss in ``metric`` against its own uncompressed value (higher: worse)."""
        sign = metric_sign(metric)
        return {
            name: sign * (self.members[name].reference[metric] - results[name][metric])
            for name in results
        }

    def evaluate(
        self, qtable: QTable, rejection: Rejection | None = None, per_image: bool = False
    ) -> Evaluation:
        """Every network's figures, and their combination under the plain metric names."""
        start = time.perf_counter()
        results = {
            name: member.evaluate(qtable, per_image=per_image)
            for name, member in self.members.items()
        }
        first = results[next(iter(results))]
        sizes = ("bytes", "bpp", "ratio", "images", "source_ratio")
        metrics: Metrics = {key: first[key] for key in sizes if key in first}
        combined_per_image = {}
        for metric in self.accuracy_metrics:
            sign = metric_sign(metric)
            losses = self._losses(metric, results)
            loss = (
                max(losses.values()) if self.combine == "worst" else np.mean(list(losses.values()))
            )
            metrics[metric] = self.reference[metric] - sign * float(loss)
            if per_image:
                combined_per_image[metric] = self._per_image(metric, results, losses)
        for name, result in results.items():
            for key in (*self.accuracy_metrics, "bpp"):
                metrics[f"{key}@{name}"] = result[key]
        metrics.update(seconds=time.perf_counter() - start)
        images = None
        if per_image:
            images = {
                **combined_per_image,
                "bytes": first.per_image["bytes"],
                "pixels": first.per_image["pixels"],
            }
        return Evaluation(metrics, images)

    def _per_image(self, metric: str, results: dict, losses: dict) -> list[float]:
        """Image by image, figures whose mean is the combined figure (for paired bootstraps):
        with ``mean``, the networks' mean; with ``worst``, the worst network's, shifted by the
        gap between the mean uncompressed value and its own."""
        per_network = {n: np.asarray(r.per_image[metric], float) for n, r in results.items()}
        if self.combine == "mean":
            return np.mean(list(per_network.values()), axis=0).tolist()
        worst = max(losses, key=losses.__getitem__)
        shift = self.reference[metric] - self.members[worst].reference[metric]
        return (per_network[worst] + shift).tolist()

    def close(self) -> None:
        """Close every network's evaluator."""
        for member in self.members.values():
            member.close()
