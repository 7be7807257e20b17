"""The searcher contract: ask/tell over the integer vectors of a search space.

A searcher declares each option once, as a class attribute (an :class:`Option`: its kind,
range, default and help); ``__init__`` takes them by name, checks them and keeps each under
its own name, which ``get_params`` reports for the run's identity. It is and bound by the study with
``setup(space, evaluator, seed)``; subclasses implement the internal hooks ``_setup``,
``_propose`` and ``_learn``. A resumed study rebuilds a searcher's state by replaying the
recorded asks and tells through these hooks with the same seed (:mod:`qsearch.search.study`), so no
state is ever stored beside the record. Implementations live in ``qsearch.searchers`` and
register through the ``qsearch.searchers`` entry-point group.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from qsearch.errors import QSearchError
from qsearch.registry import Registry
from qsearch.search.options import Option
from qsearch.search.space import SearchSpace
from qsearch.search.trial import Trial
from qsearch.tables.qtable import QTable

if TYPE_CHECKING:
    from qsearch.search.evaluator import EvaluatorView

SEARCHERS = Registry("qsearch.searchers")


class Searcher(ABC):
    """Base class of every searcher.

    Capability flags: ``multi_objective`` (tells are judged on (rate, accuracy) and the
    searcher returns a front), ``needs_network`` (``setup`` takes the classifier and the
    images from the evaluator), ``default_space``. ``state_attributes`` names what, besides
    the random generator, :meth:`state_dict` copies.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}
    """Every option, by name: the class's :class:`Option` attributes, its bases' included."""
    multi_objective: ClassVar[bool] = False
    needs_network: ClassVar[bool] = False
    default_space: ClassVar[str] = "bands"
    state_attributes: ClassVar[tuple[str, ...]] = ()

    space: SearchSpace
    """The space the study searches (bound by :meth:`setup`)."""
    evaluator: EvaluatorView | None
    """What the searcher may read of the evaluator (bound by :meth:`setup`)."""
    seed: int | None
    rng: np.random.Generator
    """The searcher's only source of randomness, seeded by :meth:`setup`."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.options = {
            name: value
            for klass in reversed(cls.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, Option)
        }

    def __init__(self, **options: Any):
        """Each option by name (the rest at their defaults), checked: one line names the
        searcher and an option unknown or given wrong."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise QSearchError(
                f"searcher {self.name} has no option {unknown[0]!r} "
                f"(options: {', '.join(self.options) or 'none'})"
            )
        self.configure(**{name: options.get(name, o.default) for name, o in self.options.items()})

    @property
    def batch_size(self) -> int:
        """How many tables one ask naturally proposes (a generation; 1 for sequential searchers)."""
        return 1

    # -- binding -----------------------------------------------------------------------
    def setup(
        self, space: SearchSpace, evaluator: EvaluatorView | None = None, seed: int | None = None
    ) -> Searcher:
        """Bind to the space the study searches and the evaluator that scores the tables.

        Called once by the study, before the first ask (and again on a fresh searcher when a
        run resumes: the recorded asks and tells are then replayed through the hooks).

        Args:
            space: the search space; the searcher proposes points of it.
            evaluator: what the searcher may read of the evaluator (one with a ``network`` where
                ``needs_network``), or None for searchers that read nothing of it.
            seed: the seed of :attr:`rng`.

        Returns:
            The searcher itself, bound.
        """
        if self.needs_network and (evaluator is None or evaluator.network is None):
            raise QSearchError(
                f"searcher {self.name} learns from the network: use an evaluator with one "
                "(the classifier evaluator)"
            )
        self.space = space
        self.evaluator = evaluator
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._proposed: dict[str, np.ndarray] = {}
        self._setup()
        return self

    def _setup(self) -> None:
        """Hook, called by :meth:`setup` once the space, the evaluator and :attr:`rng` are
        bound: build what depends on them (a pymoo algorithm, an optuna sampler). Options
        were checked in ``__init__``."""

    def configure(self, **values: Any) -> None:
        """Check each option against its declaration and keep it under its own name; one line
        names an option given wrong."""
        for name, value in values.items():
            setattr(
                self, name, self.options[name].check(f"searcher {self.name}: option {name}", value)
            )
        self._check_options()

    def _check_options(self) -> None:
        """Hook for rules between options that their declarations cannot say (e.g. low <= high)."""

    def get_params(self) -> dict[str, Any]:
        """The options this searcher was configured with (scikit-learn's convention: each
        ``__init__`` argument is kept under its own name), for the run's identity; a searcher
        whose ``__init__`` takes an undeclared option is refused, since a resume with that
        option changed could not be told apart."""
        arguments = inspect.signature(type(self)).parameters
        named = {n for n, p in arguments.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        undeclared = sorted(named - set(self.options) - {"self"})
        if undeclared:
            raise QSearchError(
                f"searcher {self.name}: option {undeclared[0]!r} of __init__ is not declared in "
                f"{type(self).__name__} as an Option"
            )
        return {name: getattr(self, name) for name in self.options}

    # -- the contract ------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[QTable]:
        """Up to ``n`` tables to evaluate next (generational searchers may return fewer)."""
        if not hasattr(self, "space"):
            raise QSearchError(
                f"searcher {self.name}: call setup(space, evaluator, seed) before ask"
            )
        vectors = self.space.clip(self._propose(n))
        tables = [self.space.to_qtable(x) for x in vectors]
        for table, x in zip(tables, vectors):
            self._proposed[table.key] = x
        return tables

    def tell(self, trials: Sequence[Trial]) -> None:
        """Learn from finished trials of tables this searcher (or anyone) proposed."""
        if not trials:
            return
        keys = [t.qtable.key for t in trials]
        vectors = np.stack(
            [
                self._proposed[k] if k in self._proposed else self.space.from_qtable(t.qtable)
                for k, t in zip(keys, trials)
            ]
        )
        for key in keys:
            self._proposed.pop(key, None)
        self._learn(vectors, list(trials))

    def state_dict(self) -> dict:
        """An in-memory copy of the searcher's state (for forks and tests; runs replay instead)."""
        state = {
            name: copy.deepcopy(getattr(self, name))
            for name in ("_proposed", *self.state_attributes)
        }
        state["rng"] = copy.deepcopy(self.rng.bit_generator.state)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` copy."""
        state = dict(state)
        self.rng.bit_generator.state = state.pop("rng")
        for name, value in state.items():
            setattr(self, name, copy.deepcopy(value))

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def _propose(self, n: int) -> np.ndarray:
        """Hook, called by :meth:`ask`: the points to evaluate next.

        Args:
            n: how many points the study asks for.

        Returns:
            An (m, dim) array of m <= n points of :attr:`space` (rounding and clipping are the
            space's: any real values may be returned).
        """

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        """Hook, called by :meth:`tell` with finished trials (the default learns nothing, as
        for the random baselines).

        Args:
            vectors: (len(trials), dim) points of the space, the ones proposed for these
                tables where this searcher proposed them.
            trials: the finished trials, in the order they were asked (pruned ones too).
        """

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({options})"


class GenerationalSearcher(Searcher):
    """Base of searchers that work generation by generation (pymoo's algorithms, equal-slope
    rounds): a generation is handed out in slices over any number of asks and learnt from
    once every member has been told."""

    state_attributes: ClassVar[tuple[str, ...]] = ("_generation", "_next", "_waiting", "_measured")

    def _setup(self) -> None:
        self._generation: np.ndarray | None = None
        self._next = 0
        self._waiting: dict[str, list[int]] = {}
        self._measured: dict[int, tuple[float, ...]] = {}

    @abstractmethod
    def _new_generation(self) -> np.ndarray:
        """The next generation's points, (m, dim)."""

    @abstractmethod
    def _learn_generation(self, generation: np.ndarray, measured: np.ndarray) -> None:
        """Learn from a whole generation: ``measured[i]`` is what :meth:`_measure` read of member i."""

    def _measure(self, trial: Trial) -> tuple[float, ...]:
        """What a generation learns from a trial: (rate, -accuracy), or the scalar value."""
        return tuple(trial.values) if self.multi_objective else (trial.value,)

    def _propose(self, n: int) -> np.ndarray:
        if self._generation is None:
            self._generation = self.space.clip(self._new_generation())
            self._next, self._measured, self._waiting = 0, {}, {}
            for index, x in enumerate(self._generation):
                self._waiting.setdefault(self.space.to_qtable(x).key, []).append(index)
        members = self._generation[self._next : self._next + n]
        self._next += len(members)
        return members

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        for trial in trials:
            for index in self._waiting.pop(trial.qtable.key, []):
                self._measured[index] = self._measure(trial)
        if self._generation is not None and len(self._measured) == len(self._generation):
            generation, measured = (
                self._generation,
                np.array([self._measured[i] for i in range(len(self._measured))]),
            )
            self._generation = None
            self._learn_generation(generation, measured)


def make_searcher(name: str, **options: Any) -> Searcher:
    """A registered searcher configured with ``options``; unknown options are one-line errors."""
    return SEARCHERS[name](**options)


__all__ = ["SEARCHERS", "GenerationalSearcher", "Option", "Searcher", "make_searcher"]
