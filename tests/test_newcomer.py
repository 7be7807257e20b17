"""What a newcomer meets in the fourth hour, on real photographs: an option that does nothing
in the command as given is refused in one line before any work (each command's ``unused``
walked flag by flag), the Python API checks its arguments before writing anything and takes a
searcher by name, a run without --out gets a folder of its own, and the smaller refusals and
notes say what they mean."""

from __future__ import annotations

import argparse
import re
import shutil

import pytest

import qsearch
from qsearch.cli import COMMANDS, build_parser, main
from qsearch.cli.arguments import names_list, quality_list, triple
from qsearch.cli.options import size_setting
from qsearch.evaluators.fidelity import FidelityEvaluator
from qsearch.images import load_images
from realdata import photos


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "photos"
    images.mkdir()
    for path in photos(3):
        shutil.copy(path, images / path.name)
    return images


def subparser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def a_value(action: argparse.Action) -> list[str]:
    """Words that set ``action`` to something other than its default."""
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return [flag]
    if action.choices:
        return [flag, next(str(c) for c in action.choices if c != action.default)]
    if action.nargs == 2:
        return [flag, "10", "20"]
    typed = {names_list: "a,b", triple: "0.5,0.5,0.5", quality_list: "5,10",
             size_setting: "long:300"}  # fmt: skip
    return [flag, typed.get(action.type, "30")]


COMMANDS_AS_GIVEN = {
    "compress": lambda tmp: ["compress", "--qtable", "t.txt", str(tmp / "src"), str(tmp / "dst")],
    "report": lambda tmp: ["report", str(tmp / "run"), "--no-crops"],
    "adapt": lambda tmp: ["adapt", "--out", str(tmp / "adapted")],
}


@pytest.mark.parametrize("command", sorted(COMMANDS_AS_GIVEN))
def test_every_option_without_effect_is_refused_before_any_work(command, tmp_path, capsys):
    module = next(c for c in COMMANDS if c.NAME == command)
    base = COMMANDS_AS_GIVEN[command](tmp_path)
    parser = subparser(command)
    unused = module.unused(parser.parse_args(base[1:]))
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    assert unused, command
    for dest in unused:
        words = a_value(actions[dest])
        assert main([*base, *words]) == 2, words
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(errors) == 1 and f"{words[0]} has no effect here" in errors[0], (words, errors)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written by any of them


def test_every_command_that_can_ignore_an_option_says_which():
    assert {c.NAME for c in COMMANDS if hasattr(c, "unused")} >= set(COMMANDS_AS_GIVEN)


def test_the_python_api_takes_a_searcher_by_name_and_checks_before_writing(folder, tmp_path):
    evaluator = FidelityEvaluator(load_images(folder))
    for budget in (0, "5", None):
        with pytest.raises(qsearch.QSearchError, match="budget"):
            qsearch.run(evaluator, "nsga2", tmp_path / "w1", budget=budget)
    with pytest.raises(qsearch.QSearchError, match="unknown searcher 'nope'"):
        qsearch.run(evaluator, "nope", tmp_path / "w1", budget=2)
    assert not (tmp_path / "w1").exists()
    psnr = qsearch.Objective(metric="psnr", floor=30, relative=False)
    finished = qsearch.run(evaluator, "quality", tmp_path / "w2", objective=psnr, budget=2)
    assert len(finished.trials) == 2


def test_a_run_without_out_gets_a_folder_of_its_own(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    fidelity = ["run", "--evaluator", "fidelity", "--metric", "psnr", "--absolute-floor",
                "--floor", "30", "--searcher", "quality", "--budget", "2", "--quiet"]  # fmt: skip
    assert main([*fidelity, "--data", str(folder)]) == 0
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    (other / sorted(p.name for p in other.iterdir())[0]).unlink()
    assert main([*fidelity, "--data", str(other)]) == 0  # other images: no refusal
    runs = sorted((tmp_path / "runs").iterdir())
    # a second run within the same second gets a suffix, never the first run's folder
    assert len(runs) == 2 and all(re.fullmatch(r"\d{8}-\d{6}-quality(-2)?", r.name) for r in runs)
    assert f"this run writes to runs/{runs[0].name}" in capsys.readouterr().err


def test_smaller_things_say_what_they_mean(folder, tmp_path, capsys):
    assert main(["cache", "show"]) == 0
    with pytest.raises(qsearch.QSearchError, match="IJG quality '50' is not an integer"):
        qsearch.QTable.from_quality("50")
    assert main(["evaluate", "--data", str(folder), "--labels", "imagenet", "--quality", "50"]) == 2
    assert "the imagenet label rule labels none of its 3 image file(s)" in capsys.readouterr().err
    assert main(["list"]) == 0
    assert "``" not in capsys.readouterr().out
    table = tmp_path / "q100.txt"
    qsearch.QTable.from_quality(100).save(table)
    assert (
        main(["export", str(table), "--format", "imagemagick", "--out", str(tmp_path / "t.xml")])
        == 0
    )
    assert "-quality 50" in capsys.readouterr().out
    small = tmp_path / "small"
    small.mkdir()
    assert main(["compress", "--qtable", str(table), str(folder), str(tmp_path / "q50")]) == 0
    from qsearch.codecs.compress import compress

    lossy = compress(qsearch.QTable.from_quality(20), folder, small)
    assert main(["compress", "--qtable", str(table), str(small), str(tmp_path / "bigger")]) == 0
    assert "larger than their sources" in capsys.readouterr().err
    assert lossy.written_bytes > 0


def test_a_second_compress_counts_only_the_images_it_writes(folder, tmp_path, capsys):
    (folder / "notes.txt").write_text("not an image")
    table = tmp_path / "q50.txt"
    qsearch.QTable.from_quality(50).save(table)
    out = tmp_path / "out"
    assert main(["compress", "--qtable", str(table), str(folder), str(out)]) == 0
    assert "wrote 3 JPEG file(s)" in capsys.readouterr().out
    assert main(["compress", "--qtable", str(table), str(folder), str(out)]) == 2
    assert "(3 of the 3 targets do)" in capsys.readouterr().err
    assert not (out / "notes.jpg").exists()
