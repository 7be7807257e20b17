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
    """Unlabeled photographs: ``my-photos`` (the user's) and ``new-photos`` (others to send)."""
    for name, chosen in (("my-photos", photos()[:10]), ("new-photos", photos()[10:14])):
        (tmp_path / name).mkdir()
        for path in chosen:
            shutil.copy(path, tmp_path / name / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_every_command_of_the_readme_runs_as_written(users_folder, capsys):
    shown = commands()
    assert [c[0] for c in shown] == ["run", "front", "export", "compress", "compress"]
    for arguments in shown:
        assert main(arguments) == 0, arguments
        if arguments[0] == "front":  # unlabeled photographs: a table is named at 98%
            assert "  table: tables/trial-" in capsys.readouterr().out
    assert (users_folder / "runs" / "mine" / "report.html").exists()
    assert (users_folder / "table.txt").exists()
    assert len(list((users_folder / "my-photos-compressed").iterdir())) == 10
    sent = users_folder / "new-photos-sent"
    assert len(list(sent.glob("*.jpg"))) == 4 and (sent / "manifest.csv").exists()


def recipe(name: str) -> list[list[str]]:
    """The Makefile recipe's command lines (continuations joined), as arguments."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    body = re.search(rf"^{name}: setup\n((?:\t.*\n)+)", text, re.M).group(1)
    return [shlex.split(line.strip()) for line in body.splitlines()]


@pytest.mark.slow
def test_the_demo_the_readme_promises_is_what_make_demo_runs(users_folder, capsys):
    from qsearch.images.samples import write_sample_folders

    for words in recipe("demo"):
        if words[0] == "$(BIN)/qsearch":
            assert main(words[1:]) == 0, words
        else:
            assert words[:3] == ["$(BIN)/python", "-m", "qsearch.images.samples"]
            write_sample_folders(words[3])
    demo = users_folder / "runs" / "demo"
    assert {"front.csv", "front.png", "summary.json", "report.html"} <= {
        p.name for p in demo.iterdir()
    }
    assert any((demo / "tables").glob("*.txt"))
    said = capsys.readouterr().out
    assert "the one quality reaching the target on the calibration images" in said
    assert (demo / "per-image" / "manifest.csv").exists()


@pytest.mark.slow
def test_the_python_example_runs_as_written(users_folder, capsys):
    (example,) = blocks("python")
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "95% of the IJG quality 95 similarity" in printed and "  table: tables/" in printed
    assert (users_folder / "runs" / "python" / "report.html").exists()
