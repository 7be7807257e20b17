"""A study runs a searcher against an evaluator: ask, evaluate (serving repeated tables from
cache), record each trial durably the moment it finishes, tell, until the budget is spent.

With a run directory the record is an optuna journal (append-only, one line per trial,
readable by optuna-dashboard), and the searcher's state is checkpointed before every ask,
so the same call after Ctrl-C, a crash or ``kill -9`` resumes exactly: the checkpointed
searcher proposes the same tables again and those already recorded are served from the
record instead of being evaluated twice.
"""
from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import cloudpickle
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from qsearch.errors import QSearchError
from qsearch.evaluators.base import Rejection
from qsearch.pareto import non_dominated
from qsearch.qtable import QTable
from qsearch.trial import LOWER_IS_BETTER, Objective, Trial
from qsearch.workers import worker_name

log = logging.getLogger(__name__)

JOURNAL, CHECKPOINT, LOCK = "study.journal", "searcher.pkl", ".lock"
STALL_LIMIT = 50  # consecutive asks with nothing new: the searcher has exhausted its space


def default_objective(evaluator) -> Objective:
    metrics = evaluator.accuracy_metrics
    return Objective(metric="top1" if "top1" in metrics else "agreement" if "agreement" in metrics else metrics[0])


class Study:
    """Ask/tell loop with a de-duplicating cache and an optional durable record in ``directory``."""

    def __init__(self, evaluator, searcher, objective: Objective | None = None, directory=None,
                 early_rejection: bool = False, pool=None, rivals=(), rejection_z: float = Rejection.z):
        """``early_rejection`` lets evaluators stop a table once it provably cannot enter the
        front (or reach a single-objective floor); ``rivals`` are reference points it must
        also beat from the first table on, e.g. the IJG curve (see
        :func:`qsearch.report.rival_points`), and ``rejection_z`` the width of the confidence
        bound in standard errors; ``pool`` (a :class:`qsearch.workers.EvaluatorPool`:
        local processes or a Dask cluster) evaluates each batch in parallel."""
        self.evaluator = evaluator
        self.early_rejection = early_rejection
        self.rivals = tuple(rivals)
        self.rejection_z = rejection_z
        self.pool = pool
        self.searcher = searcher
        self.objective = objective or default_objective(evaluator)
        self.reference = getattr(evaluator, "reference", None)
        self.trials: list[Trial] = []
        self._cache: dict[str, Trial] = {}
        self.worker = worker_name()
        self.directory = Path(directory) if directory is not None else None
        self._storage_study = None
        if self.directory is not None:
            self._open_record()

    # -- durable record ----------------------------------------------------------------------
    def _signature(self) -> dict:
        return {"searcher": self.searcher.name, "space": repr(self.searcher.space),
                "objective": repr(self.objective), "settings": self.evaluator.settings.describe(),
                "evaluator": self.evaluator.describe(), "early_rejection": self.early_rejection}

    def _open_record(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.directory / LOCK, "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QSearchError(f"{self.directory}: another qsearch process is writing this run") from None
        journal = self.directory / JOURNAL
        _drop_torn_last_line(journal)
        storage = JournalStorage(JournalFileBackend(str(journal)))
        signature = self._signature()
        self._storage_study = optuna.create_study(
            study_name="qsearch", storage=storage, load_if_exists=True, directions=["minimize", "maximize"])
        recorded = self._storage_study.user_attrs.get("signature")
        if recorded is None:
            self._storage_study.set_user_attr("signature", signature)
            self._storage_study.set_user_attr("objective", dataclasses.asdict(self.objective))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._storage_study.set_metric_names([self.objective.rate, self.objective.metric])
        elif recorded != signature:
            changed = [f"{k}: {recorded.get(k)} -> {v}" for k, v in signature.items() if recorded.get(k) != v]
            raise QSearchError(f"{self.directory}: was started with other settings ({'; '.join(changed)}); "
                               "use a new --out or the original settings")
        for trial in _recorded_trials(self._storage_study):
            self._remember(trial)
        checkpoint = self.directory / CHECKPOINT
        if checkpoint.exists():
            with checkpoint.open("rb") as handle:
                self.searcher.load_state_dict(cloudpickle.load(handle))
        if self.trials:
            log.info("resuming %s with %d recorded trials", self.directory, len(self.trials))

    def _record(self, trial: Trial) -> None:
        if self._storage_study is not None:
            complete = trial.state == "complete"
            self._storage_study.add_trial(optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE if complete else optuna.trial.TrialState.PRUNED,
                values=[trial.values[0], -trial.values[1]] if complete else None,
                user_attrs={"table": trial.qtable.to_vector().tolist(), "metrics": trial.metrics,
                            "value": trial.value, "values": list(trial.values), "searcher": trial.searcher,
                            "worker": trial.worker, "key": trial.qtable.key, "per_image": trial.per_image}))
        self._remember(trial)

    def _remember(self, trial: Trial) -> None:
        self.trials.append(trial)
        self._cache[trial.qtable.key] = trial

    def _checkpoint(self) -> None:
        if self.directory is None:
            return
        path = self.directory / CHECKPOINT
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            cloudpickle.dump(self.searcher.state_dict(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)

    # -- the loop ------------------------------------------------------------------------------
    def _rejection(self) -> Rejection | None:
        """What a new table must beat to matter: the current front and the rivals, and the
        floor of a single-objective search (a table is stopped only when it can reach neither)."""
        sign = -1.0 if self.objective.metric in LOWER_IS_BETTER else 1.0
        front = tuple((t.values[0], -t.values[1], tuple(sign * v for v in t.per_image["accuracy"]))
                      for t in self.front() if t.per_image is not None) + self.rivals
        if not self.early_rejection or not front:
            return None
        single = not self.searcher.multi_objective and self.objective.weight is None
        return Rejection(metric=self.objective.metric, rate=self.objective.rate, front=front,
                         floor=self.objective.absolute_floor(self.reference) if single else None, z=self.rejection_z)

    def _trial(self, qtable: QTable, metrics: dict, worker: str) -> Trial:
        per_image = metrics.pop("per_image", None)
        if per_image is not None:
            per_image = {"accuracy": [round(float(v), 6) for v in per_image[self.objective.metric]],
                         "bytes": per_image["bytes"]}  # pixels are the image set's: kept with the IJG curve
        metrics = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in metrics.items()}
        return Trial(number=len(self.trials), qtable=qtable, metrics=metrics,
                     value=self.objective.scalar(metrics, self.reference), values=self.objective.values(metrics),
                     searcher=self.searcher.name, worker=worker,
                     state="pruned" if metrics.pop("pruned", False) else "complete",
                     per_image=per_image)

    def evaluate_batch(self, tables: list[QTable], budget: int | None = None, on_record=None) -> list[Trial]:
        """Trials of ``tables`` in order: repeated tables from the record, new ones evaluated
        (in parallel with a pool) and recorded in the order asked, within ``budget``.
        The rejection rule is fixed for the batch, so parallel and serial runs agree."""
        new: dict[str, QTable] = {}
        told = []
        for table in tables:
            if table.key not in self._cache and table.key not in new:
                if budget is not None and len(self.trials) + len(new) >= budget:
                    break
                new[table.key] = table
            told.append(table.key)
        rejection = self._rejection()
        if self.pool is None:
            results = ((self.evaluator.evaluate(table, rejection, per_image=True), self.worker)
                       for table in new.values())
        else:
            results = self.pool.map(list(new.values()), rejection)
        for table, (metrics, worker) in zip(new.values(), results):
            self._record(self._trial(table, metrics, worker))
            if on_record is not None:
                on_record()
        return [self._cache[key] for key in told]

    def optimize(self, budget: int | None = None, timeout: float | None = None, batch_size: int | None = None,
                 progress: bool = False) -> list[Trial]:
        """Run until ``budget`` distinct tables are recorded (counting earlier sessions of the
        run) or ``timeout`` seconds of this call have passed. ``batch_size`` defaults to the
        searcher's natural batch (a generation; one for sequential searchers), raised to the
        pool's size so that every worker has a table."""
        batch_size = batch_size or max(self.searcher.batch_size, self.pool.size if self.pool else 1)
        if budget is None and timeout is None:
            raise QSearchError("a study needs a budget (trials) or a timeout (seconds)")
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress_bar(budget, len(self.trials)) if progress else None
        stalled = 0
        try:
            while (budget is None or len(self.trials) < budget) and (deadline is None or time.monotonic() < deadline):
                self._checkpoint()
                tables = self.searcher.ask(batch_size if budget is None else min(batch_size, budget - len(self.trials)))
                before = len(self.trials)
                told = self.evaluate_batch(tables, budget, on_record=None if bar is None else lambda: self._advance(bar))
                self.searcher.tell(told)
                stalled = stalled + 1 if len(self.trials) == before else 0
                if stalled >= STALL_LIMIT:
                    log.warning("%s proposed only evaluated tables %d times in a row: stopping early",
                                self.searcher.name, STALL_LIMIT)
                    break
            self._checkpoint()
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
        return (f"best {self.objective.metric}={best.metrics[self.objective.metric]:.3f} "
                f"@{best.metrics[self.objective.rate]:.3f} {self.objective.rate}, {seconds:.2f}s/trial")

    def front(self) -> list[Trial]:
        """The non-dominated complete trials by (rate, accuracy), in increasing rate."""
        complete = [t for t in self.trials if t.state == "complete"]
        points = non_dominated([t.values[0] for t in complete], [-t.values[1] for t in complete])
        return sorted((complete[i] for i in points), key=lambda t: t.values[0])

    def close(self) -> None:
        if self.directory is not None:
            self._lock.close()


