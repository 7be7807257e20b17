"""Argument types and the TOML config: every value is checked (type, range, choice) before
any model loads or any file is written, by the same rules on the command line and in a
config file, and a bad one is one line naming the option and the value."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from qsearch.errors import QSearchError


class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line that names the culprit and says where help is."""

    def error(self, message: str) -> NoReturn:
        """Raise the message as one line instead of argparse's usage block."""
        raise QSearchError(f"{message} (see `{self.prog} --help`)")


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A type for whole numbers in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"in {low}..{high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is not {bound}")
        return value

    parse.__name__ = "whole number"
    return parse


def resize_mode(text: str) -> int | str:
    """``--resize``: a short side before a centre crop (a whole number of pixels, at least 8)
    or one of the other resize modes of :data:`qsearch.images.RESIZES`."""
    from qsearch.images import RESIZES

    if text in RESIZES[1:]:
        return text
    try:
        return whole(8)(text)
    except argparse.ArgumentTypeError:
        modes = ", ".join(RESIZES[1:])
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a short side in pixels (at least 8) nor one of {modes}"
        ) from None


def number(low: float | None = None, above: float | None = None) -> Callable[[str], float]:
    """A type for finite numbers, at least ``low`` or strictly above ``above``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{value:g} is below {low:g}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"{value:g} must be above {above:g}")
        return value

    parse.__name__ = "number"
    return parse


def add_target(parser: argparse.ArgumentParser, help: str) -> None:
    """``--target FRACTION``: a share of the uncompressed accuracy (e.g. 0.98)."""
    parser.add_argument("--target", type=number(above=0), metavar="FRACTION", help=help)


def triple(text: str) -> tuple[float, float, float]:
    """R,G,B: three numbers (a normalisation's mean or standard deviation)."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not three numbers R,G,B") from None
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not three numbers R,G,B")
    return values[0], values[1], values[2]


triple.__name__ = "R,G,B"


def names_list(text: str) -> list[str]:
    """A,B,C: two or more distinct names (no empty one)."""
    names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not two or more distinct names A,B")
    return names


names_list.__name__ = "A,B"


def quality_list(text: str) -> tuple[int, ...]:
    """Q,Q,...: two or more rising qualities in 1..100."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers") from None
    if (
        len(values) < 2
        or list(values) != sorted(set(values))
        or not 1 <= values[0] <= values[-1] <= 100
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not two or more rising qualities in 1..100")
    return values


quality_list.__name__ = "Q,Q,..."


def given_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, str]:
    """dest -> flag of every option of ``parser`` the user gave (typed, or said by a config
    file: ``args.given``; without that record, every option whose value is not its default)."""
    typed = getattr(args, "given", None)
    found = {}
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            value = getattr(args, action.dest, action.default)
            if action.dest in typed if typed is not None else value != action.default:
                found[action.dest] = max(action.option_strings, key=len)
    return found


def refuse_unused(args: argparse.Namespace, parser: argparse.ArgumentParser, unused) -> None:
    """One line for the first option given that does nothing in the command as given
    (``unused(args)``: dest -> why), before any work."""
    reasons = unused(args)
    for dest, flag in given_options(args, parser).items():
        if dest in reasons:
            raise QSearchError(f"{flag} has no effect here: {reasons[dest]}")


def writable_folder(path: Path) -> Path:
    """Check that a run or output folder can be created or written, without writing anything."""
    if path.exists() and not path.is_dir():
        raise QSearchError(f"--out {path}: is a file, not a folder")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    try:  # a probe that leaves nothing behind (os.access says yes to root even where writes fail)
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise QSearchError(f"--out {path}: cannot write in {existing} ({error.strerror})") from None
    return path


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` searcher options; a value is JSON when it parses as JSON (numbers,
    lists, true/false), else a string."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise QSearchError(f"--option {pair!r} is not KEY=VALUE")
        try:
            options[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            options[key.replace("-", "_")] = value
    return options


def apply_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` TOML file supplies defaults that the command line overrides,
    each value checked as strictly as on the command line (no 4.9 for 4, no "false" for false)."""
    args = parser.parse_args(argv)
    args.given = typed_options(parser, sys.argv[1:] if argv is None else argv, args.command)
    if getattr(args, "config", None) is None:
        return args
    try:
        config = tomllib.loads(args.config.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise QSearchError(f"{args.config}: not a readable TOML file ({error})") from None
    subparser = _subparser(parser, args.command)
    known = {action.dest: action for action in subparser._actions}
    defaults = {}
    for key, value in config.items():
        dest = key.replace("-", "_")
        if dest not in known or dest in ("help", "config"):
            raise QSearchError(f"{args.config}: unknown option {key!r}")
        defaults[dest] = _config_value(args.config, key, value, known[dest])
    subparser.set_defaults(**defaults)
    given = args.given | set(defaults)
    args = parser.parse_args(argv)
    args.given = given
    return args


def typed_options(parser: argparse.ArgumentParser, argv: list[str], command: str) -> frozenset[str]:
    """The options of ``command`` that ``argv`` gives explicitly (a default typed out
    included), told apart from those left at their defaults: the command's options are parsed
    again over a namespace holding a marker (None for options that gather several values)."""
    unset = object()
    subparser = _subparser(parser, command)
    actions = [a for a in subparser._actions if a.option_strings]
    gathering = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction)
    start = {a.dest: None if isinstance(a, gathering) else unset for a in actions}
    begin = argv.index(command) + 1 if command in argv else 0
    found = subparser.parse_args(argv[begin:], argparse.Namespace(**start))
    return frozenset(d for d, marker in start.items() if getattr(found, d) is not marker)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise QSearchError(f"no subcommand {command!r}")


def _config_value(path: Path, key: str, value: Any, action: argparse.Action) -> Any:
    """One config value, converted by the option's own type after a strict type check."""
    where = f"{path}: {key} = {value!r}"
    if action.nargs == 0:  # a switch
        if not isinstance(value, bool):
            raise QSearchError(f"{where} must be true or false")
        return value
    if isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*"):
        if not isinstance(value, list):
            raise QSearchError(f'{where} must be a list, e.g. {key} = ["..."]')
        return [_scalar(where, item, action) for item in value]
    return _scalar(where, value, action)


_TOML_TYPES: dict[str, tuple[type, ...]] = {"whole number": (int,), "number": (int, float)}
"""The TOML value types an option's type accepts (text for every other option)."""


def _scalar(where: str, value: Any, action: argparse.Action) -> Any:
    kind = getattr(action.type, "__name__", "")
    if isinstance(value, (bool, list, dict)):
        raise QSearchError(f"{where} is not a single {kind or 'text'} value")
    if not isinstance(value, _TOML_TYPES.get(kind, (str,))):
        raise QSearchError(f"{where} is not {'a ' + kind if kind in _TOML_TYPES else 'text'}")
    try:
        converted = action.type(str(value)) if callable(action.type) else value
    except argparse.ArgumentTypeError as error:
        raise QSearchError(f"{where}: {error}") from None
    if action.choices is not None and converted not in action.choices:
        raise QSearchError(f"{where} is not one of {', '.join(map(str, action.choices))}")
    return converted
