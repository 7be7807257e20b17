"""Equal-slope descent: tables that no reallocation of bits between frequency bands improves
are tables where every band buys the network the same accuracy per bit. The standard tables
were balanced for the eye, not for the network; this searcher measures the imbalance and
removes it.

Each round sweeps the current tables over quality (the front), then, at a few anchor
qualities, makes each band of the bands space finer and coarser by ``probe`` levels and takes
the central difference: the band's slope (accuracy gained per unit of rate) over the whole
table's (every band moved together, i.e. the quality curve's own slope). A ratio above 1 says
the tables spend too few bits in that band for this network, below 1 too many; each band then
moves by half its log-ratio. The slope is read on the mean log-probability of the true class
where the evaluator reports it (smooth where top-1 on a few hundred images is not), else on the
objective's accuracy.
"""

from __future__ import annotations

import numpy as np

from qsearch.errors import QSearchError
from qsearch.search.searcher import GenerationalSearcher, Option
from qsearch.search.space import BandSpace
from qsearch.search.trial import Trial
from qsearch.tables.bands import RATIO_LIMITS, probe_directions, slope_ratios
from qsearch.tables.qtable import quality_scale


def band_moves(ratios: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Octaves to move each band (finer is negative): half the log2 of its slope ratio,
    averaged over anchors (rows) weighted by the band's share of the bits moved (a band that
    moves no bits says little); bands without a finite ratio stay."""
    ratios, weights = np.asarray(ratios, dtype=float), np.abs(np.asarray(shares, dtype=float))
    known = np.isfinite(ratios) & (weights > 0)
    used = np.where(known, weights, 0.0)
    total = used.sum(0)
    mean = (np.where(known, ratios, 0.0) * used).sum(0) / np.where(total > 0, total, 1.0)
    moves = -0.5 * np.log2(np.clip(mean, *RATIO_LIMITS))
    return np.where(total > 0, moves, 0.0)


class SlopeSearcher(GenerationalSearcher):
    """Round by round: sweep the current tables over quality, probe every band's slope at the
    anchor qualities, move the bands towards equal slopes. Deterministic: the seed changes nothing."""

    name = "slopes"
    multi_objective = True
    state_attributes = (*GenerationalSearcher.state_attributes, "center")

    anchors = Option(
        int, 1, 100, many=True, help="qualities where the slopes are probed", default=(50, 85)
    )
    probe = Option(int, 1, help="levels a band moves finer and coarser to probe it", default=2)
    sweep = Option(int, 2, help="tables of each round's quality sweep", default=10)
    signal = Option(
        str, help="the figure slopes are read on (else the objective's)", default="logprob"
    )

    def _setup(self) -> None:
        if not isinstance(self.space, BandSpace):
            raise QSearchError(
                f"the slopes searcher moves frequency bands: it needs the bands space, not {self.space!r}"
            )
        self._steps_per_octave = self.space.steps_per_octave
        super()._setup()
        self._anchor_levels = [self._level(q) for q in self.anchors]
        self._sweep_levels = np.unique(
            np.linspace(self._level(95), self._level(5), self.sweep).round().astype(np.int64)
        )
        self.center = np.zeros(self.space.dim, dtype=np.int64)

    @property
    def batch_size(self) -> int:
        """One round: the sweep, then two probes per band and per anchor (and the whole table's)."""
        return len(self._sweep_levels) + len(self._anchor_levels) * 2 * (self.space.dim + 1)

    def _level(self, quality: int) -> int:
        """The common level shift that libjpeg's scaling for ``quality`` applies to the base tables."""
        return int(round(np.log2(quality_scale(quality) / 100) * self._steps_per_octave))

    def _new_generation(self) -> np.ndarray:
        ones = np.ones(self.space.dim, dtype=np.int64)
        probes = [
            self.center + anchor * ones + sign * self.probe * direction
            for anchor in self._anchor_levels
            for direction in probe_directions(self.space.dim)
            for sign in (-1, 1)
        ]
        return np.stack([self.center + level * ones for level in self._sweep_levels] + probes)

    def _measure(self, trial: Trial) -> tuple[float, ...]:
        return trial.values[0], trial.metrics.get(self.signal, -trial.values[1])

    def _learn_generation(self, generation: np.ndarray, measured: np.ndarray) -> None:
        """Slope ratios from the probes (finer minus coarser, per anchor), then the move."""
        probes = measured[len(self._sweep_levels) :].reshape(
            len(self._anchor_levels), self.space.dim + 1, 2, 2
        )
        ratios, shares = slope_ratios(probes[:, :, 0], probes[:, :, 1])  # finer, coarser
        octaves = band_moves(ratios, shares)
        self.center = self.space.clip(
            self.center + np.rint(octaves * self._steps_per_octave).astype(np.int64)
        )
