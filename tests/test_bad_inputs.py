"""Bad input of every kind: each case exits 2 with one line naming the culprit, no traceback,
and every file that existed before is byte-identical after. The data is made here: tiny real
photographs (scikit-image's) written as JPEG and PNG files, folders, run records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from qsearch import QTable
from qsearch.cli import main
from qsearch.images import read_rgb
from realdata import photos

FIDELITY = ["--evaluator", "fidelity"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Folders and files the cases point at (never modified by any case)."""
    root = tmp_path_factory.mktemp("world")
    rgb = [read_rgb(path) for path in photos(4)]
    flat = root / "flat"
    flat.mkdir()
    for i, (synset, image) in enumerate(
        zip(["n01440764", "n01443537", "n01484850", "n01491361"], rgb)
    ):
        Image.fromarray(image).resize((96, 96)).save(flat / f"{synset}_photo{i}.JPEG", quality=90)
    stray = root / "stray"
    stray.mkdir()
    for path in flat.iterdir():
        (stray / path.name).write_bytes(path.read_bytes())
    (stray / "LICENSE").write_text("not an image")
    (stray / "holiday.jpg").write_bytes((flat / "n01440764_photo0.JPEG").read_bytes())
    classes = root / "classes"
    for name, image in zip(["cat", "cat", "dog", "dog"], rgb):
        (classes / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((64, 64)).save(
            classes / name / f"{len(list((classes / name).iterdir()))}.png"
        )
    (root / "empty").mkdir()
    (root / "splits.json").write_text(
        json.dumps(
            {
                "a": ["n01440764_photo0.JPEG", "n01443537_photo1.JPEG"],
                "twice": ["n01440764_photo0.JPEG", "n01440764_photo0.JPEG"],
            }
        )
    )
    QTable.from_quality(40).save(root / "q40.txt")
    (root / "bad.txt").write_text("1 2 3")
    (root / "file").write_text("a file, not a folder")
    collide = root / "collide"
    collide.mkdir()
    Image.fromarray(rgb[0]).save(collide / "b.JPEG")
    Image.fromarray(rgb[1]).save(collide / "b.png")
    for name, text in {
        "four.toml": 'budget = "four"\n',
        "float.toml": "budget = 4.9\n",
        "strict.toml": 'strict = "false"\nbudget = 2\n',
        "option.toml": 'option = "pop_size=4"\n',
        "unknown.toml": "budgett = 3\n",
        "broken.toml": "budget = \n",
    }.items():
        (root / name).write_text(text)
    (root / "map.json").write_text('{"cat": 0}')
    (root / "junk.pt").write_bytes(b"not a model")
    (root / "one.txt").write_text(" ".join(["9"] * 64))  # one table: cjpeg reads it as luma only
    hives = root / "hives"  # an ImageFolder with one file name in two classes and a nested folder
    for relative, image in zip(["ants/same.jpg", "bees/same.jpg", "bees/deep/nested.jpg"], rgb):
        (hives / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((64, 64)).save(hives / relative)
    (root / "hive_splits.json").write_text(
        json.dumps(
            {
                "bare": ["same.jpg"],
                "twice": ["nested.jpg", "bees/deep/nested.jpg"],
                "ants": ["ants/same.jpg"],
            }
        )
    )
    import torch

    head = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 3)
    )  # refused before it runs: what matters is that it declares no inputs
    torch.jit.script(head).save(str(root / "undeclared.pt"))
    (root / "out_full").mkdir()
    Image.fromarray(rgb[0]).save(root / "out_full" / "0.jpg")
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def W(world, *parts):  # noqa: N802 - a path in the world
    return str(world.joinpath(*parts))


