"""A study runs a searcher against an evaluator: ask, evaluate (serving repeated tables from
the record), record each trial durably the moment it finishes, tell, until the budget is spent.

With a run directory the record is a :class:`qsearch.search.journal.Journal`. A resumed study
rebuilds its searcher by replaying the recorded asks and tells with the same seed, the recorded
tables served from the record, so the same call after Ctrl-C, a crash or ``kill -9`` continues
exactly where the run stopped and nothing is evaluated twice.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from qsearch.errors import QSearchError
from qsearch.report.pareto import non_dominated
from qsearch.search.evaluator import Evaluation
from qsearch.search.journal import Journal
from qsearch.search.pruning import Pruner, Rejection
from qsearch.search.searcher import Searcher
from qsearch.search.space import SPACES, SearchSpace
from qsearch.search.trial import Objective, Trial, metric_sign
from qsearch.search.workers import worker_name
from qsearch.tables.qtable import QTable

log = logging.getLogger(__name__)

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
    evaluators stop hopeless tables early; ``pool`` (a :class:`qsearch.search.workers.EvaluatorPool`:
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
        self._next_number = 0
        self.worker = worker_name()
        self.identity = self._identity()
        self.directory = Path(directory) if directory is not None else None
        self.journal: Journal | None = None
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
        self.journal = Journal(directory, self.identity, self.objective)
        for trial in self.journal.trials():
            self._remember(trial)
        self._asks = self.journal.asks()
        if self.journal.before_asks():
            self.journal.close()
            raise QSearchError(
                f"{directory}: recorded by qsearch 0.1, before runs kept their asks: it can be "
                "read and exported (qsearch front), not resumed; use a new --out"
            )
        if self.trials:
            log.info("resuming %s with %d recorded trials", directory, len(self.trials))

    def _record(self, trial: Trial) -> None:
        if self.journal is not None:
            self.journal.add(trial)
        self._remember(trial)

    def _remember(self, trial: Trial) -> None:
        self.trials.append(trial)
        self._cache[trial.qtable.key] = trial
        self._next_number = max(self._next_number, trial.number + 1)  # past a repaired gap too

    def _record_ask(self, index: int, n: int, told: int | None) -> None:
        if self.journal is not None:
            self.journal.record_ask(index, n, told)

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

    def _trial(self, qtable: QTable, evaluation: Evaluation, worker: str) -> Trial:
        per_image = evaluation.per_image
        if per_image is not None and self.objective.metric not in per_image:
            per_image = None  # e.g. PSNR: one figure over all pixels, no paired comparisons
        if per_image is not None:
            kept = {
                "accuracy": [round(float(v), 6) for v in per_image[self.objective.metric]],
                "bytes": per_image["bytes"],
            }  # pixels are the image set's: kept with the IJG curve
            if self.objective.metric != "top1" and "top1" in per_image:
                kept["top1"] = [int(v) for v in per_image["top1"]]  # top-1 operating points
            per_image = kept
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
        for table, (evaluation, worker) in zip(new.values(), results):
            self._record(self._trial(table, evaluation, worker))
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
        if self.journal is not None:
            self.journal.close()


def _progress_bar(budget, done):
    from tqdm import tqdm

    return tqdm(total=budget, initial=done, unit="trial", desc="search", dynamic_ncols=True)


__all__ = ["Study", "default_objective"]
