"""Evaluation on other processes or machines through any concurrent.futures-style executor
(a local process pool, or a Dask cluster's executor). Each worker process builds its
evaluator (model and prepared images) once, from a picklable factory, and keeps it."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle

_evaluators: dict[str, Any] = {}


def worker_name() -> str:
    """host:pid, recorded with each trial."""
    return f"{platform.node()}:{os.getpid()}"


def built(factory, token: str):
    """This process's evaluator for ``token``, built by ``factory`` the first time."""
    if token not in _evaluators:
        _evaluators[token] = factory()
    return _evaluators[token]


def evaluate_cached(factory, token: str, qtable, rejection=None):
    """(metrics, worker name) of one table, by this process's evaluator for ``token``."""
    return built(factory, token).evaluate(qtable, rejection, per_image=True), worker_name()


def apply_cached(factory, token: str, function, item):
    """``function(evaluator, item)`` with this process's evaluator for ``token``."""
    return function(built(factory, token), item)


class EvaluatorPool:
    """Tables in, (metrics, worker) out, in order, evaluated on ``executor``'s workers."""

    def __init__(self, executor, factory, size=None):
        self.executor = executor
        self.factory = factory
        self.token = hashlib.sha256(cloudpickle.dumps(factory)).hexdigest()[:16]
        self._size = size

    @property
    def size(self) -> int:
        """How many tables the pool evaluates at once (Dask: the workers connected now)."""
        return self._size() if callable(self._size) else self._size or 1

    def map(self, tables: list, rejection=None):
        """(metrics, worker) of each table, in order."""
        count = len(tables)  # sized arguments: Dask's map needs them
        return self.executor.map(
            evaluate_cached,
            [self.factory] * count,
            [self.token] * count,
            tables,
            [rejection] * count,
        )

    def each(self, function, items: list):
        """``function(a worker's evaluator, item)`` of each item, in order (``function`` a
        module-level function: it travels by name)."""
        count = len(items)
        return self.executor.map(
            apply_cached, [self.factory] * count, [self.token] * count, [function] * count, items
        )

    def shutdown(self) -> None:
        """Stop the workers."""
        self.executor.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.shutdown()


def _start_worker(threads: int, counter) -> None:
    """Give a new worker its share of the cores and, on a machine with several GPUs, its own GPU
    (worker i on GPU i mod count: ``cuda`` then means that one)."""
    import torch

    torch.set_num_threads(threads)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if torch.cuda.is_available():
        torch.cuda.set_device(index % torch.cuda.device_count())


def process_pool(factory, workers: int) -> EvaluatorPool:
    """``workers`` local processes sharing out the machine's cores, and its GPUs."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(threads, context.Value("i", 0)),
    )
    return EvaluatorPool(executor, factory, size=workers)


def dask_pool(address: str, factory) -> EvaluatorPool:
    """The workers of the Dask scheduler at ``address``. Dask re-runs the tasks of a worker
    that dies on another one; the study records each result once, in order."""
    try:
        from distributed import Client
    except ImportError:
        from qsearch.errors import QSearchError

        raise QSearchError(
            "--dask-scheduler needs dask.distributed: pip install 'qsearch[dask]'"
        ) from None
    client = Client(address, timeout="30s")
    return EvaluatorPool(
        _ClosingExecutor(client),
        factory,
        size=lambda: max(1, len(client.scheduler_info()["workers"])),
    )


class _ClosingExecutor:
    """Dask's executor, closing its client on shutdown."""

    def __init__(self, client):
        self.client = client
        self._executor = client.get_executor(pure=False)

    def map(self, fn, *iterables):
        return self._executor.map(fn, *iterables)

    def shutdown(self) -> None:
        self._executor.shutdown()
        self.client.close()
