"""``qsearch list``: every searcher, evaluator (with its metrics), task, search space, codec
and model format."""

from __future__ import annotations

import json

from qsearch.errors import QSearchError

NAME = "list"
HELP = "list searchers, evaluators and their metrics, tasks, search spaces, codecs, model formats"


def add_arguments(parser) -> None:
    """The arguments of ``qsearch list``."""
    return


def run(args) -> int:
    """Every searcher, evaluator, task, search space, codec and model format, with what it is."""
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
    _print_codecs()
    _print_model_formats()
    return 0


def _print_codecs() -> None:
    from qsearch.codecs.encoders import ENCODERS

    print("codecs (--codec):")
    for name, encoder in ENCODERS.items():
        try:
            encoder.available()
            state = encoder.version()
        except QSearchError as error:
            state = str(error)
        kind = "a table" if encoder.takes_tables else "a quality"
        print(f"  {name:<12} takes {kind}; {state}")


def _print_model_formats() -> None:
    from qsearch.models.runtime import FORMATS
    from qsearch.registry import first_sentence

    print("model formats (--model FILE):")
    for name, found in FORMATS.items():
        learns = "adapt trains it" if found.trains else "run as it is, not adapted"
        print(f"  {name:<12} {', '.join(found.suffixes)}; {learns}; {first_sentence(found.__doc__)}")


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
