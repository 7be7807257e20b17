"""Searchers propose quantization tables (ask) and learn from scored trials (tell).

Every searcher is registered by name; third-party searchers register through the
``qsearch.searchers`` entry-point group.
"""
from qsearch.registry import Registry
from qsearch.searchers.base import Searcher
from qsearch.searchers.baselines import QualitySearcher, RandomSearcher, SortedSearcher
from qsearch.searchers.bayes import BayesSearcher
from qsearch.searchers.evolutionary import DESearcher, GASearcher, NSGA2Searcher
from qsearch.searchers.gradient import GradientSearcher, SensitivitySearcher
from qsearch.searchers.mcmc import MCMCSearcher
from qsearch.searchers.slopes import SlopeSearcher

SEARCHERS = Registry("qsearch.searchers")
for _searcher in (RandomSearcher, SortedSearcher, QualitySearcher, MCMCSearcher, GASearcher, DESearcher,
                  BayesSearcher, NSGA2Searcher, SlopeSearcher, GradientSearcher, SensitivitySearcher):
    SEARCHERS.register()(_searcher)


def make_searcher(name: str, space=None, seed: int | None = None, **options) -> Searcher:
    """A registered searcher on ``space`` (a SearchSpace, a space name, or its default)."""
    from qsearch.space import SPACES, SearchSpace

    searcher_class = SEARCHERS[name]
    if not isinstance(space, SearchSpace):
        space = SPACES[space or searcher_class.default_space]()
    return searcher_class(space, seed=seed, **options)


__all__ = ["SEARCHERS", "BayesSearcher", "DESearcher", "GASearcher", "GradientSearcher", "MCMCSearcher",
           "NSGA2Searcher", "QualitySearcher", "RandomSearcher", "Searcher", "SensitivitySearcher", "SlopeSearcher",
           "SortedSearcher", "make_searcher"]
