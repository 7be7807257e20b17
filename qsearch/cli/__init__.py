"""The ``qsearch`` command. ``main(argv)`` is what the console script and the tests call; it
returns the exit status and never lets a traceback reach the user (an unexpected error is one
line and the path of a log file holding the traceback). Each command is a module of this
package with its ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args)``: a thin
translation of flags into the library function that does the work."""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

from qsearch import __version__
from qsearch.cli import (
    adapt,
    baseline,
    cache,
    compress,
    evaluate,
    export,
    front,
    inspect,
    listing,
    model,
    repair,
    report,
    run,
)
from qsearch.cli.arguments import Parser, apply_config, refuse_unused
from qsearch.errors import QSearchError

COMMANDS = (
    evaluate,
    baseline,
    run,
    front,
    report,
    adapt,
    listing,
    compress,
    export,
    inspect,
    model,
    cache,
    repair,
)
ALIASES = {"relative": "--absolute-floor", "z": "--rejection-z"}
"""Library parameters whose flag is not their name (the rest are found in the parser)."""


def build_parser() -> Parser:
    """The whole command line: every argument of every subcommand documented."""
    parser = Parser(
        prog="qsearch", description="Search JPEG quantization tables for machine vision."
    )
    parser.add_argument("--version", action="version", version=f"qsearch {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what qsearch does (INFO level)"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    for command in COMMANDS:
        subparser = commands.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(subparser)
        subparser.set_defaults(func=command.run)
    return parser


def flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Library parameter -> the flag that sets it, so that errors name what the user typed."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                found.update(flags(subparser))
        elif action.option_strings:
            found.setdefault(action.dest, max(action.option_strings, key=len))
    return {**found, **ALIASES}


def print_error(message: str) -> None:
    """The one line a user sees for a bad input."""
    print(f"qsearch: error: {message}", file=sys.stderr)


def _log_internal_error(error: BaseException) -> Path:
    folder = Path(tempfile.gettempdir()) / "qsearch-logs"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"error-{stamp}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(error)))
    return path


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on a bad input, 1 on an internal error, 130 on Ctrl-C."""
    parser = build_parser()
    try:
        args = apply_config(parser, argv)
    except QSearchError as error:
        print_error(str(error))
        return 2
    except SystemExit as leaving:  # --help, --version
        return int(leaving.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="qsearch: %(levelname)s: %(message)s",
        force=True,
    )
    return _execute(args, parser)


def _execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The command's exit status; every failure one line (a traceback only in a log file)."""
    try:
        _refuse_unused(args, parser)
        return args.func(args)
    except QSearchError as error:
        print_error(error.spoken(flags(parser)))
        return 2
    except KeyboardInterrupt:
        print("qsearch: interrupted; the same command resumes", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # a full disk, a read-only folder: the files before it stand
        print_error(
            f"{error.filename or 'a file'}: cannot be written or read ({error.strerror or error}); "
            "every file written before it is intact, and the same command resumes"
        )
        return 2
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback
        return _internal_error(error)


def _refuse_unused(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """An option that has no effect in the command as given is refused (each command says
    which, in its ``unused(args)``)."""
    command = next(c for c in COMMANDS if c.NAME == args.command)
    unused = getattr(command, "unused", None)
    if unused is None:
        return
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    refuse_unused(args, subparsers.choices[args.command], unused)


def _internal_error(error: Exception) -> int:
    try:
        where = f"traceback in {_log_internal_error(error)}"
    except OSError:
        where = "no log file could be written"
    first = str(error).splitlines()[0] if str(error) else ""
    print(f"qsearch: internal error: {type(error).__name__}: {first} ({where})", file=sys.stderr)
    return 1
