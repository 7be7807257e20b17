"""Where a study keeps its record, handed to the study as optuna hands a storage to its study:
every trial (with the number it was recorded under) and the size of every ask, so a resumed
study can replay its searcher exactly. :class:`InMemoryStorage` keeps nothing beyond the
process (tests, notebooks that want no folder); :class:`qsearch.search.journal.Journal`
keeps a run folder's durable record."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from qsearch.search.trial import Objective, Trial


class Storage(ABC):
    """The record of one study. The study calls :meth:`open` once, before anything else, then
    reads :meth:`trials` and :meth:`asks` (what an earlier session recorded) and writes with
    :meth:`add` and :meth:`record_ask`; :meth:`close` releases what :meth:`open` took."""

    directory: Path | None = None
    """The folder the record lives in, where it has one (named in messages)."""

    @abstractmethod
    def open(self, identity: dict[str, str], objective: Objective) -> None:
        """Bind the record to a run.

        Args:
            identity: everything that decides the run's numbers, one readable string each.
            objective: what the run optimises.

        Raises:
            QSearchError: the record was started with another identity (naming each change),
                or another process holds it.
        """

    @abstractmethod
    def trials(self) -> list[Trial]:
        """Returns every recorded trial, in the order recorded."""

    @abstractmethod
    def asks(self) -> list[list[Any]]:
        """Returns ``[n, told]`` of each recorded ask in order (``told`` None: cut short)."""

    @abstractmethod
    def add(self, trial: Trial) -> None:
        """Record one finished trial, durably before this returns where the storage is durable."""

    @abstractmethod
    def record_ask(self, index: int, n: int, told: int | None) -> None:
        """Record ask ``index`` of ``n`` tables, ``told`` of which were told (None: not yet)."""

    def record_metrics(self, specs: list[dict]) -> None:
        """Keep what the run's figures mean (:func:`qsearch.search.metrics.spec_record` of
        each), so that reading the record needs no evaluator; the default keeps nothing."""

    def close(self) -> None:
        """Release what :meth:`open` took (a lock); the default holds nothing."""


class InMemoryStorage(Storage):
    """A record that lives as long as the process: nothing is written anywhere."""

    def __init__(self) -> None:
        self._trials: list[Trial] = []
        self._asks: dict[int, list[Any]] = {}

    def open(self, identity: dict[str, str], objective: Objective) -> None:
        """Nothing to check: an in-memory record belongs to one study."""

    def trials(self) -> list[Trial]:
        """Returns the trials added so far."""
        return list(self._trials)

    def asks(self) -> list[list[Any]]:
        """Returns the asks recorded so far."""
        return [list(self._asks[index]) for index in sorted(self._asks)]

    def add(self, trial: Trial) -> None:
        """Keep ``trial``."""
        self._trials.append(trial)

    def record_ask(self, index: int, n: int, told: int | None) -> None:
        """Keep ask ``index``."""
        self._asks[index] = [n, told]


__all__ = ["InMemoryStorage", "Storage"]
