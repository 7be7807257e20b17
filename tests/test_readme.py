"""The README is short, its links lead to pages that exist, and every command and the Python
example it shows run as written (on a folder of real photographs standing for the user's)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from qsearch.cli import main
from realdata import photos

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[list[str]]:
    """Every ``qsearch`` line of the README's shell blocks, as arguments (comments dropped)."""
    found = []
    for block in blocks(""):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0].endswith("bin/qsearch"):
                found.append(words[1:])
    return found


def test_the_readme_is_short_and_its_links_exist():
    assert len(README.splitlines()) < 250
    targets = re.findall(r"\]\(([^)#]+)\)", README)
    assert targets and all((ROOT / t).exists() for t in targets), [
        t for t in targets if not (ROOT / t).exists()
    ]
    assert "make demo" in README and "make test" in README


@pytest.fixture
def users_folder(tmp_path, monkeypatch):
    folder = tmp_path / "my-photos"
    folder.mkdir()
    for path in photos(6):
        shutil.copy(path, folder / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_every_command_of_the_readme_runs_as_written(users_folder):
    shown = commands()
    assert [c[0] for c in shown] == ["run", "front", "export", "compress"]
    for arguments in shown:
        assert main(arguments) == 0, arguments
    assert (users_folder / "runs" / "mine" / "report.html").exists()
    assert len(list((users_folder / "my-photos-compressed").iterdir())) == 6


@pytest.mark.slow
def test_the_demo_the_readme_promises_is_what_make_demo_runs(users_folder):
    recipe = re.search(
        r"^demo: setup\n\t\$\(BIN\)/qsearch (.*)$", (ROOT / "Makefile").read_text(), re.M
    )
    assert main(shlex.split(recipe.group(1))) == 0
    demo = users_folder / "runs" / "demo"
    assert {"front.csv", "front.png", "summary.json", "report.html"} <= {
        p.name for p in demo.iterdir()
    }
    assert any((demo / "tables").glob("*.txt"))


@pytest.mark.slow
def test_the_python_example_runs_as_written(users_folder, capsys):
    (example,) = blocks("python")
    exec(compile(example, "README.md", "exec"), {})
    assert "95% of the uncompressed similarity" in capsys.readouterr().out
    assert (users_folder / "runs" / "python" / "report.html").exists()
