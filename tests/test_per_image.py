"""Per-image rate control with the real network and codec on scikit-image's photographs: the
rule chooses on new images exactly as calibration computed it, reaches its target there, never
replaces a file, resumes to the same bytes after a kill, and refuses bad calibration before
anything is written; the predictor file is plain data and refused once edited; a detector
folder runs end to end."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tinydetector import write_tiny_detector

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.rate.calibration import Grid, calibrate, dataset_figure
from qsearch.rate.folder import Plan, choose_steps, write_per_image
from qsearch.rate.job import compress_per_image
from qsearch.rate.ladder import Ladder
from qsearch.rate.predictor import Predictor
from qsearch.rate.rules import Threshold, Tradeoff
from qsearch.tables.qtable import IJG, QTable
from realdata import photos

LADDER = Ladder(qualities=(5, 10, 20, 40, 70, 95))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Calibration photographs and other photographs to compress, both unlabelled."""
    root = tmp_path_factory.mktemp("per-image")
    paths = photos(12)
    for name, chosen in (("calib", paths[:8]), ("src", paths[8:])):
        (root / name).mkdir()
        for path in chosen:
            shutil.copy(path, root / name / path.name)
    return root


@pytest.fixture(scope="module")
def calibration(folders, classifier):
    images = load_images(folders / "calib", compress_at="source",
                         preprocessing=classifier.preprocessing, labels="none")  # fmt: skip
    evaluator = ClassifierEvaluator(images, classifier, forward="fp32")
    yield evaluator, Grid.measure(evaluator, LADDER, progress=False)
    evaluator.close()


def test_the_rule_chooses_on_images_as_calibration_computed_it(calibration):
    evaluator, grid = calibration
    for rule, margin in ((Threshold(), 0.5), (Tradeoff(), 0.0)):
        found = calibrate(grid, LADDER, rule, 0.9, "agreement", 1.0, margin)
        steps = np.array(found.steps)
        assert found.reached == pytest.approx(dataset_figure("agreement", grid.chosen(steps)))
        assert found.reached >= 0.9 or found.fallback
        live, kept = choose_steps(evaluator, Plan(LADDER, rule, found, evaluator.settings, {}))
        assert (live == steps).all(), rule.name
        assert kept == pytest.approx(grid.values("kept")[np.arange(len(steps)), steps])
    threshold = calibrate(grid, LADDER, Threshold(), 0.9, "agreement", 1.0, 0.5)
    kept = grid.values("kept")[np.arange(len(threshold.steps)), threshold.steps]
    last = np.array(threshold.steps) == len(LADDER) - 1
    assert ((kept >= threshold.value) | last).all()  # each image keeps its floor where it can


def test_one_quality_is_taken_where_per_image_does_not_beat_it():
    """Per-image figures that never pass below the finest step, while the dataset figure is
    reached lower: every image gets the one quality instead of larger files."""
    count = 10
    steps = []
    for step in range(3):
        steps.append({"bytes": np.full(count, 100 * (step + 1)), "pixels": np.full(count, 800),
                      "kept": np.full(count, 1.0 if step == 2 else 0.0),
                      "agreement": np.full(count, 1.0 if step >= 1 else 0.0)})  # fmt: skip
    found = calibrate(Grid(steps, "kept"), Ladder(qualities=(10, 50, 90)), Threshold(), 0.98,
                      "agreement", 1.0, 0.5)  # fmt: skip
    assert found.fallback and found.one_quality == 50 and set(found.steps) == {1}
    assert "every image gets that quality" in found.describe()


def compress_args(folders, out, *extra):
    return ["compress", "--per-image", "--target", "0.9", "--calibrate", str(folders / "calib"),
            "--qualities", "5,10,20,40,70,95", "--forward", "fp32", str(folders / "src"),
            str(out), *extra]  # fmt: skip


