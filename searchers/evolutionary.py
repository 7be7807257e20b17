"""pymoo's genetic algorithm, differential evolution and NSGA-II behind ask/tell.

pymoo works generation by generation (qsearch.search.searcher.GenerationalSearcher hands a
generation out in slices). The space rounds and clips pymoo's proposals, and pymoo is told
the integer points actually evaluated. Algorithms are configured in ``__init__`` and built
in ``_setup``, as pymoo binds an algorithm to its problem in ``setup``.
"""

from __future__ import annotations

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.core.algorithm import Algorithm
from pymoo.core.evaluator import Evaluator
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.problems.static import StaticProblem

from qsearch.search.searcher import GenerationalSearcher, Option
from qsearch.search.space import SearchSpace


def initial_population(
    space: SearchSpace, rng: np.random.Generator, size: int, seed_family: bool
) -> np.ndarray:
    """Half the space family's tables (IJG unless --base) spread over quality 10..95 (when
    seeded), the rest uniform random."""
    seeded = np.empty((0, space.dim), dtype=np.int64)
    if seed_family:
        qualities = np.unique(np.linspace(10, 95, max(1, size // 2)).round().astype(int))
        seeded = np.stack([space.from_qtable(space.family.at(q)) for q in qualities])
    return np.concatenate([seeded, space.sample(rng, size - len(seeded))])


class PymooSearcher(GenerationalSearcher):
    """Base of the pymoo wrappers: the algorithm is built in ``_setup`` and told each generation."""

    state_attributes = (*GenerationalSearcher.state_attributes, "algorithm", "_population")
    pop_size = Option(int, 4, help="tables per generation", default=20)
    seed_ijg = Option(bool, help="half the first generation is the family's tables", default=True)

    @property
    def batch_size(self) -> int:
        """A generation."""
        return self.pop_size

    def _setup(self) -> None:
        super()._setup()
        sampling = initial_population(self.space, self.rng, self.pop_size, self.seed_ijg).astype(
            float
        )
        problem = Problem(
            n_var=self.space.dim,
            n_obj=2 if self.multi_objective else 1,
            xl=self.space.low.astype(float),
            xu=self.space.high.astype(float),
        )
        self.algorithm = self._algorithm(sampling)
        self.algorithm.setup(problem, termination=NoTermination(), seed=self.seed, verbose=False)
        self._population: Population | None = None

    def _algorithm(self, sampling: np.ndarray) -> Algorithm:
        raise NotImplementedError

    @staticmethod
    def _operators() -> dict:
        return {"crossover": SBX(prob=0.9, eta=15), "mutation": PM(eta=20)}

    def _new_generation(self) -> np.ndarray:
        self._population = self.algorithm.ask()
        vectors = self.space.clip(self._population.get("X"))
        self._population.set("X", vectors.astype(float))
        return vectors

    def _learn_generation(self, generation: np.ndarray, measured: np.ndarray) -> None:
        Evaluator().eval(StaticProblem(self.algorithm.problem, F=measured), self._population)
        self.algorithm.tell(infills=self._population)


class GASearcher(PymooSearcher):
    """Genetic algorithm (pymoo GA): SBX crossover, polynomial mutation, integer rounding."""

    name = "ga"

    def _algorithm(self, sampling: np.ndarray) -> Algorithm:
        return GA(
            pop_size=self.pop_size,
            sampling=sampling,
            eliminate_duplicates=True,
            **self._operators(),
        )


class DESearcher(PymooSearcher):
    """Differential evolution (pymoo DE/rand/1/bin with dither), integer rounding."""

    name = "de"

    def _algorithm(self, sampling: np.ndarray) -> Algorithm:
        return DE(
            pop_size=self.pop_size,
            sampling=sampling,
            variant="DE/rand/1/bin",
            CR=0.5,
            dither="vector",
        )


class NSGA2Searcher(PymooSearcher):
    """NSGA-II Pareto search over (bpp, accuracy) (pymoo), integer rounding."""

    name = "nsga2"
    multi_objective = True

    def _algorithm(self, sampling: np.ndarray) -> Algorithm:
        return NSGA2(
            pop_size=self.pop_size,
            sampling=sampling,
            eliminate_duplicates=True,
            **self._operators(),
        )
