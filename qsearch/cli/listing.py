"""``qsearch list``: every searcher, evaluator (with its metrics), task, search space and
codec."""

from __future__ import annotations

import json

from qsearch.errors import QSearchError

NAME = "list"
HELP = "list searchers, evaluators and their metrics, tasks, search spaces and codecs"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch list``."""
    return


def run(args) -> int:
    """Every searcher, evaluator, task, search space and codec, with what it is."""
    from qsearch.codecs.encoders import ENCODERS
    from qsearch.search.evaluator import EVALUATORS
    from qsearch.search.searcher import SEARCHERS
    from qsearch.search.space import SPACES
    from qsearch.tasks.task import TASKS

    print("searchers (--searcher; options: --option KEY=VALUE):")
    for name, description in SEARCHERS.describe():
        print(f"  {name:<12} {description}")
        for line in option_lines(SEARCHERS[name]):
            print(f"  {'':<12}   {line}")
    print("evaluators (--evaluator; the metrics each reports):")
    for name, description in EVALUATORS.describe():
        print(f"  {name:<12} {description}")
        for spec in EVALUATORS[name].metric_specs:
            print(f"  {'':<12}   {metric_line(spec)}")
    for title, registry in (("tasks (--task)", TASKS), ("spaces", SPACES)):
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
    return [
        f"{name}={json.dumps(option.default)}: {option.describe()}; {option.help}"
        for name, option in searcher_class.options.items()
    ]


def metric_line(spec) -> str:
    """One metric: its name, direction, bounds, scale and pooling, and what it is."""
    traits = ["higher is better" if spec.higher_is_better else "lower is better"]
    if spec.bounds is not None:
        traits.append(f"in [{spec.bounds[0]:g}, {spec.bounds[1]:g}]")
    traits += ["log scale"] * spec.log_scale + ["pooled over images"] * (spec.pooled is not None)
    return f"{spec.name}: {spec.description} ({', '.join(traits)})"
