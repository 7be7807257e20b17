"""The searcher contract: ask/tell over the integer vectors of a search space.

A searcher is configured in ``__init__`` (its options, stored under the same names, which
``get_params`` reports for the run's identity) and bound by the study with
``setup(space, evaluator, seed)``; subclasses implement the internal hooks ``_setup``,
``_propose`` and ``_learn``. A resumed study rebuilds a searcher's state by replaying the
recorded asks and tells through these hooks with the same seed (:mod:`qsearch.search.study`), so no
state is ever stored beside the record. Implementations live in ``qsearch.searchers`` and
register through the ``qsearch.searchers`` entry-point group.
"""

from __future__ import annotations

import copy
import inspect
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from qsearch.errors import QSearchError
from qsearch.registry import Registry
from qsearch.search.space import SearchSpace
from qsearch.search.trial import Trial
from qsearch.tables.qtable import QTable

SEARCHERS = Registry("qsearch.searchers")


class Searcher(ABC):
    """Base class of every searcher.

    Capability flags: ``multi_objective`` (tells are judged on (rate, accuracy) and the
    searcher returns a front), ``needs_network`` (``setup`` takes the classifier and the
    images from the evaluator), ``default_space``. ``state_attributes`` names what, besides
    the random generator, :meth:`state_dict` copies.
    """

    name: ClassVar[str] = ""
    multi_objective: ClassVar[bool] = False
    needs_network: ClassVar[bool] = False
    default_space: ClassVar[str] = "bands"
    state_attributes: ClassVar[tuple[str, ...]] = ()
    batch_size: int = 1
    """How many tables one ask naturally proposes (a generation; 1 for sequential searchers)."""

    space: SearchSpace
    rng: np.random.Generator

    # -- binding -----------------------------------------------------------------------
    def setup(self, space: SearchSpace, evaluator: Any = None, seed: int | None = None) -> Searcher:
        """Bind to the space the study searches and the evaluator that scores the tables (an
        :class:`qsearch.search.evaluator.Evaluator`; one with a ``network`` where ``needs_network``)."""
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
        """Hook: build what depends on the space, the evaluator or the seed."""

    def get_params(self) -> dict[str, Any]:
        """The options this searcher was configured with (scikit-learn's convention: each
        ``__init__`` argument is kept under its own name)."""
        return {name: getattr(self, name) for name in option_names(type(self))}

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
        """An (m, dim) array of m <= n points of the space (rounding and clipping are the space's)."""

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        """Hook: learn from told trials (default: nothing, as for the random baselines)."""

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


def check_option(
    searcher: str,
    name: str,
    value: Any,
    kind: type = int,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[Any] | None = None,
) -> None:
    """One-line error for a searcher option of the wrong type, range or choice."""
    where = f"searcher {searcher}: option {name}={value!r}"
    if choices is not None:
        if value not in choices:
            raise QSearchError(f"{where} is not one of {', '.join(map(str, choices))}")
        return
    wanted = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise QSearchError(f"{where} is not {'an integer' if kind is int else 'a number'}")
    if low is not None and float(value) < low:
        raise QSearchError(f"{where} must be at least {low}")
    if high is not None and float(value) > high:
        raise QSearchError(f"{where} must be at most {high}")


def option_names(searcher_class: type) -> list[str]:
    """The options a searcher class's ``__init__`` takes, by name."""
    parameters = inspect.signature(searcher_class).parameters.values()
    return [
        p.name
        for p in parameters
        if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD or p.kind is p.KEYWORD_ONLY
    ]


def make_searcher(name: str, **options: Any) -> Searcher:
    """A registered searcher configured with ``options``; unknown options are one-line errors."""
    searcher_class = SEARCHERS[name]
    accepted = option_names(searcher_class)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise QSearchError(
            f"searcher {name} has no option {unknown[0]!r} "
            f"(options: {', '.join(accepted) or 'none'})"
        )
    return searcher_class(**options)


__all__ = ["SEARCHERS", "GenerationalSearcher", "Searcher", "check_option", "make_searcher"]