def test_compress_per_image_writes_each_file_at_its_quality(folders, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(compress_args(folders, out)) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert sorted(manifest["file"]) == sorted(
        p.with_suffix(".jpg").name for p in (folders / "src").iterdir()
    )
    for row in manifest.itertuples():
        written = out / row.file
        assert written.stat().st_size == row.bytes
        with Image.open(written) as image:
            assert QTable.from_pillow(image.quantization) == IJG.at(row.quality)
    record = json.loads((out / "per-image.json").read_text())
    assert record["calibration"]["images"] == 8 and record["request"]["images"].startswith(
        "8 images"
    )
    assert record["calibration"]["second_receiver"] == "a receiver resizing bilinear"
    assert 0 <= record["calibration"]["second_receiver_share"] <= 1
    assert "each at its own quality" in capsys.readouterr().out
    report = (out / "report.html").read_text()  # the page beside the files: the manifest's bits
    bpp = 8 * manifest["bytes"].sum() / manifest["pixels"].sum()
    one = 8 * manifest["one_quality_bytes"].sum() / manifest["pixels"].sum()
    assert f"<b>{bpp:.3f} bpp</b>" in report and f"{one:.3f} bpp" in report
    assert report.count('<img class="crop"') == 2 * min(3, len(manifest))


def test_resume_after_a_kill_writes_the_same_bytes(calibration, folders, tmp_path):
    evaluator, _ = calibration
    whole = compress_per_image(evaluator, folders / "src", tmp_path / "whole", target=0.9,
                               ladder=LADDER, progress=False, chunk=2)  # fmt: skip
    calls = []

    def killed_after_one_chunk(images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluator.on_images(images)

    plan = _plan(evaluator, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        write_per_image(folders / "src", tmp_path / "killed", plan, killed_after_one_chunk,
                        chunk=2, progress=False)  # fmt: skip
    first = sorted(p.name for p in (tmp_path / "killed").glob("*.jpg"))
    assert len(first) == 2
    calls.clear()
    resumed = write_per_image(folders / "src", tmp_path / "killed", plan, killed_after_one_chunk,
                              chunk=2, progress=False)  # fmt: skip
    assert calls == [2]  # only the images not written before
    for name in whole["file"]:
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    assert resumed.equals(whole)


def _plan(evaluator, folder) -> Plan:
    from qsearch.rate.calibration import Calibration

    record = json.loads((folder / "per-image.json").read_text())
    found = Calibration.from_dict(record["calibration"], "record")
    return Plan(LADDER, Threshold(), found, evaluator.settings, record["request"])


def test_worker_processes_write_what_one_process_writes(folders, tmp_path):
    """Chunks judged and encoded in two spawned workers (each loading the network once): the
    same files, byte for byte, and the same manifest in the same order."""
    assert main([*compress_args(folders, tmp_path / "one")]) == 0
    assert main([*compress_args(folders, tmp_path / "two"), "--workers", "2"]) == 0
    one, two = (pd.read_csv(tmp_path / name / "manifest.csv") for name in ("one", "two"))
    pd.testing.assert_frame_equal(one, two)
    for name in one["file"]:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_a_file_already_there_is_never_replaced(folders, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / sorted((folders / "src").iterdir())[0].with_suffix(".jpg").name
    theirs.write_bytes(b"the user's own file")
    assert main(compress_args(folders, out)) == 2
    assert "already exists and no earlier per-image job wrote it" in capsys.readouterr().err
    assert theirs.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in out.iterdir()) == [theirs.name]


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda args, empty: args.__setitem__(5, str(empty)), "no image files found"),
        (
            lambda args, empty: args.extend(["--margin", "0.9999"]),
            "no floor of the threshold rule reaches",
        ),
        (lambda args, empty: args.extend(["--labels", "imagenet"]), "label rule labels none"),
    ],
    ids=["no images", "no step reaches", "labels match no image"],
)
def test_bad_calibration_is_refused_before_any_file(folders, tmp_path, capsys, change, said):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = compress_args(folders, tmp_path / "out")
    args[args.index("0.9")] = "1.0"
    args[args.index("5,10,20,40,70,95")] = "1,2"
    change(args, empty)
    assert main(args) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and said in error[0], error
    assert not (tmp_path / "out").exists()


