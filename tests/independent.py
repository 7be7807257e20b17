"""An independent judge of YOLOX-Nano files: decoded with PIL, letterboxed, run with ONNX
Runtime and decoded with numpy as the model's README says (letterbox top-left on 114, BGR
0..255, grid heads, objectness x best class > 0.01, NMS 0.65), boxes scaled back to the stored
image by a recorded scale, and scored by pycocotools: nothing of qsearch's decoding. Used by the
tests and by benchmarks that check what qsearch reports."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Sent:
    """A file as the receiver gets it, the label file of its stored image, the stored size and
    the scale its pixels were sent at (sent width / stored width)."""

    file: Path
    labels: Path
    stored: tuple[int, int]
    scale: float = 1.0


def coco_ground_truth(images: list[dict], truth: list[dict]):
    """A pycocotools ``COCO`` of the boxes ``truth`` on ``images`` (80 classes), indexed."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {
        "images": images,
        "annotations": truth,
        "categories": [{"id": i} for i in range(80)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_eval(images: list[dict], truth: list[dict], found: list[dict]) -> tuple[float, float]:
    """(mAP@[.5:.95], AP50) by pycocotools."""
    from pycocotools.cocoeval import COCOeval

    coco = coco_ground_truth(images, truth)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(found), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0]), float(evaluation.stats[1])


def yolox_map(detector: Path, sent: list[Sent]) -> tuple[float, float]:
    """(mAP, AP50) of the detector on the files ``sent`` against their stored images' YOLO
    labels."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(detector), providers=["CPUExecutionProvider"])
    images, truth, found = [], [], []
    for k, item in enumerate(sent):
        h, w = item.stored
        images.append({"id": k, "width": w, "height": h})
        truth.extend(_truth(item.labels, k, w, h, len(truth)))
        found.extend(_detections(session, item, k))
    return coco_eval(images, truth, found)


def _truth(labels: Path, k: int, w: int, h: int, first: int) -> list[dict]:
    found = []
    for line in labels.read_text().split("\n") if labels.exists() else []:
        if line.strip():
            c, cx, cy, bw, bh = map(float, line.split())
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
            found.append({"id": first + len(found) + 1, "image_id": k, "category_id": int(c),
                          "bbox": box, "area": box[2] * box[3], "iscrowd": 0})  # fmt: skip
    return found


def _grid(size: int = 416) -> tuple[np.ndarray, np.ndarray]:
    cells = [(size // s, s) for s in (8, 16, 32)]
    grid = np.concatenate([
        np.stack(np.meshgrid(np.arange(n), np.arange(n))[::-1], -1)[..., ::-1].reshape(-1, 2)
        for n, _ in cells
    ])  # fmt: skip
    return grid, np.concatenate([np.full((n * n, 1), s) for n, s in cells])


def _detections(session, item: Sent, k: int) -> list[dict]:
    import torch
    from PIL import Image
    from torchvision.ops import batched_nms

    image = np.asarray(Image.open(item.file).convert("RGB"))
    h, w = image.shape[:2]
    r = min(416 / h, 416 / w)
    canvas = np.full((416, 416, 3), 114, np.uint8)
    nh, nw = round(h * r), round(w * r)
    canvas[:nh, :nw] = np.asarray(
        Image.fromarray(image).resize((nw, nh), Image.Resampling.BILINEAR)
    )
    out = session.run(
        None, {"images": canvas[..., ::-1].transpose(2, 0, 1)[None].astype(np.float32)}
    )
    out = out[0][0]
    grid, stride = _grid()
    centre, size = (out[:, :2] + grid) * stride, np.exp(out[:, 2:4]) * stride
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) / r / item.scale
    classes = out[:, 5:].argmax(1)
    scores = out[:, 4] * out[np.arange(len(out)), 5 + classes]
    keep = scores > 0.01
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    kept = batched_nms(
        torch.tensor(boxes, dtype=torch.float32),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(classes),
        0.65,
    )
    found = []
    for j in kept.numpy():
        x1, y1, x2, y2 = (float(v) for v in boxes[j])
        found.append({"image_id": k, "category_id": int(classes[j]),
                      "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(scores[j])})  # fmt: skip
    return found
