"""Metropolis-Hastings over tables with a simulated-annealing temperature schedule.
Written by hand: no library offers an MCMC chain over an integer table space."""

from __future__ import annotations

import numpy as np

from qsearch.search.searcher import Option, Searcher
from qsearch.search.trial import Trial


class MCMCSearcher(Searcher):
    """Metropolis-Hastings / simulated annealing: local integer moves, cooling temperature."""

    name = "mcmc"
    state_attributes = ("current", "current_value", "temperature_now", "accepted")
    start_quality = Option(
        int, 1, 100, help="the chain starts at the family's table here", default=50
    )
    temperature = Option(float, 0, help="in units of the scalarised objective (bpp)", default=0.05)
    cooling = Option(float, 0, 1, help="the temperature's factor after each move", default=0.97)
    coordinates = Option(int, 1, help="coordinates one move changes", default=2)
    step = Option(
        float, 0, help="the proposal's scale, a fraction of each coordinate's range", default=0.08
    )

    def _setup(self) -> None:
        self.current = self.space.from_qtable(self.space.family.at(self.start_quality))
        self.current_value: float | None = None
        self.temperature_now = self.temperature
        self._moved = min(self.coordinates, self.space.dim)
        self._scale = np.maximum(1.0, self.step * (self.space.high - self.space.low))
        self.accepted = 0

    def _propose(self, n: int) -> np.ndarray:
        if self.current_value is None:  # evaluate the start before moving
            return np.stack([self.current] + [self._move() for _ in range(n - 1)])
        return np.stack([self._move() for _ in range(n)])

    def _move(self) -> np.ndarray:
        proposal = self.current.astype(np.float64)
        chosen = self.rng.choice(self.space.dim, size=self._moved, replace=False)
        delta = self.rng.normal(0.0, self._scale[chosen])
        proposal[chosen] += np.where(
            np.abs(delta) < 1, np.sign(delta + 1e-12), delta
        )  # always move
        return self.space.clip(proposal)

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        """Each told proposal is a Metropolis step from the current state (parallel proposals
        are tried in order), then the temperature cools."""
        for x, trial in zip(vectors, trials):
            if self.current_value is None:
                self.current, self.current_value = x, trial.value
                continue
            gap = trial.value - self.current_value
            if gap <= 0 or self.rng.random() < np.exp(-gap / max(self.temperature_now, 1e-12)):
                self.current, self.current_value = x, trial.value
                self.accepted += 1
            self.temperature_now *= self.cooling
