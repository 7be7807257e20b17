"""``qsearch compress --per-image`` as a user runs it, judged by an independent scorer:
calibrated on the 400 search-split sample images, it compresses the 400 test-split images
(never seen by the calibration); the written files are then read back with their own decoder
(Pillow) and resize (torchvision's Resize(256) and CenterCrop(224), bicubic and bilinear) by
EfficientNet-Lite0, top-1 against the ImageNet labels, each receiver against its own top-1 on the
uncompressed test images. Bits (files written with --strip: pixels only) against one IJG quality
for the 400 test images at 98% of their uncompressed top-1 (the dense IJG curve that
benchmarks/per_image.py measured on the same images, log-bpp on its envelope).

    python benchmarks/per_image_cli.py"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from per_image import DENSE, OUT, envelope_bpp
from PIL import Image
from torchvision import transforms

from common import IMAGENET_SAMPLE, SPLITS, classifier, record
from qsearch.cli import main as qsearch
from qsearch.images import load_images

SYNSETS = [line.split()[0] for line in (IMAGENET_SAMPLE / "synsets.txt").read_text().splitlines()]


def label(name: str) -> int:
    return SYNSETS.index(name.split("_")[0])


@torch.inference_mode()
def top1(paths: list[Path], labels: list[int], interpolation) -> float:
    """Share of files whose top class is their label, read with Pillow and torchvision."""
    prepare = transforms.Compose([
        transforms.Resize(256, interpolation=interpolation), transforms.CenterCrop(224),
        transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])  # fmt: skip
    module, hits = classifier().module, 0
    for start in range(0, len(paths), 50):
        batch = [prepare(Image.open(p).convert("RGB")) for p in paths[start : start + 50]]
        found = module(torch.stack(batch)).argmax(1).numpy()
        hits += int((found == np.array(labels[start : start + 50])).sum())
    return hits / len(paths)


def one_quality_bpp(test_names: list[str], target: float) -> float:
    """One IJG quality for the test images at ``target`` of their uncompressed top-1, from the
    dense grid of benchmarks/per_image.py (run it first)."""
    grid = dict(np.load(OUT / f"source-ijg-{len(DENSE)}.npz"))
    names = load_images(IMAGENET_SAMPLE, compress_at="source",
                        preprocessing=classifier().preprocessing).names  # fmt: skip
    index = np.array([names.index(n) for n in test_names])
    bpp = 8 * grid["bytes"][:, index].sum(1) / grid["pixels"][:, index].sum(1)
    accuracy = grid["top1"][:, index].mean(1)
    return envelope_bpp(bpp, accuracy, target * grid["top1_uncompressed"][index].mean())


def main() -> None:
    splits = json.loads(SPLITS.read_text())
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        for split, folder in (("search", "calibrate"), ("test", "send")):
            (root / folder).mkdir()
            for name in splits[split]:
                (root / folder / name).symlink_to(IMAGENET_SAMPLE / name)
        status = qsearch(["compress", "--per-image", "--target", "0.98", "--calibrate",
                          str(root / "calibrate"), "--forward", "fp32", "--strip",
                          str(root / "send"), str(root / "sent")])  # fmt: skip
        assert status == 0
        manifest = pd.read_csv(root / "sent" / "manifest.csv")
        calibration = json.loads((root / "sent" / "per-image.json").read_text())["calibration"]
        originals = [IMAGENET_SAMPLE / Path(s).name for s in manifest["source"]]
        written = [root / "sent" / f for f in manifest["file"]]
        labels = [label(p.name) for p in originals]
        shares = {}
        for name, filter_ in (("bicubic", transforms.InterpolationMode.BICUBIC),
                              ("bilinear", transforms.InterpolationMode.BILINEAR)):  # fmt: skip
            plain, sent = top1(originals, labels, filter_), top1(written, labels, filter_)
            shares[name] = (sent / plain, sent, plain)
        bpp = 8 * manifest["bytes"].sum() / manifest["pixels"].sum()
        reference = one_quality_bpp([p.name for p in originals], 0.98)
    lines = [
        "`python benchmarks/per_image_cli.py`: `qsearch compress --per-image --target 0.98 "
        "--calibrate SEARCH-SPLIT --strip TEST-SPLIT OUT` (EfficientNet-Lite0 fp32, IJG "
        "qualities 5..100, threshold rule, margin 0.5), the 400 test images judged by an "
        "independent scorer (Pillow's decoder, torchvision's resize and crop).",
        f"- calibration on the 400 search images: {calibration['rule']} "
        f"{calibration['parameter']} {calibration['value']:.3g}, top-1 "
        f"{calibration['reached']:.4f} of {calibration['uncompressed']:.4f}, one quality there "
        f"q{calibration['one_quality']}",
        *(f"- receiver resizing {name}: top-1 {sent:.4f} against {plain:.4f} uncompressed: "
          f"**{100 * share:.1f}%** kept" for name, (share, sent, plain) in shares.items()),
        f"- bits: {bpp:.3f} bpp per stored pixel (median quality "
        f"{manifest['quality'].median():g}); one IJG quality for the same 400 images at 98% of "
        f"their uncompressed top-1: {reference:.3f} bpp: **{100 * (bpp / reference - 1):+.1f}%**",
    ]  # fmt: skip
    record("Per-image rate control: the command, judged independently", "\n".join(lines))


if __name__ == "__main__":
    main()
