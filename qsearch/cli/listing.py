"""``qsearch list``: every searcher, evaluator, search space and codec."""

from __future__ import annotations

import inspect
import json

from qsearch.errors import QSearchError

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

    print("searchers (--searcher; options: --option KEY=VALUE):")
    for name, description in SEARCHERS.describe():
        print(f"  {name:<12} {description}")
        for line in option_lines(SEARCHERS[name]):
            print(f"  {'':<12}   {line}")
    for title, registry in (("evaluators", EVALUATORS), ("spaces", SPACES)):
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


def option_lines(searcher_class) -> list[str]:
    """One line per declared option: name=default, what it takes, what it does."""
    defaults = {p.name: p.default for p in inspect.signature(searcher_class).parameters.values()}
    return [
        f"{name}={json.dumps(defaults.get(name))}: {option.describe()}; {option.help}"
        for name, option in searcher_class.options.items()
    ]
