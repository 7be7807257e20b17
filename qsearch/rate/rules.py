"""Rules that pick each image's step on a ladder from the network's per-image figure, each with
one parameter that calibration sets. A rule reads figures only through a probe, ``probe(images,
steps)`` -> per-image figures of each image at its step, so that calibration (reading a grid
already measured) and compression (encoding and running the network) choose identically."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from qsearch.registry import Registry

Probe = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""(image indices, a step for each) -> their per-image figures (``fidelity``, ``bytes``,
``pixels``): image ``indices[k]`` encoded at ``steps[k]`` and read by the network."""

RULES = Registry("qsearch.rules")


class Rule(ABC):
    """Pick a step per image; ``value`` is the rule's one parameter."""

    name: ClassVar[str] = ""
    parameter: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @abstractmethod
    def choose(self, probe: Probe, count: int, steps: int, value: float) -> np.ndarray:
        """The step of each of ``count`` images on a ladder of ``steps``."""

    @abstractmethod
    def candidates(self, fidelity: np.ndarray, margin: float) -> np.ndarray:
        """Parameter values worth trying for an (images, steps) grid of the per-image figure,
        the rule's own ``margin`` respected."""


class Threshold(Rule):
    """The smallest step at which the image's figure is at least ``floor``, found by bisection
    (a few probes an image, the figure taken as rising with the step); the finest step where
    none reaches it. For a classifier the figure is the similarity of the output where the top
    class is kept (0 where it changes): the floor is a margin that a second decoder or resize
    does not undo."""

    name = "threshold"
    parameter = "floor"
    description = "smallest quality whose per-image figure reaches a floor"

    def choose(self, probe: Probe, count: int, steps: int, value: float) -> np.ndarray:
        """Bisection on every image at once: one probe an image per round."""
        low, high = np.zeros(count, np.int64), np.full(count, steps - 1, np.int64)
        while (open_ := np.flatnonzero(low < high)).size:
            middle = (low[open_] + high[open_]) // 2
            passed = probe(open_, middle)["fidelity"] >= value
            high[open_[passed]] = middle[passed]
            low[open_[~passed]] = middle[~passed] + 1
        return low

    def candidates(self, fidelity: np.ndarray, margin: float) -> np.ndarray:
        """The margin, every quantile of the figures above it (at most 400 values), and a floor
        no figure reaches (every image at the finest step: where the per-image figure does not
        predict the dataset's, the rule can still fall back on it)."""
        above = fidelity[fidelity > margin]
        found = np.unique(np.quantile(above, np.linspace(0, 1, 400))) if above.size else above
        beyond = float(max(fidelity.max(initial=0.0), margin)) + 1.0  # finite: JSON-plain
        return np.concatenate([[margin], found, [beyond]])


class Tradeoff(Rule):
    """Per image the step minimising bpp + ``weight`` x (1 - figure): bits traded against the
    network's reading, every step probed."""

    name = "tradeoff"
    parameter = "weight"
    description = "per image the quality minimising bpp + weight x (1 - per-image figure)"

    def choose(self, probe: Probe, count: int, steps: int, value: float) -> np.ndarray:
        """Every step of every image, then the cheapest."""
        images = np.arange(count)
        costs = np.empty((count, steps))
        for step in range(steps):
            found = probe(images, np.full(count, step))
            bpp = 8.0 * found["bytes"] / found["pixels"]
            costs[:, step] = bpp + value * (1.0 - found["fidelity"])
        return costs.argmin(1)

    def candidates(self, fidelity: np.ndarray, margin: float) -> np.ndarray:
        """Weights from 0.01 to 10,000 bpp per unit of the figure (no margin applies)."""
        return np.geomspace(1e-2, 1e4, 121)


RULES.register()(Threshold)
RULES.register()(Tradeoff)


def make_rule(name: str) -> Rule:
    """The rule registered as ``name`` (refused in one line when unknown)."""
    return RULES[name]()


__all__ = ["RULES", "Probe", "Rule", "Threshold", "Tradeoff", "make_rule"]
