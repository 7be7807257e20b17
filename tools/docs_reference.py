"""Pages the documentation site generates at build time (mkdocs-gen-files), so that nothing is
written twice: one page per ``qsearch`` command from its parser (every flag, as ``--help``
prints it), one page per name of ``qsearch.__all__`` from its docstrings (mkdocstrings), the
measurements of ``benchmarks/RESULTS.md``, and the result plots the pages show."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import mkdocs_gen_files

import qsearch
from qsearch.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
PLOTS = {
    "img/adapted.png": "benchmarks/results/adapted/adapted.png",
    "img/best-front.png": "benchmarks/results/best_front/front.png",
    "img/ladder.png": "benchmarks/results/codec_ladder/ladder.png",
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands by name (none for a leaf command)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def help_of(parser: argparse.ArgumentParser) -> str:
    """The parser's ``--help``, and each of its subcommands' after it."""
    nested = subcommands(parser)
    return parser.format_help() + "".join(f"\n{help_of(sub)}" for sub in nested.values())


def command_pages() -> None:
    """``cli/NAME.md`` for every command and ``cli/index.md`` listing them."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal's width
    commands = subcommands(build_parser())
    pages = {
        module.NAME: (
            f"# qsearch {module.NAME}\n\n{module.HELP}.\n\n```\n{help_of(commands[module.NAME])}```\n",
            f"`qsearch {module.NAME}`",
            f": {module.HELP}",
        )
        for module in COMMANDS
    }
    write_section(
        "cli",
        "Command reference",
        "Every command and flag, as `qsearch NAME --help` prints it.",
        pages,
    )


def api_pages() -> None:
    """``api/NAME.md`` for every name of ``qsearch.__all__`` and ``api/index.md``."""
    pages = {
        name: (
            f"# qsearch.{name}\n\n::: {qsearch._EXPORTS[name]}.{name}\n",
            f"`qsearch.{name}`",
            f" (`{qsearch._EXPORTS[name]}`)",
        )
        for name in qsearch.__all__
    }
    write_section(
        "api", "Python API", "Every name `import qsearch` offers, from its docstrings.", pages
    )


def write_section(
    folder: str, title: str, intro: str, pages: dict[str, tuple[str, str, str]]
) -> None:
    """``folder/NAME.md`` for each page (its text, its link's label and what follows the link in
    the index) and ``folder/index.md`` linking them."""
    lines = [f"# {title}", "", intro, ""]
    for name, (text, label, note) in pages.items():
        with mkdocs_gen_files.open(f"{folder}/{name}.md", "w") as page:
            page.write(text)
        lines.append(f"- [{label}]({name}.md){note}")
    with mkdocs_gen_files.open(f"{folder}/index.md", "w") as page:
        page.write("\n".join(lines) + "\n")


def measurements() -> None:
    """``measurements.md``: every benchmark figure with its machine, date and command."""
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    with mkdocs_gen_files.open("measurements.md", "w") as page:
        page.write(text.replace("# Benchmark results", "# Measurements", 1))


def plots() -> None:
    for target, source in PLOTS.items():
        with mkdocs_gen_files.open(target, "wb") as image:
            image.write((ROOT / source).read_bytes())


command_pages()
api_pages()
measurements()
plots()
