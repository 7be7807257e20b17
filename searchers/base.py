"""The searcher contract: ask/tell over integer vectors of a search space, with a state
dict that lets a resumed study continue exactly where it stopped."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from qsearch.qtable import QTable
from qsearch.space import SearchSpace
from qsearch.trial import Trial


class Searcher:
    """Base class. Subclasses implement ``_propose(n) -> (n, dim) array`` and ``_learn``.

    ``state_attributes`` names what, besides the random generator, a resumed run needs.
    """

    name: ClassVar[str] = ""
    multi_objective: ClassVar[bool] = False
    default_space: ClassVar[str] = "bands"
    state_attributes: ClassVar[tuple[str, ...]] = ()
    needs_model: ClassVar[bool] = False
    """Whether the searcher needs ``classifier=`` and ``images=`` (gradient-based searchers)."""
    batch_size: int = 1
    """How many tables one ask naturally proposes (a generation; 1 for sequential searchers)."""

    def __init__(self, space: SearchSpace, seed: int | None = None):
        self.space = space
        self.rng = np.random.default_rng(seed)
        self._proposed: dict[str, np.ndarray] = {}

    # -- the contract ------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[QTable]:
        """Up to ``n`` tables to evaluate next (generational searchers may return fewer)."""
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
        vectors = np.stack([self._proposed[k] if k in self._proposed else self.space.from_qtable(t.qtable)
                            for k, t in zip(keys, trials)])
        for key in keys:
            self._proposed.pop(key, None)
        self._learn(vectors, list(trials))

    def state_dict(self) -> dict:
        state = {name: copy.deepcopy(getattr(self, name)) for name in ("_proposed", *self.state_attributes)}
        state["rng"] = copy.deepcopy(self.rng.bit_generator.state)
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        self.rng.bit_generator.state = state.pop("rng")
        for name, value in state.items():
            setattr(self, name, copy.deepcopy(value))

    # -- for subclasses ------------------------------------------------------------------
    def _propose(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def _learn(self, vectors: np.ndarray, trials: list[Trial]) -> None:
        """Default: nothing to learn (baselines)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space!r})"
