"""A task is one module plus an entry point: a toy task written into a temporary package (its
own output reader, evaluator and metric, lower-is-better) is found through the
``qsearch.tasks`` entry-point group, passes the task conformance suite, and runs
``qsearch run --task toy`` end to end with its own network file; the built-in ``detect`` task
passes the same suite on a small real detector."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import torch
from pluginpackage import installed_plugin
from tinydetector import write_tiny_detector

from qsearch.cli import main
from qsearch.testing import TaskSetting, TaskSuite
from realdata import photos

TOY = '''
"""A toy task: a network that gives each image's mean colour, judged by how far compression
moves that colour from the uncompressed image's."""
import numpy as np

from qsearch.search.evaluator import EVALUATORS
from qsearch.search.metrics import MetricSpec
from qsearch.tasks.evaluation import TaskEvaluator
from qsearch.tasks.task import Task


class ColourHead:
    def __init__(self, output):
        if output != "rgb":
            raise ValueError(f"output {output!r} must be rgb")
        self.output = output

    def describe(self):
        return "mean colour (rgb)"


class ToyTask(Task):
    """Mean colour: how far compression moves a network's mean-colour output."""

    name = "toy"
    evaluator = "toy-colour"
    labels = "none"
    head_keys = ("output",)

    def head(self, given):
        return ColourHead(given["output"])

    def read_labels(self, path, names, sizes, head, class_map):
        raise ValueError("the toy task takes no labels")


@EVALUATORS.register()
class ColourEvaluator(TaskEvaluator):
    """How far compression moves a network's mean colour (toy task)."""

    name = "toy-colour"
    task = "toy"
    metric_specs = (
        MetricSpec("colour_shift", higher_is_better=False, bounds=(0, 255),
                   description="mean absolute move of the output colour, grey levels"),
    )

    def read(self, output, index):
        return np.asarray(output, dtype=np.float64).reshape(-1)

    def records(self, outputs):
        shifts = [float(np.abs(o - u).mean()) for o, u in zip(outputs, self._uncompressed)]
        return {"colour_shift": shifts}

    def pooled(self, records):
        return {"colour_shift": float(np.mean(records["colour_shift"]))}


TOY = ToyTask()
'''

DECLARATION = {
    "task": "toy", "input_size": 64, "resize": "stretch", "channels": "rgb", "scale": 1,
    "mean": 0, "std": 1, "layout": "nchw", "output": "rgb",
}  # fmt: skip


class MeanColour(torch.nn.Module):
    """A real (if tiny) network file: the mean of each channel, through a 1x1 convolution."""

    def __init__(self):
        super().__init__()
        self.mix = torch.nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.eye(3).reshape(3, 3, 1, 1))
            self.mix.bias.zero_()

    def forward(self, x):
        return self.mix(x).mean((2, 3))


@pytest.fixture(scope="module")
def toy_package(tmp_path_factory):
    """The toy task's package and its entry points, importable for this module's tests."""
    entry_points = (
        "[qsearch.tasks]\ntoy = qsearch_toy:TOY\n"
        "[qsearch.evaluators]\ntoy-colour = qsearch_toy:ColourEvaluator\n"
    )
    with installed_plugin(tmp_path_factory.mktemp("site"), "qsearch_toy", TOY, entry_points) as root:
        yield root


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "colour.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(MeanColour().eval(), (torch.zeros(1, 3, 64, 64),), str(path),
                          input_names=["images"], output_names=["colour"], dynamo=False,
                          opset_version=13)  # fmt: skip
    path.with_name(path.name + ".json").write_text(json.dumps(DECLARATION))
    return path


class TestTheToyTaskPassesTheTaskSuite(TaskSuite):
    @pytest.fixture
    def task_setting(self, toy_package, toy_model):
        return TaskSetting("toy", toy_model, photos(3))


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return write_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


class TestTheDetectTaskPassesTheTaskSuite(TaskSuite):
    @pytest.fixture
    def task_setting(self, detector):
        return TaskSetting("detect", detector, photos(3))


def test_a_task_from_another_package_runs_from_the_cli(toy_package, toy_model, tmp_path, capsys):
    """``--task toy`` is offered, searched with its own lower-is-better metric (the front falls
    with bits), reported, and listed with its metric."""
    out = tmp_path / "run"
    arguments = [
        "run", "--task", "toy", "--model", str(toy_model), "--searcher", "quality",
        "--budget", "5", "--floor", "3", "--absolute-floor", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(arguments) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 5 and (trials["colour_shift"] >= 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["identity"]["task"] == "toy"
    front = pd.read_csv(out / "front.csv").sort_values("bpp")
    assert front["colour_shift"].is_monotonic_decreasing  # lower is better: more bits, less shift
    assert len(front) >= 2
    capsys.readouterr()
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "toy          Mean colour" in listed
    assert (
        "colour_shift: mean absolute move of the output colour, grey levels (lower is better"
        in listed
    )


def test_a_metric_declared_twice_differently_is_refused():
    from qsearch.errors import QSearchError
    from qsearch.search.metrics import MetricSpec, declare

    declare([MetricSpec("twice", higher_is_better=False)])
    with pytest.raises(QSearchError, match="metric 'twice' is declared twice"):
        declare([MetricSpec("twice")])


@pytest.mark.parametrize("higher", [True, False])
@pytest.mark.parametrize("log_scale", [True, False])
def test_a_share_inverts_the_operating_target_in_every_direction_and_scale(higher, log_scale):
    from qsearch.search.metrics import MetricSpec

    spec = MetricSpec("any", higher_is_better=higher, log_scale=log_scale)
    for fraction in (0.5, 0.95, 0.98):
        target = spec.operating_target(2.0, fraction)
        assert spec.share_of_uncompressed(target, 2.0) == pytest.approx(fraction)
        assert spec.sign * target < spec.sign * 2.0  # the target is worse than uncompressed
