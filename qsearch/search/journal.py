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

import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from qsearch.atomic import write_bytes
from qsearch.errors import QSearchError
from qsearch.folders import check_identity, lock_folder
from qsearch.search.metrics import remember
from qsearch.search.storage import Storage
from qsearch.search.trial import Objective, Trial
from qsearch.tables.qtable import QTable

JOURNAL = "study.journal"


class Journal(Storage):
    """The durable record of one run folder, opened for writing by one process at a time (a
    lock taken by :meth:`open`), or read without a lock (:meth:`read`)."""

    def __init__(self, directory: Path | str):
        self.folder = Path(directory)
        self.directory = self.folder
        self._lock: Any = None
        self._study: optuna.Study | None = None

    def open(self, identity: dict[str, str], objective: Objective) -> None:
        """Open (creating) the record for writing: a new record takes ``identity`` and
        ``objective``; an existing one must have been started with the same identity (a
        resume with anything changed is refused, naming each change)."""
        self._lock = lock_folder(self.folder)
        try:
            self._study = open_journal(self.folder, create=True)
            recorded = _identity(self.folder, self._study.user_attrs)
        except QSearchError:
            self.close()
            raise
        if recorded is None:
            self._study.set_user_attr("identity", identity)
            self._study.set_user_attr("objective", objective.as_dict())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._study.set_metric_names([objective.rate, objective.metric])
        else:
            try:
                check_identity(self.folder, recorded, identity)
            except QSearchError:
                self.close()
                raise

    def record_metrics(self, specs: list[dict]) -> None:
        """The specs of the run's figures, as the evaluator declares them now."""
        if self._opened().user_attrs.get("metrics") != specs:
            self._opened().set_user_attr("metrics", specs)

    @classmethod
    def read(cls, directory: Path | str) -> tuple[list[Trial], Objective, dict]:
        """Trials, objective and identity of a run folder, read-only (no lock, no searcher);
        the specs of its figures it recorded are made known (:func:`remember`)."""
        storage_study = open_journal(Path(directory))
        attrs = storage_study.user_attrs
        remember(attrs.get("metrics", []))
        identity = _identity(Path(directory), attrs)
        if identity is None or "objective" not in attrs:
            raise QSearchError(
                f"{directory}: the run has no recorded objective yet; resume its search first"
            )
        return recorded_trials(storage_study), Objective.from_dict(attrs["objective"]), identity

    # -- what is recorded ---------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        """Every recorded trial, in the order recorded."""
        return recorded_trials(self._opened())

    def asks(self) -> list[list[Any]]:
        """[n, told] of each recorded ask, in order (told is None for an ask cut short)."""
        attrs = self._opened().user_attrs
        return [list(attrs[k]) for k in sorted(k for k in attrs if k.startswith("ask-"))]

    def add(self, trial: Trial) -> None:
        """Append one trial, flushed before this returns."""
        complete = trial.state == "complete"
        self._opened().add_trial(
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
        self._opened().set_user_attr(f"ask-{index:06d}", [n, told])

    def close(self) -> None:
        """Release the run's lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _opened(self) -> optuna.Study:
        if self._study is None:
            raise QSearchError(f"{self.folder}: the journal is not open (call open first)")
        return self._study


def _identity(directory: Path, attrs: dict) -> dict | None:
    """The recorded identity (None for a record not started yet); a folder written by qsearch
    0.1, which kept neither asks nor trial numbers, is refused in one line."""
    if "signature" in attrs:
        raise QSearchError(
            f"{directory}: recorded by qsearch 0.1, which this version neither reads nor resumes; "
            "use a new --out"
        )
    return attrs.get("identity")


def recorded_trials(storage_study: optuna.Study) -> list[Trial]:
    """The trials of a journal with the numbers they were recorded under (so a table file
    named by its trial number names the same table for ever, even after a repair dropped a
    line), in the order they were recorded. Runs written before trials carried their number
    take optuna's, which is what they were recorded under."""
    states = [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    frozen_trials = storage_study.get_trials(deepcopy=False, states=states)
    return _once_each([
        Trial(
            number=int(frozen.user_attrs.get("number", frozen.number)),
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
        for frozen in frozen_trials
    ])  # fmt: skip


def _once_each(trials: list[Trial]) -> list[Trial]:
    """Each trial once, however often its line was written (a journal copied onto itself or
    concatenated by a sync tool); two different tables under one number are refused."""
    seen: dict[int, Trial] = {}
    for trial in trials:
        first = seen.setdefault(trial.number, trial)
        if first.qtable.key != trial.qtable.key:
            raise QSearchError(
                f"trial {trial.number} is recorded twice with different tables: lines of "
                "another run were joined to this journal; keep one run's lines"
            )
    return list(seen.values())


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


def damaged_lines(journal: Path) -> list[int]:
    """Numbers (from 1) of the journal lines that are not JSON objects, or that record a trial
    whose table or figures are not valid (a value outside 1..255, a figure that is not a finite
    number): such a trial would otherwise enter the front."""
    if not journal.exists():
        return []
    bad = []
    with journal.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not _valid_trial(record):
                bad.append(number)
    return bad


def _valid_trial(record: dict) -> bool:
    """Whether a line that creates a trial (optuna's op code 4) holds a valid one; other
    operations are optuna's own bookkeeping."""
    if record.get("op_code") != 4:
        return True
    attrs = record.get("user_attrs")
    if not isinstance(attrs, dict):
        return False
    return (
        isinstance(attrs.get("number", 0), int)
        and _valid_table(attrs.get("table"))
        and _valid_figures(attrs)
    )


def _valid_table(table: Any) -> bool:
    """128 baseline steps, each a whole number in 1..255."""
    return (
        isinstance(table, list)
        and len(table) == 128
        and all(isinstance(v, int) and 1 <= v <= 255 for v in table)
    )


def _valid_figures(attrs: dict) -> bool:
    """A finite value and objective values, and no NaN among the metrics."""
    values = [attrs.get("value"), *(attrs.get("values") or [None, None])]
    metrics = attrs.get("metrics")
    return (
        all(_number(v) and math.isfinite(v) for v in values)
        and isinstance(metrics, dict)
        and not any(_number(v) and math.isnan(v) for v in metrics.values())
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


__all__ = ["JOURNAL", "Journal", "repair_journal"]
