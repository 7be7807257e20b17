"""Detectors and segmenters adapt like classifiers: a small YOLOX-layout ONNX detector built
here is converted to a trainable module, adapted without labels on real photographs (its
divergence falls), and exported back to ONNX with the base file's input and output names and
shapes and outputs equal to the adapted module's; the adapter applied at evaluation gives the
exported file's figures; a TFLite model is refused in one line; and the shared YOLOX-Nano
adapts at a tiny budget with the same contract (CI). An adapter of one task is refused
for another, classifiers included, by the one function that applies adapters."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from tinydetector import TINY, write_tiny_detector

from qsearch.cli import main
from qsearch.errors import QSearchError
from qsearch.images import load_images
from qsearch.models.adapt import ADAPTER, Adaptation, adapt
from qsearch.models.adapter import AdapterFile, apply_adapter
from qsearch.tasks.adapt import TaskLearner
from qsearch.tasks.export import adapted_task_module
from realdata import COCO128, DECLARATIONS, SHARED_MODELS, YOLOX, photos

QUICK = Adaptation(
    epochs=3, batch_size=3, learning_rate=3e-3, drift=1.0, learn="biases", qualities=(5, 15)
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_detector(tmp_path_factory.mktemp("tiny") / "tiny.onnx")


@pytest.fixture(scope="module")
def stored():
    return load_images([str(p) for p in photos(6)], compress_at="source", labels="none")


@pytest.fixture(scope="module")
def adapted(tiny, stored, tmp_path_factory):
    return adapt(TaskLearner(tiny, "detect"), stored, tmp_path_factory.mktemp("adapted"), QUICK)


def _contract(path):
    graph = onnx.load(str(path)).graph
    shape = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in graph.input]
    return [v.name for v in graph.input], shape, [v.name for v in graph.output]


def test_the_converted_detector_adapts_and_its_divergence_falls(adapted, tiny):
    first, last = adapted.history[0], adapted.history[adapted.best_epoch]
    assert first["uncompressed_divergence"] == pytest.approx(0.0, abs=1e-6)
    assert last["loss"] < first["loss"]
    stored = AdapterFile.read(adapted.path)
    assert stored.task == "detect" and all(name.endswith("bias") for name in stored.tensors)
    assert json.loads(adapted.path.with_name(ADAPTER + ".json").read_text()) == TINY


def test_the_exported_onnx_keeps_the_contract_and_the_adapted_outputs(adapted, tiny, tmp_path):
    out = tmp_path / "adapted.onnx"
    assert (
        main(["model", "export", str(adapted.path), "--model", str(tiny), "--out", str(out)]) == 0
    )
    assert _contract(out) == _contract(tiny)
    assert json.loads(out.with_name("adapted.onnx.json").read_text()) == TINY
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 128, 128)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    exported = session.run(None, {"images": x})[0]
    with torch.no_grad():
        module = adapted_task_module(AdapterFile.read(adapted.path), tiny, "detect")
        module = module(torch.from_numpy(x))
    np.testing.assert_allclose(exported, module.numpy(), atol=1e-5)
    base = onnxruntime.InferenceSession(str(tiny), providers=["CPUExecutionProvider"])
    assert not np.allclose(base.run(None, {"images": x})[0], exported, atol=1e-5)


def test_the_adapter_at_evaluation_gives_the_exported_files_figures(adapted, tiny, tmp_path,
                                                                    capsys):  # fmt: skip
    out = tmp_path / "adapted.onnx"
    assert (
        main(["model", "export", str(adapted.path), "--model", str(tiny), "--out", str(out)]) == 0
    )
    capsys.readouterr()
    common = ["evaluate", "--task", "detect", "--quality", "40", "--json", "--limit", "6"]
    assert main([*common, "--model", str(tiny), "--adapter", str(adapted.path)]) == 0
    with_adapter = json.loads(capsys.readouterr().out)
    assert main([*common, "--model", str(out)]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert with_adapter["map_ref"] == pytest.approx(from_file["map_ref"], abs=1e-6)
    assert with_adapter["bytes"] == from_file["bytes"]
    assert main([*common, "--model", str(tiny)]) == 0
    frozen = json.loads(capsys.readouterr().out)
    assert frozen["boxes_per_image"] != with_adapter["boxes_per_image"] or (
        frozen["map_ref"] != with_adapter["map_ref"]
    )


def test_an_adapter_on_another_detector_is_refused_in_one_line(adapted, tmp_path, capsys):
    other = write_tiny_detector(tmp_path / "other.onnx", shift=1.0)
    arguments = ["evaluate", "--task", "detect", "--quality", "40", "--limit", "2"]
    assert main([*arguments, "--model", str(other), "--adapter", str(adapted.path)]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and "not " + str(other) in error[0]


def test_an_adapter_of_one_task_is_refused_for_another_by_the_one_applying_path(
    adapted, tiny, classifier
):
    with pytest.raises(QSearchError, match=r"adapts a detect network, not a classify one; give it"):
        apply_adapter(classifier, adapted.path)
    with pytest.raises(QSearchError, match=r"adapts a detect network, not a segment one"):
        adapted_task_module(AdapterFile.read(adapted.path), tiny, "segment")
    assert classifier.name == "efficientnet_lite0"  # the base is kept as it was


def test_a_tflite_model_is_refused_for_adaptation_in_one_line(tmp_path, capsys):
    from test_segmentation import wheel_segmenter

    model = wheel_segmenter()
    if model is None:
        pytest.skip("mediapipe==0.10.21 is not installed (make test installs it for its model)")
    arguments = ["adapt", "--task", "segment", "--model", str(model), "--declare",
                 f"@{DECLARATIONS / 'selfie_segmentation.json'}"]  # fmt: skip
    assert main([*arguments, "--limit", "2", "--out", str(tmp_path / "out")]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert (
        len(error) == 1
        and "a TFLite model cannot be trained here; give the same network as" in (error[0])
    )


def test_the_learnable_sets_are_what_their_names_say(tiny):
    learner = TaskLearner(tiny, "detect")
    named = dict(learner.module.named_parameters())
    for learn, kept in (
        ("biases", lambda n: n.endswith("bias")),
        ("head", lambda n: n.replace(".", "/").split("/")[0] == "head"),
        ("all", lambda n: True),
    ):
        chosen = {id(p) for p in learner.trainable(learner.module, learn)}
        assert chosen == {id(p) for n, p in named.items() if kept(n)} and chosen
    with pytest.raises(QSearchError, match="learns one of biases, head, batchnorm, all"):
        learner.trainable(learner.module, "everything")


@pytest.mark.coco
def test_the_shared_yolox_nano_adapts_and_exports_with_its_contract(tmp_path):
    model = SHARED_MODELS / "yolox_nano.onnx"
    images = load_images(COCO128 / "images" / "train2017", compress_at="source", labels="none",
                         limit=4)  # fmt: skip
    quick = dataclasses.replace(QUICK, epochs=1, learning_rate=1e-4)
    result = adapt(TaskLearner(model, "detect", YOLOX), images, tmp_path / "a", quick)
    assert result.history[1]["loss"] < result.history[0]["loss"]
    out = tmp_path / "adapted.onnx"
    arguments = ["model", "export", str(result.path), "--model", str(model), "--out", str(out)]
    assert main(arguments) == 0
    assert _contract(out) == _contract(model)
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 416, 416)).astype(np.float32)
    exported = onnxruntime.InferenceSession(str(out)).run(None, {"images": x})[0]
    with torch.no_grad():
        module = adapted_task_module(AdapterFile.read(result.path), model, "detect")
        module = module(torch.from_numpy(x))
    np.testing.assert_allclose(exported, module.numpy(), atol=1e-4)