CASES = [
    # (arguments as a function of the world folder, text the one error line must contain)
    (lambda w: ["run", *FIDELITY, "--budget", "0"], "--budget: 0 is not at least 1"),
    (lambda w: ["run", *FIDELITY, "--budget", "two"], "--budget: 'two' is not a whole number"),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--timeout", "0"],
        "--timeout: 0 must be above 0",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--batch-size", "0"],
        "--batch-size: 0 is not at least 1",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--option", "pop_size=0"],
        "option pop_size=0 must be at least 4",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--option", "pop_size"],
        "--option 'pop_size' is not KEY=VALUE",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--option", "popsize=4"],
        "searcher nsga2 has no option 'popsize'",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--budget",
            "2",
            "--searcher",
            "mcmc",
            "--option",
            "cooling=2",
        ],
        "option cooling=2 must be at most 1",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--budget",
            "2",
            "--searcher",
            "bayes",
            "--option",
            "sampler=cma",
        ],
        "option sampler='cma' is not one of tpe, gp",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--out", W(w, "file")],
        "file: is a file, not a folder",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--out", "/proc/qsearch-run"],
        "--out /proc/qsearch-run: cannot write",
    ),
    (lambda w: ["run", "--config", W(w, "four.toml")], "budget = 'four' is not a whole number"),
    (lambda w: ["run", "--config", W(w, "float.toml")], "budget = 4.9 is not a whole number"),
    (lambda w: ["run", "--config", W(w, "strict.toml")], "strict = 'false' must be true or false"),
    (lambda w: ["run", "--config", W(w, "option.toml")], "option = 'pop_size=4' must be a list"),
    (lambda w: ["run", "--config", W(w, "unknown.toml")], "unknown option 'budgett'"),
    (lambda w: ["run", "--config", W(w, "broken.toml")], "broken.toml: not a readable TOML file"),
    (lambda w: ["run", "--config", W(w, "absent.toml")], "absent.toml: not a readable TOML file"),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--limit", "-1"],
        "--limit: -1 is not at least 1",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--searcher", "ga", "--floor", "1.5"],
        "--floor 1.5 is a fraction of the uncompressed accuracy",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--budget",
            "2",
            "--searcher",
            "targets",
            "--option",
            "targets=[0.98,1.5]",
        ],  # fmt: skip
        "option targets=1.5 is a fraction of the uncompressed value",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--searcher", "targets"],
        "searcher targets: relative targets need the uncompressed psnr, which this evaluator "
        "does not report",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--rejection-z", "-1"],
        "--rejection-z: -1 is below 0",
    ),
    (lambda w: ["run", *FIDELITY, "--budget", "2", "--weight", "0"], "--weight: 0 must be above 0"),
    (lambda w: ["run", *FIDELITY, "--budget", "2", "--seed", "-1"], "--seed: -1 is not at least 0"),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--workers", "0"],
        "--workers: 0 is not at least 1",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--tables-per-ask", "0"],
        "--tables-per-ask: 0 is not at least 1",
    ),
    (
        lambda w: ["run", *FIDELITY, "--budget", "2", "--searcher", "anneal"],
        "unknown searcher 'anneal'",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--data",
            W(w, "flat"),
            "--budget",
            "2",
            "--space",
            "bandz",
            "--out",
            W(w, "r1"),
        ],
        "unknown space 'bandz'",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--data",
            W(w, "flat"),
            "--budget",
            "2",
            "--base",
            "mozjpeg-12",
            "--out",
            W(w, "r2"),
        ],
        "mozjpeg preset 12 is not one of 0..8",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--data",
            W(w, "flat"),
            "--budget",
            "2",
            "--metric",
            "psnn",
            "--out",
            W(w, "r3"),
        ],
        "--metric 'psnn' is not reported by this evaluator",
    ),
    (
        lambda w: ["run", *FIDELITY, "--data", W(w, "flat"), "--budget", "2", "--test-split", "a"],
        "--test-split needs --data and --split-file",
    ),
    (lambda w: ["run", "--evaluator", "psnr", "--budget", "2"], "unknown evaluator 'psnr'"),
    (lambda w: ["evaluate", *FIDELITY, "--quality", "101"], "--quality: 101 is not in 1..100"),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--qtable", W(w, "q40.txt")],
        "give exactly one of",
    ),
    (lambda w: ["evaluate", *FIDELITY, "--qtable", W(w, "missing.txt")], "missing.txt"),
    (
        lambda w: ["evaluate", *FIDELITY, "--qtable", W(w, "bad.txt")],
        "bad.txt: has 3 values, expected 128",
    ),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--data", W(w, "nowhere")],
        "nowhere: not a folder",
    ),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--data", W(w, "empty")],
        "empty: no image files found",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "flat"),
            "--split-file",
            W(w, "no.json"),
            "--split",
            "a",
        ],
        "no.json: not a readable JSON file",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "flat"),
            "--split-file",
            W(w, "splits.json"),
            "--split",
            "b",
        ],
        "no split named 'b' (has: a, twice)",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "flat"),
            "--split",
            "a",
        ],
        "a split needs both --split-file and --split",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "flat"),
            "--split-file",
            W(w, "splits.json"),
            "--split",
            "twice",
        ],
        "names 'n01440764_photo0.JPEG' more than once",
    ),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--data", W(w, "stray"), "--strict"],
        "holiday.jpg: not named nSYNSET_*",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "classes"),
            "--class-map",
            W(w, "map.json"),
        ],
        "--class-map has no entry for the class folder 'dog'",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--quality",
            "50",
            "--data",
            W(w, "classes"),
            "--class-map",
            W(w, "nomap.json"),
        ],
        "nomap.json: not a readable JSON file",
    ),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--labels", "synsets"],
        "--labels: invalid choice: 'synsets'",
    ),
    (
        lambda w: ["evaluate", *FIDELITY, "--quality", "50", "--subsampling", "4:1:1"],
        "--subsampling: invalid choice",
    ),
    (
        lambda w: ["evaluate", "--quality", "50", "--mean", "1,2"],
        "--mean: '1,2' is not three numbers R,G,B",
    ),
    (
        lambda w: ["evaluate", "--quality", "50", "--interpolation", "nearest"],
        "--interpolation: invalid choice",
    ),
    (
        lambda w: ["evaluate", "--quality", "50", "--model", W(w, "junk.pt")],
        "junk.pt: not a loadable TorchScript file",
    ),
    (
        lambda w: ["evaluate", "--quality", "50", "--model", "resnet9000"],
        "model 'resnet9000' is neither",
    ),
    (
        lambda w: ["baseline", *FIDELITY, "--qualities", "0", "--out", W(w, "b")],
        "--qualities: 0 is not in 1..100",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "q40.txt"), W(w, "classes"), W(w, "classes")],
        "the destination is inside the source folder",
    ),
    (
        lambda w: [
            "compress",
            "--qtable",
            W(w, "q40.txt"),
            W(w, "classes"),
            W(w, "classes", "cat", "out"),
        ],
        "the destination is inside the source folder",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "q40.txt"), W(w, "collide"), W(w, "out")],
        "would both be written as",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "q40.txt"), W(w, "nothing"), W(w, "out")],
        "nothing: no such file",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "bad.txt"), W(w, "classes"), W(w, "out")],
        "bad.txt: has 3 values",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "one.txt"), W(w, "classes"), W(w, "out")],
        "one.txt: holds one table (64 values); cjpeg -qtables would use it for luma only",
    ),
    (
        lambda w: [
            "compress",
            "--qtable",
            W(w, "q40.txt"),
            W(w, "classes", "cat"),
            W(w, "out_full"),
        ],
        "out_full/0.jpg: already exists (1 of the 2 targets do); give --overwrite",
    ),
    (
        lambda w: ["compress", "--qtable", W(w, "q40.txt"), W(w, "classes"), "/proc/qsearch/out"],
        "cannot write",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--data",
            W(w, "hives"),
            "--split-file",
            W(w, "hive_splits.json"),
            "--split",
            "bare",
            "--quality",
            "50",
        ],
        "names 'same.jpg', which is several files (ants/same.jpg, bees/same.jpg)",
    ),
    (
        lambda w: [
            "evaluate",
            *FIDELITY,
            "--data",
            W(w, "hives"),
            "--split-file",
            W(w, "hive_splits.json"),
            "--split",
            "twice",
            "--quality",
            "50",
        ],
        "names bees/deep/nested.jpg twice ('nested.jpg' and 'bees/deep/nested.jpg')",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--data",
            W(w, "flat"),
            "--split-file",
            W(w, "splits.json"),
            "--split",
            "a",
            "--test-split",
            "a",
            "--budget",
            "2",
            "--out",
            W(w, "r5"),
        ],
        "--test-split 'a' share 2 of their 2 images with --split 'a'",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--data",
            W(w, "flat"),
            "--split-file",
            W(w, "splits.json"),
            "--split",
            "a",
            "--test-split",
            "b",
            "--budget",
            "2",
            "--out",
            W(w, "r6"),
        ],
        "no split named 'b' (has: a, twice)",
    ),
    (
        lambda w: [
            "evaluate",
            "--data",
            W(w, "flat"),
            "--model",
            W(w, "undeclared.pt"),
            "--quality",
            "50",
        ],
        "undeclared.pt: its inputs are not declared (no mean): a model file's normalisation is "
        "never assumed; give --mean and --std",
    ),
    (
        lambda w: ["evaluate", "--data", W(w, "flat"), "--device", "foo", "--quality", "50"],
        "--device 'foo' is not a device",
    ),
    (
        lambda w: ["evaluate", "--data", "nothing", "--quality", "50"],
        "nothing: not a folder (nothing is there)",
    ),
    (
        lambda w: [
            "run",
            *FIDELITY,
            "--split-file",
            W(w, "splits.json"),
            "--split",
            "a",
            "--test-split",
            "twice",
            "--budget",
            "2",
            "--out",
            W(w, "r7"),
        ],
        "--test-split needs --data and --split-file",
    ),
    (lambda w: ["front", W(w, "empty")], "empty: no qsearch run here"),
    (lambda w: ["cache", "purge"], "argument action: invalid choice: 'purge'"),
    (lambda w: ["repair", W(w, "empty")], "empty: no qsearch run here"),
    (lambda w: ["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bad_input_is_one_line_naming_the_culprit_and_changes_nothing(world, capsys, case):
    arguments, expected = CASES[case]
    before = snapshot(world)
    assert main(arguments(world)) == 2
    error = capsys.readouterr().err
    lines = [
        line
        for line in error.splitlines()
        if line.strip() and not line.startswith("qsearch: note: ")
    ]
    assert len(lines) == 1 and lines[0].startswith("qsearch: error: "), error
    assert expected in lines[0]
    assert "Traceback" not in error
    assert snapshot(world) == before


def test_a_mistyped_metric_leaves_the_run_folder_usable(world, tmp_path, capsys):
    arguments = [
        "run",
        *FIDELITY,
        "--data",
        W(world, "flat"),
        "--budget",
        "2",
        "--searcher",
        "random",
        "--quiet",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main([*arguments, "--metric", "psnn"]) == 2
    assert main([*arguments, "--metric", "psnr", "--absolute-floor", "--floor", "30"]) == 0


def test_a_front_of_a_run_without_trials_is_one_line(world, tmp_path, capsys):
    from qsearch.evaluators.fidelity import FidelityEvaluator
    from qsearch.images import load_images
    from qsearch.search.searcher import make_searcher
    from qsearch.search.study import Study
    from qsearch.search.trial import Objective

    Study(
        FidelityEvaluator(load_images(photos(2))),
        make_searcher("random"),
        Objective("psnr", floor=30, relative=False),
        tmp_path,
    ).close()
    assert main(["front", str(tmp_path)]) == 2
    assert "the run has no trials yet" in capsys.readouterr().err


def test_an_unusable_cache_folder_degrades_to_no_cache_with_one_warning(
    world, tmp_path, monkeypatch, capsys
):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("QSEARCH_CACHE", str(tmp_path / "cache"))
    for _ in range(2):
        assert (
            main(["evaluate", *FIDELITY, "--quality", "50", "--data", W(world, "flat"), "--json"])
            == 0
        )
    error = capsys.readouterr().err
    assert error.count("is unusable") == 1


def test_an_internal_error_is_one_line_with_the_log_path(world, monkeypatch, capsys, tmp_path):
    import tempfile

    from qsearch.cli import listing

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the log stays in this test's folder
    monkeypatch.setattr(listing, "run", lambda args: {}["boom"])
    assert main(["list"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("qsearch: internal error: KeyError") and "traceback in" in error
    log = Path(error.split("traceback in ")[1].rstrip(")"))
    assert log.parent == tmp_path / "qsearch-logs" and "Traceback" in log.read_text()
