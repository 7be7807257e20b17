"""A run's spec: the options of ``qsearch run`` that make the run (images, splits, labels,
held-out images, task, network and its declaration, encoder settings, the searcher, its space
and options, the objective, the budget), recorded in the run folder as ``spec.json`` when the
search starts, so that ``qsearch report RUN`` rebuilds what the run measured and ``qsearch run
--out RUN`` resumes it with no other flag. Each option is recorded as the command line would
give it (paths made absolute) and read back through the same parser, so a value means what it
meant to the run. An option given again wins (a moved folder is found by an explicit flag, never
by guessing); what is rebuilt is still checked against the identity the run recorded."""

from __future__ import annotations

import argparse
from pathlib import Path

from qsearch.cli.options import add_data_arguments, add_held_out_arguments
from qsearch.errors import QSearchError
from qsearch.folders import SPEC
from qsearch.jsonfile import read_json_object

SESSION_OPTIONS = ("out", "quiet", "config", "timeout", "workers", "dask_scheduler", "device",
                   "batch_size")  # fmt: skip
"""What one session chooses (where it writes, how long, on which machine), not the run."""


FILE_NAMES = ("model", "base")
"""Options that take a name or a file (``--model M.onnx``, ``--base FILE.jpg``)."""


def spec_record(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """The spec of ``args``: each of ``parser``'s options not at its default, as command-line
    text (paths absolute), session options left out."""
    given = {}
    for dest, action in _actions(parser).items():
        value = getattr(args, dest, action.default)
        if dest not in SESSION_OPTIONS and value != action.default:
            given[dest] = _text(action, value)
    return {"options": given}


def apply_spec(
    args: argparse.Namespace, folder: Path, parser: argparse.ArgumentParser
) -> list[str]:
    """Fill the options of ``args`` that ``parser`` knows and that the command line did not give
    (``args.given``; else those at their defaults) from ``folder``'s spec (none where the folder
    has no spec: runs written before keep their flags); returns the flags taken."""
    path = Path(folder) / SPEC
    if not path.exists():
        return []
    options = read_json_object(path, "a run spec", str(path)).get("options", {})
    if not isinstance(options, dict):
        raise QSearchError(f"{path}: 'options' is not a JSON object; repair or remove the file")
    actions = _actions(parser)
    taken = [dest for dest in options if dest in actions and _left(args, actions[dest])]
    try:
        parsed = spec_namespace({"options": {dest: options[dest] for dest in taken}}, parser)
    except (argparse.ArgumentError, SystemExit, TypeError):  # a value the parser refuses
        raise QSearchError(
            f"{path}: holds options the command line refuses; repair or remove the file"
        ) from None
    for dest in taken:
        setattr(args, dest, getattr(parsed, dest))
    return [max(actions[dest].option_strings, key=len) for dest in taken]


def _left(args: argparse.Namespace, action: argparse.Action) -> bool:
    """Whether the command line left ``action``'s option to its default (not typed)."""
    typed = getattr(args, "given", None)
    if typed is not None:
        return action.dest not in typed
    return getattr(args, action.dest, None) == action.default


def spec_namespace(spec: dict, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The options ``spec`` records, parsed by ``parser`` as the command line would be (the
    rest at their defaults)."""
    actions, options = _actions(parser), spec.get("options", {})
    return parser.parse_args(
        [token for dest, value in options.items() if dest in actions
         for token in _tokens(actions[dest], value)]
    )  # fmt: skip


def evaluator_parser() -> argparse.ArgumentParser:
    """The options that build a run's evaluators (what ``qsearch report`` takes)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_data_arguments(parser)
    add_held_out_arguments(parser)
    return parser


def _text(action: argparse.Action, value):
    """A value as the command line gives it: a flag's truth, a repeated option's list, or one
    string (a file absolute, several values joined by commas)."""
    if isinstance(value, bool):
        return value
    if isinstance(action, argparse._AppendAction):
        return [_absolute_reference(str(v)) for v in value]
    if isinstance(value, Path) or (action.dest in FILE_NAMES and Path(str(value)).is_file()):
        return str(Path(value).resolve())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _absolute_reference(given: str) -> str:
    """``@FILE`` (a declaration read from a file) names its file absolutely; the rest as given."""
    return "@" + str(Path(given[1:]).resolve()) if given.startswith("@") else given


def _tokens(action: argparse.Action, value) -> list[str]:
    flag = action.option_strings[0]
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, list):
        return [token for each in value for token in (flag, each)]
    return [flag, value]


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings}


__all__ = ["apply_spec", "evaluator_parser", "spec_namespace", "spec_record"]
