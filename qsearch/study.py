"""A study runs a searcher against an evaluator: ask, evaluate (serving repeated tables from
the record), record each trial durably the moment it finishes, tell, until the budget is spent.

With a run directory the record is an optuna journal (append-only, one line per trial,
readable by optuna-dashboard) and it is the run's single source of truth: it holds the run's
identity (everything that decides its numbers), every trial, and the size of every ask. A
resumed study rebuilds its searcher by replaying the recorded asks and tells with the same
seed, the recorded tables served from the record, so the same call after Ctrl-C, a crash or
``kill -9`` continues exactly where the run stopped and nothing is evaluated twice. Nothing
in a run folder is ever unpickled.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from qsearch.atomic import write_bytes
from qsearch.errors import QSearchError
from qsearch.pareto import non_dominated
from qsearch.pruning import Pruner, Rejection
from qsearch.qtable import QTable
from qsearch.searcher import Searcher
from qsearch.space import SPACES, SearchSpace
from qsearch.trial import Objective, Trial, metric_sign
from qsearch.workers import worker_name

log = logging.getLogger(__name__)

JOURNAL, LOCK, LEGACY_CHECKPOINT = "study.journal", ".lock", "searcher.pkl"
STALL_LIMIT = 50  # consecutive asks with nothing new: the searcher has exhausted its space


def default_objective(evaluator) -> Objective:
    """top1 with labels, agreement without; the evaluator's first figure otherwise."""
    metrics = evaluator.accuracy_metrics
    return Objective(
        metric="top1"
        if "top1" in metrics
        else "agreement"
        if "agreement" in metrics
        else metrics[0]
    )


