"""A run in the API: :func:`run` does what ``qsearch run`` does (the IJG curve on the same
images, the search, the front re-scored on a held-out split, the uncompressed figures, every
export) and returns the :class:`~qsearch.report.runs.Run` that reads the folder back.

One function and one reader, rather than a ``Study`` subclass: the study is the ask/tell loop
and knows nothing of IJG curves or held-out images, and a finished folder must be readable
without rebuilding a searcher or loading a network. The command line translates its
arguments to these calls, so a notebook gets exactly what the files say.
"""

from __future__ import annotations

import json
from pathlib import Path

from qsearch.atomic import check_output_folder, write_text
from qsearch.errors import QSearchError
from qsearch.folders import SPEC
from qsearch.images.splits import check_held_out
from qsearch.report.curves import (
    IJG_SEARCH,
    IJG_TEST,
    REFERENCE,
    TEST_SCORES,
    cached_frame,
    rescore,
    rival_points,
    sweep,
)
from qsearch.report.runs import Run
from qsearch.search.evaluator import Evaluator
from qsearch.search.journal import JOURNAL
from qsearch.search.limits import check_limits
from qsearch.search.searcher import Searcher, make_searcher
from qsearch.search.study import Study
from qsearch.search.trial import Objective


def _checked(evaluator, searcher, budget, timeout, tables_per_ask):
    """The searcher (made from its registered name where one is given), once the arguments are
    checked: nothing is written before a bad one is refused in one line."""
    if not isinstance(evaluator, Evaluator):
        raise QSearchError(f"evaluator {evaluator!r} is not a qsearch Evaluator")
    check_limits(budget, timeout, tables_per_ask)
    if isinstance(searcher, str):
        searcher = make_searcher(searcher)
    if not isinstance(searcher, Searcher):
        raise QSearchError(f"searcher {searcher!r} is neither a Searcher nor a registered name")
    return searcher


def run(
    evaluator,
    searcher,
    directory,
    *,
    objective: Objective | None = None,
    space=None,
    seed: int | None = 0,
    budget: int | None = None,
    timeout: float | None = None,
    test_evaluator=None,
    pruner=None,
    pool=None,
    tables_per_ask: int | None = None,
    progress: bool = False,
    spec: dict | None = None,
) -> Run:
    """Search tables with ``searcher`` on ``evaluator``'s images, recorded in ``directory``
    (the same call resumes it), then judge the front on ``test_evaluator``'s images, which must
    share none with the searched ones. Returns the run, exported, its ``report.html`` written.
    ``spec``, the options that make the run (the command line's), is recorded as ``spec.json``
    once the search holds the folder."""
    searcher = _checked(evaluator, searcher, budget, timeout, tables_per_ask)
    directory = Path(directory)
    check_output_folder(directory, JOURNAL, "qsearch run")
    if test_evaluator is not None:
        held_out = test_evaluator.images
        check_held_out(evaluator.images.digests, held_out.digests, held_out.names)
    study = Study(
        evaluator, searcher, objective, directory, space=space, seed=seed, pruner=pruner, pool=pool
    )
    try:
        if spec is not None:
            write_text(directory / SPEC, json.dumps(spec, indent=1) + "\n")
        ijg = cached_frame(
            directory / IJG_SEARCH,
            lambda: sweep(evaluator, progress=progress, label="IJG, searched images"),
        )
        rivals = rival_points(ijg, study.objective.metric, study.objective.rate)
        study.optimize(budget, timeout, tables_per_ask, progress=progress, rivals=rivals)
        if test_evaluator is not None:
            _judge_held_out(test_evaluator, study, directory, progress)
        write_text(directory / REFERENCE, json.dumps(_references(evaluator, test_evaluator)))
        finished = Run(directory)
        finished.export()
        finished.report(evaluator if test_evaluator is None else test_evaluator)
    finally:
        study.close()
    return finished


def _judge_held_out(test_evaluator, study: Study, directory: Path, progress: bool) -> None:
    """The front's tables and the IJG curve on the held-out images (each kept once done)."""
    rescore(
        test_evaluator,
        {t.qtable.key: t.qtable for t in study.front()},
        directory / TEST_SCORES,
        progress=progress,
    )
    cached_frame(
        directory / IJG_TEST,
        lambda: sweep(test_evaluator, progress=progress, label="IJG, held-out images"),
    )


def _references(evaluator, test_evaluator) -> dict:
    """The uncompressed figures of each judged image set, per image where its evaluator keeps
    them, and its identity (what report crops are checked against)."""
    sides = {"search": evaluator}
    if test_evaluator is not None:
        sides["test"] = test_evaluator
    per_image = {k: getattr(e, "reference_per_image", None) for k, e in sides.items()}
    return {
        **{k: e.reference or {} for k, e in sides.items()},
        "per_image": {k: v for k, v in per_image.items() if v is not None},
        "identity": {k: e.identity() for k, e in sides.items()},
    }


__all__ = ["run"]
