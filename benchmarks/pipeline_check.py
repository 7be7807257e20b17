"""qsearch's evaluation against an independent implementation of the same pipeline
(torchvision transforms, Pillow's own quality=Q encoder and decoder, the same network).

    python benchmarks/pipeline_check.py [--quality 50] [--split test]
"""

from __future__ import annotations

import argparse
import io

import torch
from PIL import Image
from torchvision import transforms

from common import IMAGENET_SAMPLE, SPLITS, record
from qsearch import QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import imagenet_synsets, load_images
from qsearch.models import load_classifier


def independent(classifier, names: list[str], quality: int) -> tuple[float, float]:
    crop = transforms.Compose(
        [transforms.Resize(256, transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(224)]
    )
    normalise = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)]
    )
    correct, total = 0, 0
    for name in names:
        buffer = io.BytesIO()
        crop(Image.open(IMAGENET_SAMPLE / name).convert("RGB")).save(
            buffer, "JPEG", quality=quality
        )
        total += buffer.tell()
        with torch.no_grad():
            predicted = (
                classifier.module(normalise(Image.open(buffer).convert("RGB"))[None])
                .argmax(1)
                .item()
            )
        correct += predicted == imagenet_synsets().index(name.split("_")[0])
    return correct / len(names), 8 * total / (len(names) * 224 * 224)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", type=int, default=50)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    classifier = load_classifier()
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split=args.split, preprocessing=classifier.preprocessing
    )
    ours = ClassifierEvaluator(images, classifier).evaluate(QTable.from_quality(args.quality))
    top1, bpp = independent(classifier, images.names, args.quality)
    record(
        f"Pipeline check against an independent implementation ({args.split} split, q{args.quality})",
        "| | top-1 | bpp |\n|---|---|---|\n"
        f"| qsearch evaluate | {ours['top1']:.4f} | {ours['bpp']:.4f} |\n"
        f"| independent (torchvision + Pillow quality=) | {top1:.4f} | {bpp:.4f} |\n\n"
        f"top-1 difference {100 * (ours['top1'] - top1):+.2f} points; "
        f"bpp difference {100 * (ours['bpp'] / bpp - 1):+.2f}%\n\n"
        "Command: `python benchmarks/pipeline_check.py`",
    )


if __name__ == "__main__":
    main()
