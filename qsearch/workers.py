"""Parallel evaluation in worker processes: each worker builds its evaluator (model and
prepared images) once, then scores the tables a study sends it."""
from __future__ import annotations

import multiprocessing
import os
import platform
from concurrent.futures import ProcessPoolExecutor

_evaluator = None


def worker_name() -> str:
    return f"{platform.node()}:{os.getpid()}"


def _initialise(factory, threads: int) -> None:
    global _evaluator
    import torch

    torch.set_num_threads(threads)
    _evaluator = factory()


def evaluate_in_worker(qtable, rejection=None):
    """(metrics, worker name) of one table, by this process's evaluator."""
    return _evaluator.evaluate(qtable, rejection), worker_name()


def process_pool(factory, workers: int) -> ProcessPoolExecutor:
    """``workers`` processes, each calling ``factory()`` (picklable, e.g. a functools.partial)
    once to build its evaluator; the machine's cores are shared out between them."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_initialise, initargs=(factory, threads))