class Study:
    """Ask/tell loop with a de-duplicating cache and an optional durable record in ``directory``.

    The study binds ``searcher`` to ``space`` (a :class:`SearchSpace`, a space name, or the
    searcher's default), the evaluator and ``seed``; ``pruner`` (a :class:`Pruner`) lets
    evaluators stop hopeless tables early; ``pool`` (a :class:`qsearch.workers.EvaluatorPool`:
    local processes or a Dask cluster) evaluates each batch in parallel.
    """

    def __init__(
        self,
        evaluator,
        searcher: Searcher,
        objective: Objective | None = None,
        directory=None,
        *,
        space: SearchSpace | str | None = None,
        seed: int | None = 0,
        pruner: Pruner | None = None,
        pool=None,
    ):
        self.evaluator = evaluator
        self.objective = objective or default_objective(evaluator)
        if self.objective.metric not in evaluator.accuracy_metrics:
            raise QSearchError.about(
                f"{{metric}} {self.objective.metric!r} is not reported by this evaluator "
                f"(choose from {', '.join(evaluator.accuracy_metrics)})"
            )
        if not isinstance(space, SearchSpace):
            space = SPACES[space or searcher.default_space]()
        assert isinstance(space, SearchSpace)
        self.space, self.seed, self.pruner, self.pool = space, seed, pruner, pool
        self.searcher = searcher.setup(space, evaluator, seed)
        self.reference = getattr(evaluator, "reference", None)
        self.trials: list[Trial] = []
        self._cache: dict[str, Trial] = {}
        self._asks: list[list[Any]] = []  # [n, told] of each ask so far; told is None until told
        self._replayed = False
        self._rivals: tuple = ()
        self.worker = worker_name()
        self.identity = self._identity()
        self.directory = Path(directory) if directory is not None else None
        self._storage_study: Any = None
        if directory is not None:
            self._open_record(Path(directory))

    # -- identity ------------------------------------------------------------------------------
    def _identity(self) -> dict[str, str]:
        """Everything that decides the run's numbers, one readable string per setting."""
        evaluator_identity = self.evaluator.identity()
        params = json.dumps(self.searcher.get_params(), sort_keys=True, default=str)
        return {
            **evaluator_identity,
            "objective": repr(self.objective),
            "searcher": self.searcher.name,
            "options": params,
            "seed": str(self.seed),
            "space": repr(self.space),
            "pruner": repr(self.pruner),
        }

    # -- durable record ----------------------------------------------------------------------
    def _open_record(self, directory: Path) -> None:
        self.directory = directory
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.directory / LOCK, "a+")
        except OSError as error:
            raise QSearchError(
                f"{self.directory}: cannot write the run here ({error.strerror})"
            ) from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QSearchError(
                f"{self.directory}: another qsearch process is writing this run"
            ) from None
        self._storage_study = open_journal(self.directory, create=True)
        attrs = self._storage_study.user_attrs
        recorded = attrs.get("identity")
        if recorded is None and "signature" not in attrs:
            self._storage_study.set_user_attr("identity", self.identity)
            self._storage_study.set_user_attr("objective", self.objective.as_dict())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._storage_study.set_metric_names([self.objective.rate, self.objective.metric])
        elif recorded is None:
            log.warning(
                "%s was recorded before runs kept their identity: its settings are taken to be the "
                "ones given now, and recorded",
                self.directory,
            )
            self._storage_study.set_user_attr("identity", self.identity)
        else:
            check_identity(self.directory, recorded, self.identity)
        for trial in recorded_trials(self._storage_study):
            self._remember(trial)
        self._asks = recorded_asks(attrs)
        if (self.directory / LEGACY_CHECKPOINT).exists():
            log.warning(
                "%s: ignoring %s (never loaded: the searcher is rebuilt by replaying the journal)",
                self.directory,
                LEGACY_CHECKPOINT,
            )
        if self.trials:
            log.info("resuming %s with %d recorded trials", self.directory, len(self.trials))

    def _record(self, trial: Trial) -> None:
        if self._storage_study is not None:
            complete = trial.state == "complete"
            self._storage_study.add_trial(
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
        self._remember(trial)

    def _remember(self, trial: Trial) -> None:
        self.trials.append(trial)
        self._cache[trial.qtable.key] = trial

    def _record_ask(self, index: int, n: int, told: int | None) -> None:
        if self._storage_study is not None:
            self._storage_study.set_user_attr(f"ask-{index:06d}", [n, told])

    # -- the loop ------------------------------------------------------------------------------
    def _rejection(self, rivals: tuple) -> Rejection | None:
        """What a new table must beat to matter: the current front and the ``rivals``, and
        the floor of a single-objective search (a table is stopped only when it can reach neither)."""
        if self.pruner is None:
            return None
        sign = metric_sign(self.objective.metric)
        front = [
            (t.values[0], -t.values[1], tuple(sign * v for v in t.per_image["accuracy"]))
            for t in self.front()
            if t.per_image is not None
        ]
        single = not self.searcher.multi_objective and self.objective.weight is None
        floor = self.objective.absolute_floor(self.reference) if single else None
        return self.pruner.bind(self.objective.metric, self.objective.rate, front, floor, rivals)

    def _trial(self, qtable: QTable, metrics: dict, worker: str) -> Trial:
        per_image = metrics.pop("per_image", None)
        if per_image is not None:
            kept = {
                "accuracy": [round(float(v), 6) for v in per_image[self.objective.metric]],
                "bytes": per_image["bytes"],
            }  # pixels are the image set's: kept with the IJG curve
            if self.objective.metric != "top1" and "top1" in per_image:
                kept["top1"] = [int(v) for v in per_image["top1"]]  # top-1 operating points
            per_image = kept
        metrics = {
            k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in metrics.items()
        }
        return Trial(
            number=max((t.number for t in self.trials), default=-1) + 1,
            qtable=qtable,
            metrics=metrics,
            value=self.objective.scalar(metrics, self.reference),
            values=self.objective.values(metrics),
            searcher=self.searcher.name,
            worker=worker,
            state="pruned" if metrics.pop("pruned", False) else "complete",
            per_image=per_image,
        )

    def evaluate_batch(
        self, tables: list[QTable], budget: int | None = None, on_record=None, rivals=None
    ) -> list[Trial]:
        """Trials of ``tables`` in order: repeated tables from the record, new ones evaluated
        (in parallel with a pool) and recorded in the order asked, within ``budget``; ``rivals``
        (default: those of the running :meth:`optimize`) are points a table must beat.
        The rejection rule is fixed for the batch, so parallel and serial runs agree."""
        new: dict[str, QTable] = {}
        told = []
        for table in tables:
            if table.key not in self._cache and table.key not in new:
                if budget is not None and len(self.trials) + len(new) >= budget:
                    break
                new[table.key] = table
            told.append(table.key)
        rejection = self._rejection(self._rivals if rivals is None else tuple(rivals))
        if self.pool is None:
            results = (
                (self.evaluator.evaluate(table, rejection, per_image=True), self.worker)
                for table in new.values()
            )
        else:
            results = self.pool.map(list(new.values()), rejection)
        for table, (metrics, worker) in zip(new.values(), results):
            self._record(self._trial(table, metrics, worker))
            if on_record is not None:
                on_record()
        return [self._cache[key] for key in told]

    def _step(self, n: int, budget: int | None, on_record=None, index: int | None = None) -> None:
        """One ask, its evaluations and its tell. A new ask (``index`` None) is recorded before
        its tables are evaluated and again, with how many were told, after; a recorded ask is
        replayed: from the record alone when it was told, evaluating what is missing when a
        crash cut it short."""
        tables = self.searcher.ask(n)
        told_count = None if index is None else self._asks[index][1]
        if told_count is not None:
            told = self._cache_only(tables[:told_count])
        else:
            if index is None:
                index = len(self._asks)
                self._asks.append([n, None])
                self._record_ask(index, n, None)
            told = self.evaluate_batch(tables, budget, on_record)
            self._asks[index][1] = len(told)
            self._record_ask(index, n, len(told))
        self.searcher.tell(told)

    def _cache_only(self, tables: list[QTable]) -> list[Trial]:
        missing = [t for t in tables if t.key not in self._cache]
        if missing:
            raise QSearchError(
                f"{self.directory}: the replayed searcher proposed a table the record does not "
                f"hold ({missing[0].key[:12]}); was the searcher's code changed? Use a new --out"
            )
        return [self._cache[t.key] for t in tables]

    def _replay(self, budget: int | None) -> None:
        """Rebuild the searcher's state from the record: the recorded asks and tells, in order
        (a run recorded before asks were kept is replayed in natural batches)."""
        if self._replayed:
            return
        self._replayed = True
        for index, (n, _) in enumerate(list(self._asks)):
            self._step(n, budget, index=index)
        if not self._asks and self.trials:
            log.warning(
                "%s: replaying %d trials recorded before asks were kept",
                self.directory,
                len(self.trials),
            )
            told_keys: set[str] = set()
            while len(told_keys) < len(self._cache):
                tables = self.searcher.ask(self.searcher.batch_size)
                if not tables or any(t.key not in self._cache for t in tables):
                    raise QSearchError(
                        f"{self.directory}: cannot replay this old run exactly; use a new --out"
                    )
                self._asks.append([len(tables), len(tables)])
                self._record_ask(len(self._asks) - 1, len(tables), len(tables))
                told_keys.update(t.key for t in tables)
                self.searcher.tell([self._cache[t.key] for t in tables])

    def optimize(
        self,
        budget: int | None = None,
        timeout: float | None = None,
        batch_size: int | None = None,
        progress: bool = False,
        rivals=(),
    ) -> list[Trial]:
        """Run until ``budget`` distinct tables are recorded (counting earlier sessions of the
        run) or ``timeout`` seconds of this call have passed. ``batch_size`` defaults to the
        searcher's natural batch (a generation; one for sequential searchers), raised to the
        pool's size so that every worker has a table. ``rivals`` are points every table must
        beat from the first trial on, for the pruner (e.g. the IJG curve)."""
        self._rivals = tuple(rivals)
        if budget is None and timeout is None:
            raise QSearchError("a study needs a budget (trials) or a timeout (seconds)")
        for name, value in (("budget", budget), ("batch size", batch_size)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise QSearchError(f"{name} {value!r} must be a whole number, at least 1")
        if timeout is not None and not timeout > 0:
            raise QSearchError(f"timeout {timeout!r} must be a number of seconds above 0")
        batch_size = batch_size or max(self.searcher.batch_size, self.pool.size if self.pool else 1)
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress_bar(budget, len(self.trials)) if progress else None
        on_record = None if bar is None else (lambda: self._advance(bar))
        stalled = 0
        try:
            self._replay(budget)
            while (budget is None or len(self.trials) < budget) and (
                deadline is None or time.monotonic() < deadline
            ):
                before = len(self.trials)
                self._step(
                    batch_size if budget is None else min(batch_size, budget - len(self.trials)),
                    budget,
                    on_record,
                )
                stalled = stalled + 1 if len(self.trials) == before else 0
                if stalled >= STALL_LIMIT:
                    log.warning(
                        "%s proposed only evaluated tables %d times in a row: stopping early",
                        self.searcher.name,
                        STALL_LIMIT,
                    )
                    break
        finally:
            if bar is not None:
                bar.close()
        return self.trials

    def _advance(self, bar) -> None:
        bar.update(len(self.trials) - bar.n)
        bar.set_postfix_str(self._best_summary(), refresh=False)

    def _best_summary(self) -> str:
        best = min(self.trials, key=lambda t: t.value)
        seconds = np.mean([t.metrics.get("seconds", np.nan) for t in self.trials[-10:]])
        return (
            f"best {self.objective.metric}={best.metrics[self.objective.metric]:.3f} "
            f"@{best.metrics[self.objective.rate]:.3f} {self.objective.rate}, {seconds:.2f}s/trial"
        )

    def front(self) -> list[Trial]:
        """The non-dominated complete trials by (rate, accuracy), in increasing rate."""
        complete = [t for t in self.trials if t.state == "complete"]
        points = non_dominated([t.values[0] for t in complete], [-t.values[1] for t in complete])
        return sorted((complete[i] for i in points), key=lambda t: t.values[0])

    def close(self) -> None:
        """Release the run's lock."""
        if self.directory is not None:
            self._lock.close()


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


def recorded_asks(attrs: dict) -> list[list[Any]]:
    """[n, told] of each recorded ask, in order."""
    keys = sorted(k for k in attrs if k.startswith("ask-"))
    return [list(attrs[k]) for k in keys]


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
    optuna.logging.set_verbosity(
        optuna.logging.WARNING
    )  # its INFO lines are about its own bookkeeping
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
    """Trials, objective and identity of a run directory, read-only (no lock, no searcher)."""
    storage_study = open_journal(Path(directory))
    attrs = storage_study.user_attrs
    if "objective" not in attrs:
        raise QSearchError(
            f"{directory}: the run has no recorded objective yet; rerun its qsearch run command"
        )
    identity = attrs.get("identity") or attrs.get("signature", {})
    return recorded_trials(storage_study), Objective.from_dict(attrs["objective"]), identity


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
    ``study.journal.damaged``; returns (lines dropped, trials kept)."""
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


def _progress_bar(budget, done):
    from tqdm import tqdm

    return tqdm(total=budget, initial=done, unit="trial", desc="search", dynamic_ncols=True)


def _drop_torn_last_line(journal: Path) -> None:
    """A kill during a write can leave half a line; optuna would refuse the journal after it."""
    if not journal.exists() or journal.stat().st_size == 0:
        return
    data = journal.read_bytes()
    if not data.endswith(b"\n"):
        with journal.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


__all__ = ["Study", "default_objective", "load_record", "repair_journal"]
