import json

import pandas as pd
import pytest
from PIL import Image

from qsearch import QTable
from qsearch.cli import main
from realdata import IMAGENET_SAMPLE, SPLITS, assert_drawn_plot, sample_args

DATA = sample_args("test", 10)


@pytest.mark.imagenet
def test_evaluate_prints_one_json_object(capsys):
    assert main(["evaluate", *DATA, "--quality", "50", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {
        "top1",
        "top5",
        "agreement",
        "bytes",
        "bpp",
        "ratio",
        "images",
        "seconds",
    } <= metrics.keys()
    assert metrics["images"] == 10


def test_evaluate_a_table_file_on_the_embedded_default(tmp_path, capsys):
    QTable.from_quality(40).save(tmp_path / "q40.txt")
    assert (
        main(
            ["evaluate", "--evaluator", "fidelity", "--qtable", str(tmp_path / "q40.txt"), "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["images"] >= 10


@pytest.mark.imagenet
@pytest.mark.parametrize(
    "content, message",
    [
        ("1 2 3", "bad.txt: has 3 values, expected 128"),
        ("0 " * 128, "bad.txt: luma table value 0 at row 0, column 0 is outside 1..255"),
    ],
)
def test_bad_table_file_is_one_line_naming_it(tmp_path, capsys, content, message):
    (tmp_path / "bad.txt").write_text(content)
    assert main(["evaluate", *DATA, "--qtable", str(tmp_path / "bad.txt")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "Traceback" not in error


def test_bad_data_folder_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--data", str(tmp_path), "--quality", "50"]) == 2
    assert capsys.readouterr().err.strip() == f"qsearch: error: {tmp_path}: no image files found"


@pytest.mark.imagenet
def test_baseline_writes_a_csv_per_family_and_one_plot(tmp_path):
    assert (
        main(
            [
                "baseline",
                *DATA,
                "--evaluator",
                "fidelity",
                "--qualities",
                "10",
                "50",
                "90",
                "--base",
                "ijg",
                "mozjpeg-1",
                "deepn",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    curves = {name: pd.read_csv(tmp_path / f"{name}.csv") for name in ("ijg", "mozjpeg-1", "deepn")}
    for frame in curves.values():
        assert frame["quality"].tolist() == [10, 50, 90] and frame["bpp"].is_monotonic_increasing
    assert (
        curves["mozjpeg-1"]["bpp"].iloc[1] != curves["ijg"]["bpp"].iloc[1]
    )  # a flat table is another curve
    assert_drawn_plot(tmp_path / "baseline.png")


@pytest.mark.imagenet
def test_an_unknown_base_is_one_line_naming_it(capsys):
    assert main(["baseline", *DATA, "--evaluator", "fidelity", "--base", "mozjpeg-12"]) == 2
    assert capsys.readouterr().err.strip() == "qsearch: error: mozjpeg preset 12 is not one of 0..8"


@pytest.mark.imagenet
def test_compress_writes_jpegs_carrying_the_table(tmp_path):
    table = QTable.from_quality(30)
    table.save(tmp_path / "t.txt")
    source = tmp_path / "src"
    source.mkdir()
    for name in json.loads(SPLITS.read_text())["test"][:3]:
        (source / name).write_bytes((IMAGENET_SAMPLE / name).read_bytes())
    assert (
        main(["compress", "--qtable", str(tmp_path / "t.txt"), str(source), str(tmp_path / "out")])
        == 0
    )
    written = sorted((tmp_path / "out").glob("*.jpg"))
    assert len(written) == 3
    assert QTable.from_pillow(Image.open(written[0]).quantization) == table
    assert (
        main(
            [
                "compress",
                "--smallest",
                "--qtable",
                str(tmp_path / "t.txt"),
                str(source),
                str(tmp_path / "small"),
            ]
        )
        == 0
    )
    smallest = sorted((tmp_path / "small").glob("*.jpg"))
    assert all(b.stat().st_size < a.stat().st_size for a, b in zip(written, smallest))
    assert QTable.from_pillow(Image.open(smallest[0]).quantization) == table


def test_every_argument_of_every_command_is_documented(capsys):
    import argparse

    from qsearch import __version__
    from qsearch.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"qsearch {name} {action.option_strings or action.dest}"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"qsearch {__version__}"
