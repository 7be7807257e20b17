"""Bayesian optimisation through optuna's samplers (TPE by default, a Gaussian process as
an option), over the space's integer coordinates."""

from __future__ import annotations

import numpy as np
import optuna

from qsearch.search.searcher import Option, Searcher
from qsearch.search.trial import Trial


class BayesSearcher(Searcher):
    """Bayesian optimisation (optuna TPE, or GP with ``sampler="gp"``), seeded with IJG tables."""

    name = "bayes"
    state_attributes = ("study", "_numbers")
    sampler = Option(
        str, choices=("tpe", "gp"), help="optuna's TPE or Gaussian process", default="tpe"
    )
    startup_trials = Option(int, 1, help="random trials before the model proposes", default=10)
    seed_qualities = Option(
        int, 1, 100, many=True, help="the family's tables tried first", default=(20, 50, 80)
    )

    def _setup(self) -> None:
        sampler: optuna.samplers.BaseSampler
        if self.sampler == "tpe":
            sampler = optuna.samplers.TPESampler(
                seed=self.seed,
                multivariate=True,
                constant_liar=True,
                n_startup_trials=self.startup_trials,
            )
        else:
            sampler = optuna.samplers.GPSampler(
                seed=self.seed, n_startup_trials=self.startup_trials
            )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self._distributions: dict[str, optuna.distributions.BaseDistribution] = {
            f"x{i}": optuna.distributions.IntDistribution(int(lo), int(hi))
            for i, (lo, hi) in enumerate(zip(self.space.low, self.space.high))
        }
        for quality in self.seed_qualities:
            x = self.space.from_qtable(self.space.family.at(quality))
            self.study.enqueue_trial({f"x{i}": int(v) for i, v in enumerate(x)})
        self._numbers: dict[str, list[int]] = {}

    def _propose(self, n: int) -> np.ndarray:
        vectors = []
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            x = np.array([trial.params[f"x{i}"] for i in range(self.space.dim)])
            self._numbers.setdefault(self.space.to_qtable(x).key, []).append(trial.number)
            vectors.append(x)
        return np.stack(vectors)

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        for x, trial in zip(vectors, trials):
            numbers = self._numbers.pop(trial.qtable.key, [])
            for number in numbers:
                self.study.tell(number, trial.value)
            if not numbers:  # a table someone else proposed: add it as evidence
                self.study.add_trial(
                    optuna.trial.create_trial(
                        params={f"x{i}": int(v) for i, v in enumerate(x)},
                        distributions=self._distributions,
                        value=trial.value,
                    )
                )
