"""The documentation site builds with warnings as errors: every command has its page holding
every one of its flags, every name of ``qsearch.__all__`` its page from its docstrings, and a
broken link fails the build."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import needs_browser, rendered_dom

import qsearch
from qsearch.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
pytestmark = pytest.mark.slow


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, env=QUIET, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    built = build(ROOT / "mkdocs.yml", site)
    assert built.returncode == 0, built.stderr[-3000:]
    return site


def flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every long flag of a parser and of its subcommands."""
    found = {s for a in parser._actions for s in a.option_strings if s.startswith("--")}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= flags(sub)
    return found


def test_every_command_has_its_page_with_every_flag(site):
    parsers = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    for module in COMMANDS:
        page = (site / "cli" / f"{module.NAME}.html").read_text()
        missing = sorted(f for f in flags(parsers[module.NAME]) if f not in page)
        assert not missing, f"qsearch {module.NAME}: {missing}"


def test_every_public_name_has_its_page_from_its_docstring(site):
    for name in qsearch.__all__:
        page = (site / "api" / f"{name}.html").read_text()
        assert f'id="{qsearch._EXPORTS[name]}.{name}"' in page, name
        assert ":class:`" not in page and ":func:`" not in page, f"{name}: raw reST roles"


def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    plots = [
        f"benchmarks/results/{p}"
        for p in ("adapted/adapted.png", "best_front/front.png", "codec_ladder/ladder.png")
    ]
    for path in ("mkdocs.yml", "tools", "qsearch", "benchmarks/RESULTS.md", *plots):
        source = ROOT / path
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    page = tmp_path / "docs" / "concepts.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    built = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0 and "no-such-page.md" in built.stderr


@needs_browser
def test_a_real_browser_renders_the_site_with_its_navigation(site, tmp_path):
    dom = rendered_dom(site / "cli" / "report.html", tmp_path)
    assert "qsearch report" in dom and "--no-crops" in dom
    assert 'class="md-nav' in dom and "Getting started" in dom and "Python API" in dom


@needs_browser
def test_the_site_works_from_files_without_a_network(site, tmp_path):
    """Opened as the README says (site/index.html over file://): every link of the navigation
    is a page (not a folder a browser would list), rendered with its navigation, and no page
    fetches a font, a script or a style from the internet."""
    import re

    index = (site / "index.html").read_text()
    links = sorted(set(re.findall(r'<a href="([^"#]+)" class="md-nav__link', index)))
    assert len(links) > 15 and all(link.endswith(".html") for link in links), links
    for link in links:
        page = (site / link).resolve()
        assert page.is_file(), link
        dom = rendered_dom(page, tmp_path / "profile")
        assert 'class="md-nav' in dom and "Index of" not in dom, link
    for page in site.rglob("*.html"):
        fetched = re.findall(
            r'(?:src|href)="(https?://[^"]+\.(?:js|css|woff2?))"', page.read_text()
        )
        assert not fetched, (page, fetched[:3])
    assert "fonts.googleapis" not in index
