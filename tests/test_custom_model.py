"""Bring your own network: a real 2-class task (is the photograph in colour?) with a head
trained here in seconds on frozen EfficientNet-Lite0 features of real photographs, exported
as TorchScript, torch.export (.pt2) and ONNX with inputs in [-1, 1] declared in a sidecar
``M.json``. qsearch must give the accuracy an independent plain-PyTorch loop gives, and a wrong
declaration must change the figure (the declaration is really used)."""

from __future__ import annotations

import io
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from qsearch.cli import main
from qsearch.images import InputGeometry
from realdata import photos

GRAY = {"brick", "camera", "cell", "coins", "grass", "gravel", "moon", "page"}
DECLARED = {
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
    "input_size": 224,
    "resize": 256,
    "interpolation": "bicubic",
}


def to_input(rgb: Image.Image) -> torch.Tensor:
    x = torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return (x - 0.5) / 0.5


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    """An ImageFolder (colour/, gray/) of real photographs and a trained 2-class network."""
    from qsearch.models import load_classifier

    root = tmp_path_factory.mktemp("task")
    crop = InputGeometry.centre_crop()
    for path in photos():
        label = "gray" if path.stem in GRAY else "colour"
        (root / "data" / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "data" / label / path.name)
    backbone = load_classifier(device="cpu").module
    backbone.reset_classifier(0)
    files = sorted((root / "data").rglob("*.*"))
    labels = torch.tensor([0 if f.parent.name == "colour" else 1 for f in files])
    with torch.no_grad():
        features = torch.cat(
            [
                backbone(to_input(Image.fromarray(crop(np.asarray(Image.open(f).convert("RGB"))))))
                for f in files
            ]
        )
    head = torch.nn.Linear(features.shape[1], 2)
    optimiser = torch.optim.Adam(head.parameters(), lr=0.01)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(head(features), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():  # a softer head: same decisions, probabilities that move with the inputs
        head.weight /= 20
        head.bias /= 20
    network = torch.nn.Sequential(backbone, head).eval()
    example = torch.zeros(1, 3, 224, 224)
    models = root / "models"
    models.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(network, example).save(str(models / "colour.pt"))
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.export.save(
            torch.export.export(
                network, (torch.zeros(2, 3, 224, 224),), dynamic_shapes=({0: batch},)
            ),
            str(models / "colour.pt2"),
        )
        torch.onnx.export(
            network,
            example,
            str(models / "colour.onnx"),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
            dynamo=False,
        )
    for suffix in ("pt", "pt2", "onnx"):
        (models / f"colour.{suffix}.json").write_text(json.dumps(DECLARED))
    return {"root": root, "network": network, "files": files, "labels": labels}


def on_the_task(task) -> list[str]:
    """Command-line arguments: the task's images and its TorchScript model."""
    return [
        "--data",
        str(task["root"] / "data"),
        "--model",
        str(task["root"] / "models" / "colour.pt"),
    ]


def independent(task, quality: int) -> tuple[float, float]:
    """top-1 and mean log-probability of the true class: Pillow's resize, crop, JPEG at
    ``quality`` and decode, then the network in plain PyTorch."""
    crop = InputGeometry.centre_crop()
    correct, logprob = 0.0, 0.0
    for path, label in zip(task["files"], task["labels"].tolist()):
        buffer = io.BytesIO()
        Image.fromarray(crop(np.asarray(Image.open(path).convert("RGB")))).save(
            buffer, "JPEG", quality=quality
        )
        with torch.no_grad():
            log_probs = torch.log_softmax(
                task["network"](to_input(Image.open(buffer).convert("RGB"))), 1
            )[0]
        correct += float(log_probs.argmax() == label)
        logprob += float(log_probs[label])
    return correct / len(task["files"]), logprob / len(task["files"])


def evaluate(task, model: str, capsys, *extra: str) -> dict:
    """``qsearch evaluate --json`` of IJG quality 50 on the task's images with ``model``."""
    capsys.readouterr()
    arguments = ["evaluate", "--data", str(task["root"] / "data"), "--model", model]
    assert main([*arguments, "--forward", "fp32", "--quality", "50", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "suffix",
    [
        "pt",
        pytest.param("pt2", marks=pytest.mark.slow),
        pytest.param("onnx", marks=pytest.mark.slow),
    ],
)
def test_a_two_class_model_file_scores_as_a_plain_pytorch_loop(task, capsys, suffix):
    metrics = evaluate(task, str(task["root"] / "models" / f"colour.{suffix}"), capsys)
    top1, logprob = independent(task, 50)
    assert metrics["top1"] == pytest.approx(top1, abs=1 / 17 + 1e-9) and metrics["top1"] >= 0.8
    assert metrics["logprob"] == pytest.approx(logprob, abs=0.002)
    assert "top5" not in metrics  # two classes: no top-5


def test_the_sidecar_declaration_is_used(task, tmp_path, capsys):
    model = tmp_path / "colour.pt"
    shutil.copy(task["root"] / "models" / "colour.pt", model)
    (tmp_path / "colour.pt.json").write_text(
        json.dumps({**DECLARED, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
    )
    wrong = evaluate(task, str(model), capsys)
    right = evaluate(task, str(task["root"] / "models" / "colour.pt"), capsys)
    assert abs(wrong["logprob"] - right["logprob"]) > 0.02  # ten times the gap to the loop
    overridden = evaluate(task, str(model), capsys, "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5")
    assert overridden["logprob"] == pytest.approx(right["logprob"], abs=1e-6)


def test_a_short_search_on_the_custom_model(task, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                *on_the_task(task),
                "--forward",
                "fp32",
                "--searcher",
                "quality",
                "--budget",
                "3",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3
    top1, logprob = independent(task, 5)  # the quality sweep starts at IJG quality 5
    assert trials.loc[0, "top1"] == pytest.approx(top1, abs=1 / 17 + 1e-9)
    assert trials.loc[0, "logprob"] == pytest.approx(logprob, abs=0.002)
    identity = json.loads((out / "summary.json").read_text())["identity"]
    assert identity["normalisation"] == "mean 0.5,0.5,0.5, std 0.5,0.5,0.5" and identity[
        "labels"
    ].startswith("folders")


def test_labels_beyond_the_outputs_and_top5_on_two_classes_are_one_line(task, tmp_path, capsys):
    (tmp_path / "map.json").write_text('{"colour": 0, "gray": 7}')
    assert (
        main(
            [
                "evaluate",
                *on_the_task(task),
                "--class-map",
                str(tmp_path / "map.json"),
                "--quality",
                "50",
            ]
        )
        == 2
    )
    assert "label 7 is beyond the network's 2 outputs" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                *on_the_task(task),
                "--metric",
                "top5",
                "--budget",
                "2",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "--metric 'top5' is not reported by this evaluator" in capsys.readouterr().err


def test_model_describe_writes_the_sidecar_it_uses(task, tmp_path, capsys):
    model = tmp_path / "net.pt"
    shutil.copy(task["root"] / "models" / "colour.pt", model)
    assert (
        main(
            [
                "model",
                "describe",
                str(model),
                "--mean",
                "0.5,0.5,0.5",
                "--std",
                "0.5,0.5,0.5",
                "--input-size",
                "224",
                "--resize",
                "256",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "net.pt.json").read_text()) == {"task": "classify", **DECLARED}


def test_an_onnx_model_exported_for_one_batch_size_is_run_that_many_at_a_time(
    task, tmp_path, capsys
):
    """17 images through a model fixed at batch 4: the last batch padded, the figures those of
    the model with a dynamic batch."""
    model = tmp_path / "fixed.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            task["network"], torch.zeros(4, 3, 224, 224), str(model),
            input_names=["x"], output_names=["y"], dynamo=False,
        )  # fmt: skip
    (tmp_path / "fixed.onnx.json").write_text(json.dumps(DECLARED))
    fixed = evaluate(task, str(model), capsys)
    dynamic = evaluate(task, str(task["root"] / "models" / "colour.onnx"), capsys)
    assert fixed["top1"] == dynamic["top1"]
    assert fixed["logprob"] == pytest.approx(dynamic["logprob"], abs=1e-4)
