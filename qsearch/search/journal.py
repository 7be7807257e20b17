"""A run's durable record: an optuna journal in the run folder (append-only, one line per
operation, readable by optuna-dashboard), the run's single source of truth.

It holds the run's identity (everything that decides its numbers), its objective, every trial
(with the number it was recorded under, for ever) and the size of every ask, so a resumed study
can replay its searcher exactly. Every line is checked before optuna reads it: a torn last line
(a kill mid-write) is dropped, a damaged line elsewhere is one error naming it, and
:func:`repair_journal` drops damaged lines keeping the original beside them. Nothing in a run
folder is ever unpickled.
"""

from __future__ import annotations

import fcntl
import json
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from qsearch.atomic import write_bytes
from qsearch.errors import QSearchError
from qsearch.search.trial import Objective, Trial
from qsearch.tables.qtable import QTable

JOURNAL, LOCK = "study.journal", ".lock"


class Journal:
    """The record of one run folder, opened for writing by one process at a time (a lock), or
    read-only (:meth:`read`)."""

    def __init__(self, directory, identity: dict[str, str], objective: Objective):
        """Open (creating) the record of ``directory`` for writing: a new record takes
        ``identity`` and ``objective``; an existing one must have been started with the same
        identity (a resume with anything changed is refused, naming each change)."""
        self.directory = Path(directory)
        self._lock = _lock(self.directory)
        self._study = open_journal(self.directory, create=True)
        recorded = self._study.user_attrs.get("identity")
        if recorded is None and "signature" in self._study.user_attrs:
            self._lock.close()
            raise QSearchError(
                f"{self.directory}: recorded by qsearch 0.1, before runs kept their identity: it "
                "can be read and exported (qsearch front), not resumed; use a new --out"
            )
        if recorded is None:
            self._study.set_user_attr("identity", identity)
            self._study.set_user_attr("objective", objective.as_dict())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._study.set_metric_names([objective.rate, objective.metric])
        else:
            check_identity(self.directory, recorded, identity)

    @classmethod
    def read(cls, directory) -> tuple[list[Trial], Objective, dict]:
        """Trials, objective and identity of a run folder, read-only (no lock, no searcher)."""
        storage_study = open_journal(Path(directory))
        attrs = storage_study.user_attrs
        if "objective" not in attrs:
            raise QSearchError(
                f"{directory}: the run has no recorded objective yet; resume its search first"
            )
        identity = attrs.get("identity") or attrs.get("signature", {})  # "signature": qsearch 0.1
        return recorded_trials(storage_study), Objective.from_dict(attrs["objective"]), identity

    # -- what is recorded ---------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        """Every recorded trial, in the order recorded."""
        return recorded_trials(self._study)

    def asks(self) -> list[list[Any]]:
        """[n, told] of each recorded ask, in order (told is None for an ask cut short)."""
        attrs = self._study.user_attrs
        return [list(attrs[k]) for k in sorted(k for k in attrs if k.startswith("ask-"))]

    def before_asks(self) -> bool:
        """Whether the run was recorded by qsearch 0.1, which kept neither asks nor trial
        numbers (such a run cannot be replayed exactly)."""
        if self.asks():
            return False
        frozen = self._study.get_trials(deepcopy=False)
        return bool(frozen) and not any("number" in t.user_attrs for t in frozen)

    def add(self, trial: Trial) -> None:
        """Append one trial, flushed before this returns."""
        complete = trial.state == "complete"
        self._study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE
                if complete
                else optuna.trial.TrialState.PRUNED,
                values=[trial.values[0], -trial.values[1]] if complete else None,
                user_attrs={
                    "number": trial.number,
                    "table": trial.qtable.to_vector().tolist(),
                    "metrics": trial.metrics,
                    "value": trial.value,
                    "values": list(trial.values),
                    "searcher": trial.searcher,
                    "worker": trial.worker,
                    "key": trial.qtable.key,
                    "per_image": trial.per_image,
                },
            )
        )

    def record_ask(self, index: int, n: int, told: int | None) -> None:
        """Record ask ``index`` of ``n`` tables, ``told`` of which were told (None: not yet)."""
        self._study.set_user_attr(f"ask-{index:06d}", [n, told])

    def close(self) -> None:
        """Release the run's lock."""
        self._lock.close()


