"""Bayesian optimisation through optuna's samplers (TPE by default, a Gaussian process as
an option), over the space's integer coordinates."""
from __future__ import annotations

import numpy as np
import optuna

from qsearch.searchers.base import Searcher

optuna.logging.set_verbosity(optuna.logging.WARNING)


class BayesSearcher(Searcher):
    """Bayesian optimisation (optuna TPE, or GP with ``sampler="gp"``), seeded with IJG tables."""

    name = "bayes"
    state_attributes = ("study", "_numbers")

    def __init__(self, space, seed=None, sampler: str = "tpe", startup_trials: int = 10,
                 seed_qualities=(20, 50, 80)):
        super().__init__(space, seed)
        if sampler == "tpe":
            chosen = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                                n_startup_trials=startup_trials)
        elif sampler == "gp":
            chosen = optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)
        else:
            from qsearch.errors import QSearchError
            raise QSearchError(f"bayes sampler {sampler!r} is not tpe or gp")
        self.study = optuna.create_study(direction="minimize", sampler=chosen)
        self._distributions = {f"x{i}": optuna.distributions.IntDistribution(int(lo), int(hi))
                               for i, (lo, hi) in enumerate(zip(space.low, space.high))}
        for quality in seed_qualities:
            x = space.from_qtable(space.family.at(quality))
            self.study.enqueue_trial({f"x{i}": int(v) for i, v in enumerate(x)})
        self._numbers: dict[str, list[int]] = {}

    def _propose(self, n):
        vectors = []
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            x = np.array([trial.params[f"x{i}"] for i in range(self.space.dim)])
            self._numbers.setdefault(self.space.to_qtable(x).key, []).append(trial.number)
            vectors.append(x)
        return np.stack(vectors)

    def _learn(self, vectors, trials):
        for x, trial in zip(vectors, trials):
            numbers = self._numbers.pop(trial.qtable.key, [])
            for number in numbers:
                self.study.tell(number, trial.value)
            if not numbers:  # a table someone else proposed: add it as evidence
                self.study.add_trial(optuna.trial.create_trial(
                    params={f"x{i}": int(v) for i, v in enumerate(x)},
                    distributions=self._distributions, value=trial.value))
