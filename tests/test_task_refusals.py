"""A detector's labels and declaration checked before any work, in a user's clone (the small
YOLOX-layout detector of :mod:`tinydetector` on scikit-image's photographs): labels that match
no image, a held-out folder without its labels, a zero std, a missing model file before a
missing key, and a runtime's whole complaint about a wrong input size, each one line."""

from __future__ import annotations

import json
import shutil

import pytest
from tinydetector import TINY, write_tiny_detector

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.tasks.annotations import read_boxes, read_coco
from realdata import photos


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in photos(3):
        shutil.copy(path, images / path.name)
    return images


def one_error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(lines) == 1, lines
    return lines[0]


def detect(tiny, folder, *extra) -> list[str]:
    return ["evaluate", "--task", "detect", "--model", str(tiny), "--data", str(folder),
            "--quality", "50", *extra]  # fmt: skip


def test_labels_that_match_no_image_are_refused_before_any_work(tiny, folder, tmp_path, capsys):
    empty = tmp_path / "labels"
    empty.mkdir()
    (empty / "someone_else.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    assert main(detect(tiny, folder, "--annotations", str(empty))) == 2
    assert "none of the 3 images has a label here" in one_error(capsys)
    names = [p.name for p in photos(3)]
    coco = tmp_path / "other.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "elsewhere.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1}, {"id": 2}], "annotations": [],
    }))  # fmt: skip
    with pytest.raises(QSearchError, match="none of the 3 images has a label here"):
        read_coco(coco, names, [(512, 512)] * 3, 2)


def test_label_files_for_absent_images_are_counted_and_said(folder, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    first = photos(1)[0]
    (labels / first.with_suffix(".txt").name).write_text("1 0.5 0.5 0.2 0.2\n")
    (labels / "absent.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    found = read_boxes(labels, [first.name], [(512, 512)], 2)
    assert found.unmatched == 1 and "1 label files name no image" in found.said()
    assert "name no image" not in found.describe()  # not part of a run's identity


def test_a_negative_width_is_named_as_such(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("0 0.5 0.5 -0.2 0.2\n")
    with pytest.raises(QSearchError, match=r"a.txt:1: box width -0.2 and height 0.2 must be"):
        read_boxes(labels, ["a.png"], [(100, 100)], 2)


def test_held_out_folders_without_their_labels_are_refused_before_the_search(
    tiny, folder, tmp_path, capsys
):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / photos(1)[0].with_suffix(".txt").name).write_text("0 0.5 0.5 0.2 0.2\n")
    arguments = ["run", "--task", "detect", "--model", str(tiny), "--data", str(folder),
                 "--annotations", str(labels), "--test-data", str(folder), "--budget", "2",
                 "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(arguments) == 2
    assert "--test-data with --annotations needs --test-annotations" in one_error(capsys)
    assert not (tmp_path / "run" / "study.journal").exists()


def test_a_zero_std_is_refused(tiny, folder, capsys):
    assert main(detect(tiny, folder, "--declare", "std=0")) == 2
    assert "each must be non-zero" in one_error(capsys)


def test_a_missing_model_file_is_named_before_its_declaration(folder, tmp_path, capsys):
    assert main(detect(tmp_path / "gone.onnx", folder)) == 2
    assert "gone.onnx: no such model file" in one_error(capsys)


def test_a_wrong_input_size_keeps_what_the_runtime_expected(tiny, folder, capsys):
    assert main(detect(tiny, folder, "--declare", "input_size=96")) == 2
    error = one_error(capsys)
    assert "refused the declared input" in error and "x3x96x96" in error
    assert "Got: 96 Expected: 128" in error  # the runtime's second line, kept


def test_a_declaration_is_checked_before_the_images_load(tiny, folder, tmp_path, capsys,
                                                        monkeypatch):  # fmt: skip
    declared = {k: v for k, v in TINY.items() if k != "channels"}
    bare = tmp_path / "bare.onnx"
    shutil.copy(tiny, bare)
    bare.with_name("bare.onnx.json").write_text(json.dumps(declared))

    def loading(*args, **kwargs):
        raise AssertionError("the images were loaded before the declaration was checked")

    monkeypatch.setattr("qsearch.cli.build.load_split", loading)
    assert main(detect(bare, folder)) == 2
    assert "no 'channels'" in one_error(capsys)


def test_model_describe_checks_a_detectors_declaration(tiny, capsys):
    assert main(["model", "describe", str(tiny)]) == 0
    said = capsys.readouterr().out
    assert "a complete detect declaration" in said and "yolox strides [8, 16, 32]" in said


def test_one_declaration_file_says_which_task_reads_it(tiny, folder, capsys):
    """A detector's declaration given to the classifier is refused naming the task it declares;
    a classifier sidecar without a task key (as written before) is the classifier's."""
    from qsearch.models.sidecar import read_sidecar

    assert main(["evaluate", "--model", str(tiny), "--data", str(folder), "--quality", "50"]) == 2
    assert one_error(capsys).endswith(f"{tiny}.json: declares a detect model: give --task detect")
    old = tiny.with_name("old.pt")
    old.with_name("old.pt.json").write_text(json.dumps({"input_size": 224, "resize": 256}))
    assert read_sidecar(old) == {"input_size": 224, "resize": 256}
