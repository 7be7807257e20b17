"""qsearch: search JPEG quantization tables for machine vision.

The top-level names are imported on first use, so ``import qsearch`` stays light: no torch,
optuna or pymoo until a network, a study or a searcher is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0"

_EXPORTS = {
    "Codec": "qsearch.codec",
    "EncoderSettings": "qsearch.codec",
    "QSearchError": "qsearch.errors",
    "QTable": "qsearch.qtable",
    "Study": "qsearch.study",
    "Objective": "qsearch.trial",
    "Trial": "qsearch.trial",
    "Pruner": "qsearch.pruning",
    "Run": "qsearch.runs",
    "run": "qsearch.runs",
    "Searcher": "qsearch.searcher",
    "Evaluator": "qsearch.evaluator",
    "SearchSpace": "qsearch.space",
    "make_searcher": "qsearch.searcher",
    "make_space": "qsearch.space",
}
__all__ = [
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
    "make_searcher",
    "make_space",
    "run",
]

if TYPE_CHECKING:
    from qsearch.codec import Codec, EncoderSettings
    from qsearch.errors import QSearchError
    from qsearch.evaluator import Evaluator
    from qsearch.pruning import Pruner
    from qsearch.qtable import QTable
    from qsearch.runs import Run, run
    from qsearch.searcher import Searcher, make_searcher
    from qsearch.space import SearchSpace, make_space
    from qsearch.study import Study
    from qsearch.trial import Objective, Trial


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qsearch' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
