"""A small detector with YOLOX's output layout, built with torch and exported to ONNX as
YOLOX-Nano is (fixed batch of one, opset 13), for tests that need a real detector file in a
user's clone (no COCO detector with weights installs from PyPI)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

TINY = {
    "task": "detect", "input_size": 128, "resize": "letterbox", "pad": 114, "channels": "rgb",
    "scale": 1, "mean": 0, "std": 1, "layout": "nchw", "output": "yolox", "classes": 2,
    "strides": [8, 16, 32], "score_threshold": 0.01, "nms_iou": 0.65,
}  # fmt: skip


class TinyDetector(torch.nn.Module):
    """YOLOX's output layout at 128 px: rows of x, y, w, h, objectness, 2 class scores, one row
    a cell of strides 8, 16 and 32 (probabilities through a sigmoid, as YOLOX exports them)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.head = torch.nn.Conv2d(8, 7, 1)
        with torch.no_grad():  # edge detectors: what JPEG's quantisation takes away
            self.features.weight.normal_(0, 3.0)

    def forward(self, x):
        features = torch.relu(self.features(x / 255.0))
        rows = []
        for stride in (8, 16, 32):
            cells = self.head(torch.nn.functional.max_pool2d(features, stride))
            cells = cells.flatten(2).transpose(1, 2)
            rows.append(torch.cat([cells[..., :4], torch.sigmoid(cells[..., 4:])], -1))
        return torch.cat(rows, 1)


def write_tiny_detector(path: Path, shift: float = 0.0) -> Path:
    """The detector as ``path`` (ONNX) with its declaration beside it; ``shift`` moves its
    head's biases (another network of the same shape)."""
    module = TinyDetector().eval()
    with torch.no_grad():
        module.head.bias += shift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 3, 128, 128),), str(path),
                          input_names=["images"], output_names=["output"], dynamo=False,
                          opset_version=13)  # fmt: skip
    path.with_name(path.name + ".json").write_text(json.dumps(TINY))
    return path
