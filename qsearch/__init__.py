"""qsearch: search JPEG quantization tables for machine vision.

The top-level names are imported on first use, so ``import qsearch`` stays light: no torch,
optuna or pymoo until a network, a study or a searcher is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0"

_EXPORTS = {
    "Codec": "qsearch.codecs.codec",
    "EncoderSettings": "qsearch.codecs.codec",
    "QSearchError": "qsearch.errors",
    "QTable": "qsearch.tables.qtable",
    "Study": "qsearch.search.study",
    "Objective": "qsearch.search.trial",
    "Trial": "qsearch.search.trial",
    "Pruner": "qsearch.search.pruning",
    "Run": "qsearch.report.runs",
    "run": "qsearch.experiment",
    "Searcher": "qsearch.search.searcher",
    "Evaluator": "qsearch.search.evaluator",
    "SearchSpace": "qsearch.search.space",
    "make_searcher": "qsearch.search.searcher",
    "make_space": "qsearch.search.space",
    "Baseline": "qsearch.report.baseline",
    "baseline": "qsearch.report.baseline",
    "compress": "qsearch.codecs.compress",
}
__all__ = [
    "Baseline",
    "Codec",
    "EncoderSettings",
    "Evaluator",
    "Objective",
    "Pruner",
    "QSearchError",
    "QTable",
    "Run",
    "SearchSpace",
    "Searcher",
    "Study",
    "Trial",
    "baseline",
    "compress",
    "make_searcher",
    "make_space",
    "run",
]

if TYPE_CHECKING:
    from qsearch.codecs.codec import Codec, EncoderSettings
    from qsearch.codecs.compress import compress
    from qsearch.errors import QSearchError
    from qsearch.experiment import run
    from qsearch.report.baseline import Baseline, baseline
    from qsearch.report.runs import Run
    from qsearch.search.evaluator import Evaluator
    from qsearch.search.pruning import Pruner
    from qsearch.search.searcher import Searcher, make_searcher
    from qsearch.search.space import SearchSpace, make_space
    from qsearch.search.study import Study
    from qsearch.search.trial import Objective, Trial
    from qsearch.tables.qtable import QTable


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qsearch' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
