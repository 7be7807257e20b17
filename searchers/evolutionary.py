"""pymoo's genetic algorithm, differential evolution and NSGA-II behind ask/tell.

pymoo works generation by generation; ``ask(n)`` hands out a generation in slices and the
algorithm learns once every member of the generation has been told. The space rounds and
clips pymoo's proposals, and pymoo is told the integer points actually evaluated.
"""
from __future__ import annotations

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.core.evaluator import Evaluator
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.problems.static import StaticProblem

from qsearch.searchers.base import Searcher


def initial_population(space, rng, size: int, seed_ijg: bool) -> np.ndarray:
    """Half the space family's tables (IJG unless --base) spread over quality 10..95 (when
    seeded), the rest uniform random."""
    seeded = np.empty((0, space.dim), dtype=np.int64)
    if seed_ijg:
        qualities = np.unique(np.linspace(10, 95, max(1, size // 2)).round().astype(int))
        seeded = np.stack([space.from_qtable(space.family.at(q)) for q in qualities])
    return np.concatenate([seeded, space.sample(rng, size - len(seeded))])


class PymooSearcher(Searcher):
    """Base of the pymoo wrappers: generation bookkeeping and integer handling."""

    state_attributes = ("algorithm", "_generation", "_next", "_waiting", "_objectives")

    def __init__(self, space, seed=None, pop_size: int = 20, seed_ijg: bool = True):
        super().__init__(space, seed)
        self.batch_size = pop_size
        sampling = initial_population(space, self.rng, pop_size, seed_ijg).astype(float)
        n_obj = 2 if self.multi_objective else 1
        problem = Problem(n_var=space.dim, n_obj=n_obj, xl=space.low.astype(float), xu=space.high.astype(float))
        self.algorithm = self._algorithm(pop_size, sampling)
        self.algorithm.setup(problem, termination=NoTermination(), seed=seed, verbose=False)
        self._generation = None      # pymoo Population being evaluated
        self._next = 0               # first member not yet handed out
        self._waiting: dict[str, list[int]] = {}
        self._objectives = None

    def _algorithm(self, pop_size: int, sampling: np.ndarray):
        raise NotImplementedError

    @staticmethod
    def _operators() -> dict:
        return {"crossover": SBX(prob=0.9, eta=15), "mutation": PM(eta=20)}

    def _start_generation(self) -> None:
        generation = self.algorithm.ask()
        vectors = self.space.clip(generation.get("X"))
        generation.set("X", vectors.astype(float))
        self._generation, self._next = generation, 0
        self._objectives = np.full((len(generation), self.algorithm.problem.n_obj), np.nan)
        self._waiting = {}
        for index, x in enumerate(vectors):
            self._waiting.setdefault(self.space.to_qtable(x).key, []).append(index)

    def _propose(self, n):
        if self._generation is None:
            self._start_generation()
        members = self._generation.get("X")[self._next:self._next + n]
        self._next += len(members)
        return members

    def _learn(self, vectors, trials):
        for trial in trials:
            for index in self._waiting.pop(trial.qtable.key, []):
                self._objectives[index] = trial.values if self.multi_objective else trial.value
        if self._generation is not None and not np.isnan(self._objectives).any():
            Evaluator().eval(StaticProblem(self.algorithm.problem, F=self._objectives), self._generation)
            self.algorithm.tell(infills=self._generation)
            self._generation = None


class GASearcher(PymooSearcher):
    """Genetic algorithm (pymoo GA): SBX crossover, polynomial mutation, integer rounding."""

    name = "ga"

    def _algorithm(self, pop_size, sampling):
        return GA(pop_size=pop_size, sampling=sampling, eliminate_duplicates=True, **self._operators())


class DESearcher(PymooSearcher):
    """Differential evolution (pymoo DE/rand/1/bin with dither), integer rounding."""

    name = "de"

    def _algorithm(self, pop_size, sampling):
        return DE(pop_size=pop_size, sampling=sampling, variant="DE/rand/1/bin", CR=0.5, dither="vector")


class NSGA2Searcher(PymooSearcher):
    """NSGA-II Pareto search over (bpp, accuracy) (pymoo), integer rounding."""

    name = "nsga2"
    multi_objective = True

    def _algorithm(self, pop_size, sampling):
        return NSGA2(pop_size=pop_size, sampling=sampling, eliminate_duplicates=True, **self._operators())