def _lock(directory: Path):
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / LOCK, "a+")
    except OSError as error:
        raise QSearchError(f"{directory}: cannot write the run here ({error.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise QSearchError(f"{directory}: another qsearch process is writing this run") from None
    return handle


def check_identity(directory: Path, recorded: dict[str, str], current: dict[str, str]) -> None:
    """Refuse to resume a run with anything that decides its numbers changed, naming each change."""
    changed = [
        f"{key}: {recorded.get(key, 'unset')} -> {current.get(key, 'unset')}"
        for key in sorted(set(recorded) | set(current))
        if recorded.get(key) != current.get(key)
    ]
    if changed:
        raise QSearchError(
            f"{directory}: was started with other settings ({'; '.join(changed)}); "
            "use a new --out or the original settings"
        )


def recorded_trials(storage_study) -> list[Trial]:
    """The trials of a journal with the numbers they were recorded under (so a table file
    named by its trial number names the same table for ever, even after a repair dropped a
    line), in the order they were recorded."""
    states = [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    frozen_trials = storage_study.get_trials(deepcopy=False, states=states)
    return [
        Trial(
            number=int(frozen.user_attrs.get("number", position)),
            qtable=QTable.from_vector(frozen.user_attrs["table"]),
            metrics=frozen.user_attrs["metrics"],
            value=frozen.user_attrs["value"],
            values=tuple(frozen.user_attrs["values"]),
            searcher=frozen.user_attrs["searcher"],
            worker=frozen.user_attrs["worker"],
            per_image=frozen.user_attrs.get("per_image")
            if isinstance(frozen.user_attrs.get("per_image"), dict)
            else None,
            state="complete" if frozen.state == optuna.trial.TrialState.COMPLETE else "pruned",
        )
        for position, frozen in enumerate(frozen_trials)
    ]


def open_journal(directory: Path, create: bool = False):
    """The optuna study of a run's journal, after checking every line: a torn last line (a
    kill mid-write) is dropped, a damaged line elsewhere is one error naming it."""
    journal = Path(directory) / JOURNAL
    if not create and not journal.exists():
        raise QSearchError(f"{directory}: no qsearch run here ({JOURNAL} missing)")
    _drop_torn_last_line(journal)
    damaged = damaged_lines(journal)
    if damaged:
        raise QSearchError(
            f"{journal}: line {damaged[0]} is damaged; `qsearch repair {directory}` keeps every "
            "intact trial"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its INFO lines are its bookkeeping
    storage = JournalStorage(JournalFileBackend(str(journal)))
    try:
        if create and not any(s.study_name == "qsearch" for s in storage.get_all_studies()):
            return optuna.create_study(
                study_name="qsearch", storage=storage, directions=["minimize", "maximize"]
            )
        return optuna.load_study(study_name="qsearch", storage=storage)
    except (KeyError, ValueError, TypeError) as error:
        raise QSearchError(f"{journal}: not a qsearch journal ({error})") from None


def load_record(directory) -> tuple[list[Trial], Objective, dict]:
    """Trials, objective and identity of a run directory, read-only (:meth:`Journal.read`)."""
    return Journal.read(directory)


def damaged_lines(journal: Path) -> list[int]:
    """Numbers (from 1) of the journal lines that are not JSON objects."""
    if not journal.exists():
        return []
    bad = []
    with journal.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                if not isinstance(json.loads(line), dict):
                    bad.append(number)
            except ValueError:
                bad.append(number)
    return bad


def repair_journal(directory: Path) -> tuple[int, int]:
    """Drop the damaged lines of a run's journal, keeping the original beside it as
    ``study.journal.damaged``; returns (lines dropped, trials kept). Trial numbers are kept."""
    journal = Path(directory) / JOURNAL
    if not journal.exists():
        raise QSearchError(f"{directory}: no qsearch run here ({JOURNAL} missing)")
    _drop_torn_last_line(journal)
    bad = set(damaged_lines(journal))
    lines = journal.read_bytes().splitlines(keepends=True)
    if bad:
        journal.with_name(JOURNAL + ".damaged").write_bytes(b"".join(lines))
        write_bytes(
            journal, b"".join(line for number, line in enumerate(lines, 1) if number not in bad)
        )
    return len(bad), len(recorded_trials(open_journal(Path(directory))))


def _drop_torn_last_line(journal: Path) -> None:
    """A kill during a write can leave half a line; optuna would refuse the journal after it."""
    if not journal.exists() or journal.stat().st_size == 0:
        return
    data = journal.read_bytes()
    if not data.endswith(b"\n"):
        with journal.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


__all__ = ["JOURNAL", "Journal", "check_identity", "load_record", "repair_journal"]
