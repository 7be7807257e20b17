"""A run's spec: the options that build its evaluators (images, splits, labels, held-out
images, task, network and its declaration, encoder settings), written by ``qsearch run`` into
the run folder as ``spec.json``, so that ``qsearch report RUN`` rebuilds what the run measured
with no flag. Each option is recorded as the command line would give it (paths made absolute)
and read back through the same parser, so a value means what it meant to the run. An option
given again wins (a moved folder is found by an explicit flag, never by guessing); the
evaluator rebuilt is still checked against the identity the run recorded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qsearch.atomic import write_text
from qsearch.cli.options import add_data_arguments, add_held_out_arguments
from qsearch.jsonfile import read_json_object

SPEC = "spec.json"

MACHINE_OPTIONS = ("device", "batch_size")
"""Where and how fast the network runs, which the machine that reports chooses."""


def write_spec(args: argparse.Namespace, folder: Path) -> Path:
    """Record ``args``' evaluator options in ``folder/spec.json``."""
    spec = {"options": {dest: value for dest, value in _given(args).items()}}
    path = Path(folder) / SPEC
    write_text(path, json.dumps(spec, indent=1) + "\n")
    return path


def apply_spec(args: argparse.Namespace, folder: Path) -> list[str]:
    """Fill the options of ``args`` left at their defaults from ``folder``'s spec (none where
    the run has no spec: runs written before keep their flags); returns the options taken."""
    path = Path(folder) / SPEC
    if not path.exists():
        return []
    options = read_json_object(path, "a run spec", str(path)).get("options", {})
    actions = _actions()
    taken = [
        dest for dest in options
        if dest in actions and getattr(args, dest, None) == actions[dest].default
    ]  # fmt: skip
    parsed = _parser().parse_args(
        [token for dest in taken for token in _tokens(actions[dest], options[dest])]
    )
    for dest in taken:
        setattr(args, dest, getattr(parsed, dest))
    return taken


def _given(args: argparse.Namespace) -> dict[str, object]:
    """Each evaluator option not at its default, as command-line text (paths absolute)."""
    given = {}
    for dest, action in _actions().items():
        value = getattr(args, dest, action.default)
        if dest not in MACHINE_OPTIONS and value != action.default:
            given[dest] = _text(dest, value)
    return given


def _text(dest: str, value):
    """A value as the command line gives it: a flag's truth, a list, or one string."""
    if isinstance(value, bool):
        return value
    if dest == "declare":
        return [_absolute_reference(str(v)) for v in value]
    if isinstance(value, Path) or (dest == "model" and Path(str(value)).is_file()):
        return str(Path(value).resolve())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _absolute_reference(declaration: str) -> str:
    """``@FILE`` declarations name their file absolutely; inline ones stay as given."""
    return (
        "@" + str(Path(declaration[1:]).resolve()) if declaration.startswith("@") else declaration
    )


def _tokens(action: argparse.Action, value) -> list[str]:
    flag = action.option_strings[0]
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, list):
        return [token for each in value for token in (flag, each)]
    return [flag, value]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    add_data_arguments(parser)
    add_held_out_arguments(parser)
    return parser


def _actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in _parser()._actions if a.option_strings}


__all__ = ["SPEC", "apply_spec", "write_spec"]
