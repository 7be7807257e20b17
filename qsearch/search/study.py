"""A study runs a searcher against an evaluator: ask, evaluate (serving repeated tables from
the record), record each trial durably the moment it finishes, tell, until the budget is spent.

The study is handed its record (a :class:`qsearch.search.storage.Storage`: a run folder's
:class:`qsearch.search.journal.Journal`, or an in-memory one). A resumed study rebuilds its
searcher by replaying the recorded asks and tells with the same seed, the recorded tables served
from the record, so the same call after Ctrl-C, a crash or ``kill -9`` continues exactly where
the run stopped and nothing is evaluated twice.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError
from qsearch.search.evaluator import Evaluation
from qsearch.search.front import pareto_front
from qsearch.search.journal import Journal
from qsearch.search.limits import check_limits, room, within
from qsearch.search.metrics import is_pooled, metric_sign, metric_spec, spec_record
from qsearch.search.pruning import BasePruner, Rejection
from qsearch.search.searcher import Searcher
from qsearch.search.space import SPACES, SearchSpace
from qsearch.search.storage import InMemoryStorage, Storage
from qsearch.search.trial import Objective, Trial
from qsearch.search.workers import worker_name
from qsearch.tables.qtable import QTable

log = logging.getLogger(__name__)

STALL_LIMIT = 50  # consecutive asks with nothing new: the searcher has exhausted its space


def default_objective(evaluator) -> Objective:
    """top1 with labels; without, similarity (smooth where top-1 agreement moves in steps of one
    image); the evaluator's first figure otherwise."""
    metrics = evaluator.accuracy_metrics
    preferred = [m for m in ("top1", "similarity") if m in metrics]
    return Objective(metric=preferred[0] if preferred else metrics[0])


