"""``qsearch list``: every searcher, evaluator, search space and codec."""

from __future__ import annotations

import logging

from qsearch.errors import QSearchError

log = logging.getLogger("qsearch")

NAME = "list"
HELP = "list searchers, evaluators and search spaces"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch list``."""
    return


def run(args) -> int:
    """Every searcher, evaluator, search space and codec, with what it is."""
    from qsearch.codecs.encoders import ENCODERS
    from qsearch.search.evaluator import EVALUATORS
    from qsearch.search.searcher import SEARCHERS
    from qsearch.search.space import SPACES

    for title, registry in (
        ("searchers", SEARCHERS),
        ("evaluators", EVALUATORS),
        ("spaces", SPACES),
    ):
        print(f"{title}:")
        for name, description in registry.describe():
            print(f"  {name:<12} {description}")
    print("codecs (--codec):")
    for name, encoder in ENCODERS.items():
        try:
            encoder.available()
            state = encoder.version()
        except QSearchError as error:
            state = str(error)
        kind = "a table" if encoder.takes_tables else "a quality"
        print(f"  {name:<12} takes {kind}; {state}")
    return 0
