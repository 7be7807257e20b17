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
from qsearch.search.journal import JOURNAL
from qsearch.search.study import Study
from qsearch.search.trial import Objective


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
) -> Run:
    """Search tables with ``searcher`` on ``evaluator``'s images, recorded in ``directory``
    (the same call resumes it), then judge the front on ``test_evaluator``'s images, which must
    share none with the searched ones. Returns the run, exported, its ``report.html`` written."""
    directory = Path(directory)
    check_output_folder(directory, JOURNAL, "qsearch run")
    if test_evaluator is not None:
        held_out = test_evaluator.images
        check_held_out(evaluator.images.digests, held_out.digests, held_out.names)
    study = Study(
        evaluator, searcher, objective, directory, space=space, seed=seed, pruner=pruner, pool=pool
    )
    try:
        ijg = cached_frame(
            directory / IJG_SEARCH,
            lambda: sweep(evaluator, progress=progress, label="IJG, searched images"),
        )
        rivals = rival_points(ijg, study.objective.metric, study.objective.rate)
        study.optimize(budget, timeout, tables_per_ask, progress=progress, rivals=rivals)
        references = {"search": evaluator.reference or {}}
        per_image = {"search": getattr(evaluator, "reference_per_image", None)}
        if test_evaluator is not None:
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
            references["test"] = test_evaluator.reference or {}
            per_image["test"] = getattr(test_evaluator, "reference_per_image", None)
        references["per_image"] = {k: v for k, v in per_image.items() if v is not None}
        references["identity"] = {"search": evaluator.identity()}
        if test_evaluator is not None:
            references["identity"]["test"] = test_evaluator.identity()
        write_text(directory / REFERENCE, json.dumps(references))
        finished = Run(directory)
        finished.export()
        finished.report(evaluator if test_evaluator is None else test_evaluator)
    finally:
        study.close()
    return finished


__all__ = ["run"]