class Study:
    """Ask/tell loop with a de-duplicating cache and a record handed to it.

    ``storage`` is a :class:`Storage`, or a folder (its :class:`Journal`: durable, resumable),
    or None (in memory). The study binds ``searcher`` to ``space`` (a :class:`SearchSpace`, a
    space name, or the searcher's default), the evaluator and ``seed``; ``pruner`` (a
    :class:`qsearch.search.pruning.BasePruner`) lets evaluators stop hopeless tables early; ``pool`` (a
    :class:`qsearch.search.workers.EvaluatorPool`: local processes or a Dask cluster) evaluates
    each batch in parallel.
    """

    def __init__(
        self,
        evaluator,
        searcher: Searcher,
        objective: Objective | None = None,
        storage: Storage | Path | str | None = None,
        *,
        space: SearchSpace | str | None = None,
        seed: int | None = 0,
        pruner: BasePruner | None = None,
        pool=None,
    ):
        self.evaluator = evaluator
        self.objective = objective or default_objective(evaluator)
        if self.objective.metric not in evaluator.accuracy_metrics:
            raise QSearchError.about(
                f"{{metric}} {self.objective.metric!r} is not reported by this evaluator "
                f"(choose from {', '.join(evaluator.accuracy_metrics)})"
            )
        self.space = (
            space if isinstance(space, SearchSpace) else SPACES[space or searcher.default_space]()
        )
        self.seed, self.pruner, self.pool = seed, pruner, pool
        self.searcher = searcher.setup(self.space, evaluator, seed)
        self.reference = evaluator.reference
        self.trials: list[Trial] = []
        self._cache: dict[str, Trial] = {}
        self._replayed = False
        self._rivals: tuple = ()
        self._next_number = 0
        self.worker = worker_name()
        self.identity = self._identity()
        self.storage = _storage(storage)
        self.storage.open(self.identity, self.objective)
        self.storage.record_metrics(
            [spec_record(metric_spec(m)) for m in evaluator.accuracy_metrics]
        )
        for trial in self.storage.trials():
            self._remember(trial)
        self._asks = self.storage.asks()  # [n, told] of each ask so far; told None until told
        if self.trials:
            log.info(
                "resuming %s with %d recorded trials", self.storage.directory, len(self.trials)
            )

    @property
    def directory(self) -> Path | None:
        """The folder of the study's record, where it has one."""
        return self.storage.directory

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

    # -- the record ------------------------------------------------------------------------
    def _record(self, trial: Trial) -> None:
        self.storage.add(trial)
        self._remember(trial)

    def _remember(self, trial: Trial) -> None:
        self.trials.append(trial)
        self._cache[trial.qtable.key] = trial
        self._next_number = max(self._next_number, trial.number + 1)  # past a repaired gap too

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

    def _kept_per_image(self, per_image: dict[str, list] | None) -> dict[str, list] | None:
        """What a trial keeps image by image: the objective's accuracy and the bytes (and top-1
        where the objective is another figure, for top-1 operating points); nothing where the
        figure is not a mean over images (PSNR, mAP). Pixels are the image set's, kept with the IJG
        curve."""
        metric = self.objective.metric
        if per_image is None or metric not in per_image or is_pooled(metric):
            return None
        kept = {
            "accuracy": [round(float(v), 6) for v in per_image[metric]],
            "bytes": per_image["bytes"],
        }
        if metric != "top1" and "top1" in per_image:
            kept["top1"] = [int(v) for v in per_image["top1"]]
        return kept

    def _trial(self, qtable: QTable, evaluation: Evaluation, worker: str) -> Trial:
        per_image = self._kept_per_image(evaluation.per_image)
        metrics = {
            k: (float(v) if isinstance(v, (float, np.floating)) else v)
            for k, v in evaluation.items()
        }
        return Trial(
            number=self._next_number,
            qtable=qtable,
            metrics=metrics,
            value=self.objective.scalar(metrics, self.reference),
            values=self.objective.values(metrics),
            searcher=self.searcher.name,
            worker=worker,
            state="pruned" if evaluation.pruned else "complete",
            per_image=per_image,
        )

    def evaluate_batch(
        self, tables: list[QTable], budget: int | None = None, on_record=None, rivals=None
    ) -> list[Trial]:
        """Trials of ``tables`` in order: repeated tables from the record, new ones evaluated
        (in parallel with a pool) and recorded in the order asked, within ``budget``; ``rivals``
        (default: those of the running :meth:`optimize`) are points a table must beat.
        The rejection rule is fixed for the batch, so parallel and serial runs agree."""
        new, told = self._new_within(tables, budget)
        rejection = self._rejection(self._rivals if rivals is None else tuple(rivals))
        if self.pool is None:
            results = (
                (self.evaluator.evaluate(table, rejection, per_image=True), self.worker)
                for table in new.values()
            )
        else:
            results = self.pool.map(list(new.values()), rejection)
        for table, (evaluation, worker) in zip(new.values(), results):
            self._record(self._trial(table, evaluation, worker))
            if on_record is not None:
                on_record()
        return [self._cache[key] for key in told]

    def _new_within(
        self, tables: list[QTable], budget: int | None
    ) -> tuple[dict[str, QTable], list[str]]:
        """The tables not yet recorded (by key) and the keys told, in order, up to the first
        new table past ``budget``."""
        new: dict[str, QTable] = {}
        told = []
        for table in tables:
            if table.key not in self._cache and table.key not in new:
                if budget is not None and len(self.trials) + len(new) >= budget:
                    break
                new[table.key] = table
            told.append(table.key)
        return new, told

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
                self.storage.record_ask(index, n, None)
            told = self.evaluate_batch(tables, budget, on_record)
            self._asks[index][1] = len(told)
            self.storage.record_ask(index, n, len(told))
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
        """Rebuild the searcher's state from the record: the recorded asks and tells, in order."""
        if self._replayed:
            return
        self._replayed = True
        for index, (n, _) in enumerate(list(self._asks)):
            self._step(n, budget, index=index)

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
        check_limits(budget, timeout, batch_size)
        self._rivals = tuple(rivals)
        batch_size = batch_size or max(self.searcher.batch_size, self.pool.size if self.pool else 1)
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress_bar(budget, len(self.trials)) if progress else None
        try:
            self._replay(budget)
            on_record = None if bar is None else (lambda: self._advance(bar))
            self._search(batch_size, budget, deadline, on_record)
        finally:
            if bar is not None:
                bar.close()
        return self.trials

    def _search(
        self, batch_size: int, budget: int | None, deadline: float | None, on_record=None
    ) -> None:
        """Ask, evaluate and tell until the budget or the deadline, or until the searcher has
        proposed only recorded tables :data:`STALL_LIMIT` times in a row."""
        stalled = 0
        while within(budget, len(self.trials), deadline) and stalled < STALL_LIMIT:
            before = len(self.trials)
            self._step(room(batch_size, budget, before), budget, on_record)
            stalled = stalled + 1 if len(self.trials) == before else 0
        if stalled >= STALL_LIMIT:
            log.warning(
                "%s proposed only evaluated tables %d times in a row: stopped early",
                self.searcher.name,
                STALL_LIMIT,
            )

    def _advance(self, bar) -> None:
        bar.update(len(self.trials) - bar.n)
        bar.set_postfix_str(self._best_summary(), refresh=False)

    def _best_summary(self) -> str:
        """The front's size and the objective's pick (the fewest bits at the accuracy floor: its
        accuracy falls as cheaper tables at the floor are found, so it is named as such)."""
        best = min(self.trials, key=lambda t: t.value)
        seconds = np.mean([t.metrics.get("seconds", np.nan) for t in self.trials[-10:]])
        return (
            f"front {len(self.front())}, cheapest at the floor {self.objective.metric}="
            f"{best.metrics[self.objective.metric]:.3f} @{best.metrics[self.objective.rate]:.3f} "
            f"{self.objective.rate}, {seconds:.2f}s/trial"
        )

    def front(self) -> list[Trial]:
        """The non-dominated complete trials by (rate, accuracy), in increasing rate."""
        return pareto_front(self.trials, self.objective.metric, self.objective.rate)

    def close(self) -> None:
        """Release the record (a run folder's lock)."""
        self.storage.close()


def _storage(storage: Storage | Path | str | None) -> Storage:
    if storage is None:
        return InMemoryStorage()
    return storage if isinstance(storage, Storage) else Journal(storage)


def _progress_bar(budget, done):
    from tqdm import tqdm

    return tqdm(
        total=budget, initial=done, unit="trial", desc="search", dynamic_ncols=True, disable=None
    )


__all__ = ["Study", "default_objective"]
