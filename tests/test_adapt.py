"""Adapting the real EfficientNet-Lite0 to real JPEG files of real photographs, without labels:
the divergence it trains on falls while the uncompressed outputs stay close, an interrupted
adaptation resumed gives the same weights as an uninterrupted one, what is written is an
adapter (the learned tensors only) that gives the adapted network's outputs over its base and
through the model files exported from it, a base with other weights is refused, and an
adaptation that learned nothing worth keeping writes nothing."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from qsearch import QSearchError
from qsearch.cli import main
from qsearch.folders import lock_folder
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.models.adapt import ADAPTER, RECORD, Adaptation, adapt
from qsearch.models.adapter import AdapterFile, apply_adapter
from qsearch.models.learner import trainable
from realdata import photos

QUICK = Adaptation(epochs=2, batch_size=3, learning_rate=5e-4, drift=1.0, changed=1.0)


@pytest.fixture(scope="module")
def frozen():
    return load_classifier(device="cpu")


@pytest.fixture(scope="module")
def pictures(frozen):
    return load_images(photos(6), preprocessing=frozen.preprocessing)


@pytest.fixture(scope="module")
def adapted(frozen, pictures, tmp_path_factory):
    return adapt(frozen, pictures, tmp_path_factory.mktemp("adapted"), QUICK)


def test_batchnorm_adaptation_learns_exactly_the_batchnorm_scales_and_shifts(frozen):
    learning = {id(p) for p in trainable(frozen.module, "batchnorm")}
    norms = [m for m in frozen.module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    expected = {id(p) for m in norms for p in (m.weight, m.bias)}
    assert norms and learning == expected
    head = trainable(frozen.module, "head")
    assert [p.shape for p in head] == [torch.Size([1000, 1280]), torch.Size([1000])]


def test_the_divergence_falls_and_the_uncompressed_outputs_stay_close(adapted, frozen):
    first, last = adapted.history[0], adapted.history[-1]
    assert first["uncompressed_kl"] == pytest.approx(0.0, abs=1e-6)  # epoch 0: the frozen network
    assert last["loss"] < 0.85 * first["loss"]
    assert last["uncompressed_kl"] < 0.25 * first["loss"]
    for original, copy in zip(frozen.module.parameters(), adapted.network.module.parameters()):
        assert not copy.requires_grad and not original.requires_grad  # the frozen one untouched


def test_the_adapter_holds_only_the_learned_tensors_and_names_its_base(adapted, frozen):
    stored = AdapterFile.read(adapted.path)
    names = {n for n, m in frozen.module.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert set(stored.tensors) == {f"{n}.{w}" for n in names for w in ("weight", "bias")}
    assert stored.base_model == "efficientnet_lite0"
    assert stored.base_sha256 == frozen.weights_digest
    base_bytes = sum(p.numel() * 4 for p in frozen.module.parameters())
    assert adapted.path.stat().st_size < 0.02 * base_bytes
    changed = [n for n, t in stored.tensors.items()
               if not torch.equal(t, frozen.module.state_dict()[n].cpu())]  # fmt: skip
    assert changed  # it learned something, and that is what it stores
    record = json.loads((adapted.path.parent / RECORD).read_text())
    assert record["base_weights_sha256"] == frozen.weights_digest
    assert record["best_epoch"] == adapted.best_epoch >= 1
    assert record["validation"] == "none: the epoch was chosen on the images adapted on"


def test_the_adapter_over_its_base_gives_the_exported_models_outputs(adapted, pictures, tmp_path,
                                                                     capsys):  # fmt: skip
    batch = pictures.network_inputs()
    expected = adapted.network.log_probs(batch)
    again = apply_adapter(load_classifier(device="cpu"), adapted.path)
    assert torch.equal(again.log_probs(batch), expected)
    for name in ("served.pt", "served.onnx"):
        out = tmp_path / name
        assert main(["model", "export", str(adapted.path), "--out", str(out)]) == 0
        served = load_classifier(str(out), device="cpu")  # its sidecar declares the inputs
        assert torch.allclose(served.log_probs(batch), expected, atol=1e-4, rtol=0)
    assert main(["model", "export", str(adapted.path), "--out", str(tmp_path / "served.pt")]) == 2
    assert "already exists; give --overwrite" in capsys.readouterr().err
    arguments = ["evaluate", "--quality", "30", "--json", "--limit", "6", "--forward", "fp32"]
    assert main([*arguments, "--adapter", str(adapted.path)]) == 0
    with_adapter = json.loads(capsys.readouterr().out)
    assert main([*arguments, "--model", str(tmp_path / "served.pt")]) == 0
    assert json.loads(capsys.readouterr().out)["kl"] == pytest.approx(with_adapter["kl"], abs=1e-4)


def test_a_base_with_other_weights_is_refused_in_one_line(adapted, frozen, capsys):
    other = dataclasses.replace(frozen, weights_digest="0" * 64)
    with pytest.raises(QSearchError, match="adapts efficientnet_lite0 .* not efficientnet_lite0"):
        apply_adapter(other, adapted.path)
    arguments = ["evaluate", "--quality", "30", "--limit", "2", "--adapter", str(adapted.path)]
    assert main([*arguments, "--model", "efficientnet_lite1"]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and "not efficientnet_lite1" in error[0]


def test_an_adapter_whose_base_file_is_gone_asks_for_the_base(adapted, frozen, tmp_path):
    base = tmp_path / "base.pt"
    assert main(["model", "export", str(adapted.path), "--out", str(base)]) == 0
    based = load_classifier(str(base), device="cpu")
    moved = tmp_path / "moved"
    images = load_images(photos(6), preprocessing=based.preprocessing)
    with pytest.raises(QSearchError, match="no parameters to learn under --learn batchnorm"):
        adapt(based, images, moved, QUICK)
    adapt(
        based, images, tmp_path / "all", dataclasses.replace(QUICK, learn="all", learning_rate=1e-6)
    )
    moved = tmp_path / "all"
    base.unlink()
    with pytest.raises(QSearchError, match="base model .*base.pt is not here; give --model"):
        from qsearch.models.adapter import load_adapted

        load_adapted(moved / ADAPTER)


def test_an_interrupted_adaptation_resumed_gives_the_uninterrupted_weights(
    frozen, pictures, adapted, tmp_path
):
    one = dataclasses.replace(QUICK, epochs=1)
    adapt(frozen, pictures, tmp_path, one)  # stopped after its first epoch
    resumed = adapt(frozen, pictures, tmp_path, QUICK)  # the same call, a larger budget
    batch = pictures.network_inputs()
    assert torch.equal(resumed.network.log_probs(batch), adapted.network.log_probs(batch))
    assert resumed.history == adapted.history


def test_a_resume_with_other_settings_is_refused_naming_them(frozen, pictures, tmp_path):
    adapt(frozen, pictures, tmp_path, dataclasses.replace(QUICK, epochs=1))
    with pytest.raises(QSearchError, match="adaptation: .* -> "):
        adapt(frozen, pictures, tmp_path, dataclasses.replace(QUICK, epochs=1, seed=5))


def test_an_epoch_that_moves_the_uncompressed_outputs_is_never_kept(frozen, pictures, tmp_path):
    """With no drift allowed, no trained epoch qualifies: nothing is written (the frozen network
    is not handed back as an adapted one)."""
    with pytest.raises(QSearchError, match="no epoch of 2 lowered the validation loss.*no adapter"):
        adapt(frozen, pictures, tmp_path, dataclasses.replace(QUICK, drift=0.0))
    assert not (tmp_path / ADAPTER).exists() and not (tmp_path / RECORD).exists()


def test_an_epoch_that_changes_uncompressed_answers_is_not_kept(frozen, pictures, tmp_path, caplog):
    """Without a validation split a warning says the epoch is chosen on the training images;
    with no answer allowed to change, an epoch that changes one (the drift allowed in full) is
    not kept, and the refusal names the rule."""
    strict = dataclasses.replace(QUICK, changed=0.0, learning_rate=5e-2)
    with pytest.raises(QSearchError, match="at most 0% of the uncompressed answers changed"):
        adapt(frozen, pictures, tmp_path, strict)
    assert "the epoch kept is chosen on the 6 images adapted on" in caplog.text


def test_a_second_adaptation_into_the_same_folder_is_refused(frozen, pictures, tmp_path):
    with lock_folder(tmp_path):  # another process adapting there
        with pytest.raises(QSearchError, match="another qsearch process is writing here"):
            adapt(frozen, pictures, tmp_path, QUICK)


def test_a_folder_of_the_users_own_files_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "adapted.pt").write_bytes(b"the user's model")
    arguments = ["adapt", "--limit", "2", "--quiet", "--out", str(tmp_path)]
    assert main(arguments) == 2
    assert "holds files but no qsearch adapt" in capsys.readouterr().err
    assert (tmp_path / "adapted.pt").read_bytes() == b"the user's model"


def test_several_folders_adapt_together_and_a_judged_split_among_them_is_refused(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, chosen in ((first, photos(4)[:2]), (second, photos(4)[2:])):
        folder.mkdir()
        for path in chosen:
            shutil.copy(path, folder / path.name)
    split = tmp_path / "splits.json"
    names = sorted(p.name for p in first.iterdir())
    split.write_text(json.dumps({"mine": names[:1], "judged": names, "other": names[1:]}))
    out = tmp_path / "out"
    common = ["adapt", "--quiet", "--epochs", "1", "--batch", "2", "--drift", "1"]
    arguments = [*common, "--data", str(first), "--split-file", str(split), "--split", "mine"]
    assert main([*arguments, "--judged-split", "judged", "--out", str(out)]) == 2
    assert "--judged-split 'judged' share 1 of their 2 images" in capsys.readouterr().err
    assert not out.exists() or not (out / ADAPTER).exists()
    assert main([*arguments, "--judged-split", "other", "--out", str(out)]) == 0
    assert main([*common, "--data", str(first), str(second), "--out", str(tmp_path / "both")]) == 0
    record = json.loads((tmp_path / "both" / RECORD).read_text())
    assert record["images"]["images"].startswith("4 images")


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
    assert not (tmp_path / "out" / ADAPTER).exists()


def test_adapting_to_one_table_from_the_command_line(tmp_path, capsys):
    from qsearch import QTable

    QTable.from_quality(20).save(tmp_path / "q20.txt")
    arguments = [
        "adapt",
        "--limit",
        "4",
        "--epochs",
        "1",
        "--batch",
        "2",
        "--quiet",
        "--drift",
        "1",
    ]
    out = tmp_path / "out"
    assert main([*arguments, "--qtable", str(tmp_path / "q20.txt"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 0 (frozen)" in printed and "epoch 1 (kept):" in printed
    record = json.loads((out / RECORD).read_text())
    assert record["adapted_to"]["adapted_to"] == f"tables {QTable.from_quality(20).key[:12]}"
    assert np.isfinite(record["history"][-1]["loss"])