def _recorded_trials(storage_study) -> list[Trial]:
    states = [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    frozen_trials = storage_study.get_trials(deepcopy=False, states=states)
    return [Trial(number=number, qtable=QTable.from_vector(frozen.user_attrs["table"]),
                  metrics=frozen.user_attrs["metrics"], value=frozen.user_attrs["value"],
                  values=tuple(frozen.user_attrs["values"]), searcher=frozen.user_attrs["searcher"],
                  worker=frozen.user_attrs["worker"],
                  per_image=frozen.user_attrs.get("per_image") if isinstance(frozen.user_attrs.get("per_image"), dict)
                  else None,
                  state="complete" if frozen.state == optuna.trial.TrialState.COMPLETE else "pruned")
            for number, frozen in enumerate(frozen_trials)]


def load_record(directory) -> tuple[list[Trial], Objective, dict]:
    """Trials, objective and signature of a run directory, read-only (no lock, no searcher)."""
    journal = Path(directory) / JOURNAL
    if not journal.exists():
        raise QSearchError(f"{directory}: no qsearch run here ({JOURNAL} missing)")
    storage_study = optuna.load_study(study_name="qsearch", storage=JournalStorage(JournalFileBackend(str(journal))))
    attrs = storage_study.user_attrs
    return _recorded_trials(storage_study), Objective(**attrs["objective"]), attrs["signature"]


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


__all__ = ["Study", "default_objective"]