def test_the_predictor_is_plain_data_and_refused_once_edited(folders, tmp_path, capsys):
    file = tmp_path / "predictor.json"
    assert main(compress_args(folders, tmp_path / "out", "--save-predictor", str(file))) == 0
    data = json.loads(file.read_text())  # plain JSON: numbers, names, tables
    assert data["kind"] == "qsearch per-image predictor" and len(data["luma"]) == 64
    predictor = Predictor.load(file)
    assert main(["compress", "--per-image", "--predictor", str(file), str(folders / "src"),
                 str(tmp_path / "predicted")]) == 0  # fmt: skip
    manifest = pd.read_csv(tmp_path / "predicted" / "manifest.csv")
    assert set(manifest["quality"]) <= set(predictor.qualities)
    data["offset"] -= 3
    file.write_text(json.dumps(data))
    with pytest.raises(QSearchError, match="changed after it was written"):
        Predictor.load(file)
    file.write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(QSearchError, match="not a per-image predictor"):
        Predictor.load(file)


def test_options_without_effect_are_refused(folders, tmp_path, capsys):
    for extra, said in ((["--rule", "tradeoff", "--margin", "0.5"], "--margin has no effect"),
                        (["--data", str(folders / "src")], "--data has no effect")):  # fmt: skip
        assert main(compress_args(folders, tmp_path / "out", *extra)) == 2
        assert said in capsys.readouterr().err
    assert (
        main(["compress", "--target", "0.9", "--qtable", "x", str(folders), str(tmp_path / "o")])
        == 2
    )
    assert "--target has no effect here" in capsys.readouterr().err


def test_a_detector_folder_runs_end_to_end(folders, tmp_path):
    tiny = write_tiny_detector(tmp_path / "tiny.onnx")
    out = tmp_path / "out"
    assert main(["compress", "--per-image", "--task", "detect", "--model", str(tiny),
                 "--target", "0.5", "--calibrate", str(folders / "calib"), "--qualities",
                 "5,20,50,95,100", str(folders / "src"), str(out)]) == 0  # fmt: skip
    manifest = pd.read_csv(out / "manifest.csv")
    record = json.loads((out / "per-image.json").read_text())
    assert record["calibration"]["metric"] == "map_ref"
    assert record["calibration"]["reached"] >= 0.5 * record["calibration"]["uncompressed"]
    assert len(manifest) == 4 and manifest["fidelity"].between(0, 1).all()
    assert (manifest["bytes"] == [(out / f).stat().st_size for f in manifest["file"]]).all()


def _grid_needing(needed: np.ndarray, steps: int = 6) -> Grid:
    """Images that keep their answer from step ``needed[i]`` up, each step twice the bytes."""
    figures = []
    for step in range(steps):
        kept = (step >= needed).astype(float)
        figures.append({"bytes": 1000.0 * 2**step * np.ones(len(needed)),
                        "pixels": np.full(len(needed), 1e4), "kept": kept, "top1": kept})  # fmt: skip
    return Grid(figures, "kept")


def test_the_predictor_learns_what_features_tell_and_falls_back_on_one_quality_otherwise():
    """Features that carry each image's step give a predictor cheaper than one quality that
    still reaches the target; features that carry nothing give every image the one quality."""
    from qsearch.rate.predictor import fit_predictor

    rng = np.random.default_rng(0)
    needed = rng.integers(0, 6, 60)
    grid, ladder = _grid_needing(needed), Ladder(qualities=(10, 20, 40, 60, 80, 95))
    one = ladder.qualities[5]  # only the finest step keeps every answer
    telling = np.c_[needed, rng.normal(size=(60, 3))]
    predictor = fit_predictor(grid, telling, needed, ladder, 1.0, "top1", 1.0, {}, one)
    assert not predictor.one_quality and predictor.reached == 1.0
    assert predictor.bpp < 8 * 1000 * 2**5 / 1e4
    noise = rng.normal(size=(60, 4))
    blind = fit_predictor(grid, noise, needed, ladder, 1.0, "top1", 1.0, {}, one)
    assert blind.one_quality and set(blind.steps(noise)) == {5}
    assert set(blind.steps(rng.normal(size=(9, 4)))) == {5}
