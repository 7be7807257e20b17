"""Adapting the real EfficientNet-Lite0 to real JPEG files of real photographs, without labels:
the divergence it trains on falls while the uncompressed outputs stay close, an interrupted
adaptation resumed gives the same weights as an uninterrupted one, the model file written
gives the network's own outputs and is taken by every command, and a network that cannot
learn is refused in one line."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from qsearch import QSearchError
from qsearch.cli import main
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.models.adapt import Adaptation, adapt, trainable, write_onnx
from realdata import photos

QUICK = Adaptation(epochs=2, batch_size=3, learning_rate=5e-4)


@pytest.fixture(scope="module")
def frozen():
    return load_classifier(device="cpu")


@pytest.fixture(scope="module")
def pictures(frozen):
    return load_images(photos(6), preprocessing=frozen.preprocessing)


@pytest.fixture(scope="module")
def adapted(frozen, pictures, tmp_path_factory):
    return adapt(frozen, pictures, tmp_path_factory.mktemp("adapted"), QUICK)


def test_batchnorm_adaptation_learns_only_the_batchnorm_affine_weights(frozen):
    learning = trainable(frozen.module, "batchnorm")
    share = sum(p.numel() for p in learning) / sum(p.numel() for p in frozen.module.parameters())
    assert 0.001 < share < 0.01  # about 0.3% of EfficientNet-Lite0's weights


def test_the_divergence_falls_and_the_uncompressed_outputs_stay_close(adapted, frozen):
    first, last = adapted.history[0], adapted.history[-1]
    assert first["uncompressed_kl"] == pytest.approx(0.0, abs=1e-6)  # epoch 0: the frozen network
    assert last["loss"] < 0.85 * first["loss"]
    assert last["uncompressed_kl"] < 0.25 * first["loss"]
    for original, copy in zip(frozen.module.parameters(), adapted.classifier.module.parameters()):
        assert not copy.requires_grad and not original.requires_grad  # the frozen one untouched


def test_the_model_file_gives_the_networks_own_outputs_and_every_command_takes_it(
    adapted, pictures, capsys
):
    loaded = load_classifier(str(adapted.path), device="cpu")  # its sidecar declares the inputs
    batch = pictures.network_inputs()
    assert torch.allclose(
        loaded.log_probs(batch), adapted.classifier.log_probs(batch), atol=1e-5, rtol=0
    )
    record = json.loads(adapted.path.with_name(adapted.path.name + ".record.json").read_text())
    assert record["base_model"] == "efficientnet_lite0" and record["epochs_run"] == 2
    arguments = ["evaluate", "--model", str(adapted.path), "--quality", "30", "--json"]
    assert main([*arguments, "--limit", "6", "--forward", "fp32"]) == 0
    from_torchscript = json.loads(capsys.readouterr().out)
    assert 0 < from_torchscript["similarity"] <= 1
    onnx = write_onnx(adapted)  # the same network through ONNX Runtime
    arguments[2] = str(onnx)
    assert main([*arguments, "--limit", "6"]) == 0
    assert json.loads(capsys.readouterr().out)["kl"] == pytest.approx(
        from_torchscript["kl"], abs=1e-4
    )


def test_an_interrupted_adaptation_resumed_gives_the_uninterrupted_weights(
    frozen, pictures, adapted, tmp_path
):
    one = Adaptation(**{**QUICK.__dict__, "epochs": 1})
    adapt(frozen, pictures, tmp_path, one)  # stopped after its first epoch
    resumed = adapt(frozen, pictures, tmp_path, QUICK)  # the same call, a larger budget
    batch = pictures.network_inputs()
    assert torch.equal(resumed.classifier.log_probs(batch), adapted.classifier.log_probs(batch))
    assert resumed.history == adapted.history


def test_a_resume_with_other_settings_is_refused_naming_them(frozen, pictures, tmp_path):
    adapt(frozen, pictures, tmp_path, Adaptation(epochs=1, batch_size=3))
    with pytest.raises(QSearchError, match="adaptation: .* -> "):
        adapt(frozen, pictures, tmp_path, Adaptation(epochs=1, batch_size=3, seed=5))


def test_a_network_that_cannot_learn_is_refused_in_one_line(tmp_path, capsys):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=4), torch.nn.Flatten(1))
    module = torch.nn.Sequential(module[0], torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(1))
    path = tmp_path / "frozen.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.zeros(1, 3, 224, 224), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})  # fmt: skip
    path.with_name("frozen.onnx.json").write_text(json.dumps({"mean": [0.5] * 3, "std": [0.5] * 3}))
    arguments = ["adapt", "--model", str(path), "--limit", "3", "--out", str(tmp_path / "out")]
    assert main(arguments) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and "adapt needs a trainable network" in error[0]
    assert not (tmp_path / "out" / "adapted.pt").exists()


def test_adapting_to_one_table_from_the_command_line(tmp_path, capsys):
    from qsearch import QTable

    QTable.from_quality(20).save(tmp_path / "q20.txt")
    arguments = ["adapt", "--limit", "4", "--epochs", "1", "--batch", "2", "--quiet"]
    out = tmp_path / "out"
    assert main([*arguments, "--qtable", str(tmp_path / "q20.txt"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 0 (frozen)" in printed and "epoch 1:" in printed
    record = json.loads((out / "adapted.pt.record.json").read_text())
    assert record["adapted_to"]["adapted_to"] == f"tables {QTable.from_quality(20).key[:12]}"
    assert np.isfinite(record["history"][-1]["loss"])
