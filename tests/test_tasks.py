"""A segmenter downstream of the evaluator, in a user's clone: the evaluator contract, every
searcher, the codec ladder and the refusals, with the real selfie segmenter from the
``mediapipe==0.10.21`` wheel (``make test`` installs it) on scikit-image's photographs."""

from __future__ import annotations

import json

import pytest
from test_segmentation import wheel_segmenter

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.images import load_images
from qsearch.search.searcher import SEARCHERS
from qsearch.tables.qtable import QTable
from qsearch.tasks.declaration import load_task_model
from qsearch.testing import EvaluatorSuite
from realdata import DECLARATIONS, SELFIE, photos

pytestmark = pytest.mark.skipif(
    wheel_segmenter() is None,
    reason="mediapipe==0.10.21 is not installed (make test installs it for its model file)",
)


def segment_args(*extra: str) -> list[str]:
    return ["--task", "segment", "--model", str(wheel_segmenter()), "--declare",
            f"@{DECLARATIONS / 'selfie_segmentation.json'}", *extra]  # fmt: skip


class TestSegmenterContract(EvaluatorSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def evaluator(cls):
        from qsearch.evaluators.segmenter import SegmenterEvaluator

        images = load_images([str(p) for p in photos(6)], compress_at="source", labels="none")
        found = SegmenterEvaluator(images, load_task_model(wheel_segmenter(), "segment", SELFIE))
        yield found
        found.close()


def test_a_declaration_file_is_read_whole_and_keys_after_it_win():
    from qsearch.tasks.declaration import parse_declarations

    declared = parse_declarations(
        [f"@{DECLARATIONS / 'selfie_segmentation.json'}", "threshold=0.6"]
    )
    assert declared == {**SELFIE, "threshold": 0.6}


def test_the_codec_ladder_judges_other_formats_by_the_segmenters_figure(tmp_path, capsys):
    out = tmp_path / "ladder"
    argv = ["baseline", *segment_args(), "--codec", "jpeg,webp", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "--compress-at source" in captured.err
    ladder = (out / "ladder.md").read_text()
    assert "| webp | miou_ref |" in ladder and "| ijg | miou_ref |" in ladder


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, _ in SEARCHERS.items()])
def test_every_searcher_runs_on_a_pooled_figure_or_says_why_not(name, tmp_path, capsys):
    argv = ["run", *segment_args(), "--limit", "4", "--searcher", name, "--budget", "3",
            "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    code = main(argv)
    if SEARCHERS[name].needs_network:
        assert code != 0 and "learns from the network" in capsys.readouterr().err
        return
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["identity"]["task"] == "segment" and summary["metric"] == "miou_ref"


def test_early_rejection_is_refused_for_pooled_figures_in_one_line(tmp_path, capsys):
    argv = ["run", *segment_args(), "--limit", "2", "--budget", "2", "--early-rejection",
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("qsearch: error: --early-rejection does not go with --task segment")


def test_a_detector_file_is_refused_for_a_missing_model(capsys):
    assert main(["evaluate", "--task", "detect", "--uncompressed"]) != 0
    assert "--task detect needs --model FILE" in capsys.readouterr().err


def test_the_declaration_names_the_model_file_and_key_it_lacks():
    declared = {k: v for k, v in SELFIE.items() if k != "layout"}
    with pytest.raises(
        QSearchError, match=r"selfie_segmentation.tflite.json \(or --declare\): no 'layout'"
    ):
        load_task_model(wheel_segmenter(), "segment", declared)


def test_a_toml_config_names_the_task_its_model_and_declaration(tmp_path, capsys):
    config = tmp_path / "segment.toml"
    config.write_text(
        f'task = "segment"\nmodel = "{wheel_segmenter()}"\n'
        f'declare = ["@{DECLARATIONS / "selfie_segmentation.json"}", "threshold=0.4"]\n'
        'limit = 2\nbudget = 2\nsearcher = "random"\n'
    )
    out = tmp_path / "run"
    assert main(["run", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    identity = json.loads((out / "summary.json").read_text())["identity"]
    assert identity["task"] == "segment" and "probability > 0.4" in identity["output"]


def test_the_python_api_builds_what_the_command_line_builds(tmp_path, capsys):
    from qsearch.tasks.evaluation import task_evaluator

    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos(3):
        (folder / path.name).write_bytes(path.read_bytes())
    evaluator = task_evaluator("segment", wheel_segmenter(), folder, declared=SELFIE)
    try:
        argv = ["evaluate", *segment_args(), "--data", str(folder), "--quality", "30", "--json"]
        assert main(argv) == 0
        printed = json.loads(capsys.readouterr().out)
        mine = evaluator.evaluate(QTable.from_quality(30))
        assert (mine["miou_ref"], mine["bytes"]) == (printed["miou_ref"], printed["bytes"])
        assert mine["miou_ref"] < 1.0
    finally:
        evaluator.close()
