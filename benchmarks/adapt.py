"""The network as a lever, cross-fitted over the 800 sample images: EfficientNet-Lite0 adapted
to JPEG without labels (``qsearch adapt``: BatchNorm affine) on one split and judged on the
other, then swapped, so that every image is judged by an adapter that never saw it. Each curve
(frozen and adapted network; IJG tables, mozjpeg preset 4 tables, each plain and with
``--smallest``; AVIF) is pooled over both folds' judged images, quality by quality, and judged
against one reference, the frozen network's uncompressed figures on all 800: BD-rates and bits
at 99/98/95/90% of it, with paired bootstrap intervals over the 800 images. The adapter a user
takes is adapted on all 800 images (``results/adapted/adapter.safetensors``).

    python benchmarks/adapt.py [--learn batchnorm] [--epochs 6] [--learning-rate 3e-4]

Resumable: each adaptation checkpoints every epoch, each curve is kept once computed (per-image
tables stay out of git; this command writes them again).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from common import IMAGENET_SAMPLE, ROOT, SPLITS, classifier, record
from qsearch.codecs.codec import EncoderSettings
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import ImageSet, load_images
from qsearch.models.adapt import Adaptation, adapt
from qsearch.report.curves import cached_frame, sweep
from qsearch.report.ladder import ladder, markdown
from qsearch.report.plots import plot_curves
from qsearch.tables.families import make_family

RESULTS = ROOT / "benchmarks" / "results" / "adapted"
QUALITIES = tuple(range(5, 100, 5))
VALIDATION = 80
"""The last images of each adaptation split: they choose the epoch kept, and never train."""
FOLDS = {"test": "search", "search": "test"}
"""Judged split -> the split adapted on."""
CURVES = {
    "IJG": ("ijg", EncoderSettings()),
    "IJG + --smallest": ("ijg", EncoderSettings(smallest=True)),
    "mozjpeg preset 4 tables": ("mozjpeg-4", EncoderSettings()),
    "mozjpeg preset 4 tables + --smallest": ("mozjpeg-4", EncoderSettings(smallest=True)),
    "AVIF": (None, EncoderSettings(codec="avif")),
}
"""What each network is swept with: a table family (None: the codec's own quality scale)."""
SUMMED = ("bytes", "pixels")


def split_images(split: str) -> ImageSet:
    return load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split=split, preprocessing=classifier().preprocessing
    )


def train_and_validation(splits: list[str]) -> tuple[ImageSet, ImageSet]:
    """Each split's first images train, its last ``VALIDATION`` choose the epoch."""
    sets = [split_images(s) for s in splits]
    cut = [len(s) - VALIDATION for s in sets]
    train = ImageSet.joined([s.subset(range(c)) for s, c in zip(sets, cut)])
    validation = ImageSet.joined([s.subset(range(c, len(s))) for s, c in zip(sets, cut)])
    return train, validation


def adapted(splits: list[str], adaptation: Adaptation, folder):
    """The adapter trained on ``splits`` (resumed from its checkpoint)."""
    train, validation = train_and_validation(splits)
    return adapt(classifier(), train, folder, adaptation, validation, progress=True)


def fold_curves(network, judged: str, tag: str) -> dict[str, pd.DataFrame]:
    """Every curve of ``network`` on the images of ``judged``, each kept once computed."""
    scorer = ClassifierEvaluator(split_images(judged), network, EncoderSettings(), forward="onnx")
    found = {}
    for name, (family, settings) in CURVES.items():
        path = RESULTS / "curves" / f"{tag}-{judged}-{name.replace(' ', '_').replace('+', '')}.csv"
        tables = make_family(family) if family else None
        found[name] = cached_frame(
            path,
            lambda t=tables, s=settings: sweep(scorer, t, QUALITIES, settings=s, progress=True),
        )
    return found


def pooled(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Curves on disjoint image sets as one curve on all of them, quality by quality: per-image
    figures concatenated, bytes and pixels summed, every per-image mean recomputed."""
    rows = []
    for quality in sorted(set.intersection(*(set(f["quality"]) for f in frames))):
        parts = [json.loads(f.loc[f["quality"] == quality, "per_image"].iloc[0]) for f in frames]
        figures = {k: [v for p in parts for v in p[k]] for k in parts[0]}
        row = {
            "quality": quality,
            "bytes": int(np.sum(figures["bytes"])),
            "bpp": 8 * float(np.sum(figures["bytes"])) / float(np.sum(figures["pixels"])),
            "images": len(figures["bytes"]),
            **{k: float(np.mean(v)) for k, v in figures.items() if k not in SUMMED},
            "per_image": json.dumps(figures),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def uncompressed(network, split: str) -> dict:
    """A network's figures on the uncompressed images of ``split`` (per image, for pooling)."""
    scorer = ClassifierEvaluator(split_images(split), network, EncoderSettings(), forward="onnx")
    return scorer.reference or {}


def pooled_reference(figures: list[tuple[dict, int]]) -> dict:
    """Means over all images of figures measured on disjoint sets of the given sizes."""
    total = sum(n for _, n in figures)
    return {k: sum(f[k] * n for f, n in figures) / total for k in figures[0][0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learn", default="batchnorm", choices=("batchnorm", "head", "all"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    args = parser.parse_args()
    adaptation = Adaptation(learn=args.learn, epochs=args.epochs, learning_rate=args.learning_rate)
    tag = "" if args.learn == "batchnorm" else f"-{args.learn}"
    frozen = classifier()
    by_fold, histories, references = {}, {}, {"frozen": [], "adapted": []}
    for judged, adapted_on in FOLDS.items():
        fold = adapted([adapted_on], adaptation, RESULTS / f"fold-{adapted_on}{tag}")
        histories[f"adapted on {adapted_on}, judged on {judged}"] = fold
        by_fold[judged] = {
            "frozen": fold_curves(frozen, judged, "frozen"),
            "adapted": fold_curves(fold.network, judged, f"adapted-on-{adapted_on}{tag}"),
        }
        size = len(split_images(judged))
        references["frozen"].append((uncompressed(frozen, judged), size))
        references["adapted"].append((uncompressed(fold.network, judged), size))
    kept = adapted(["search", "test"], adaptation, RESULTS / f"all{tag}")
    reference = pooled_reference(references["frozen"])
    adapted_uncompressed = pooled_reference(references["adapted"])
    curves = {
        f"{network} + {name}": pooled([by_fold[j][network][name] for j in FOLDS])
        for network in ("frozen", "adapted")
        for name in CURVES
    }
    ijg = curves["frozen + IJG"]
    table = ladder(curves, ijg, ("top1", "logprob"), reference)
    plot_curves(
        {n: f for n, f in curves.items() if "smallest" not in n},
        "top1",
        RESULTS / f"adapted{tag}.png",
        title="top-1 vs bpp, cross-fitted over 800 images: frozen and adapted EfficientNet-Lite0; "
        "dotted: 98% and 95% of the frozen network's uncompressed top-1",
        levels=[0.98 * reference["top1"], 0.95 * reference["top1"]],
    )
    record(f"Adapting the network, cross-fitted (learn {args.learn})", _text(
        args, reference, adapted_uncompressed, table, histories, kept
    ))  # fmt: skip


def _history(adapted_run) -> str:
    rows = "\n".join(
        f"| {epoch}{' (kept)' if epoch == adapted_run.best_epoch else ''} | "
        + " | ".join(f"{row.get(k, float('nan')):.4f}" for k in
                     ("loss", "uncompressed_kl", "uncompressed_agreement", "top1", "uncompressed_top1"))
        + " |"
        for epoch, row in enumerate(adapted_run.history)
    )  # fmt: skip
    return (
        "| epoch | loss | uncompressed KL | uncompressed agreement | top-1 (compressed) | "
        "top-1 (uncompressed) |\n|---|---|---|---|---|---|\n" + rows
    )


def _text(args, reference, adapted_uncompressed, table, histories, kept) -> str:
    folds = "\n\n".join(f"{name}:\n\n{_history(run)}" for name, run in histories.items())
    return (
        f"EfficientNet-Lite0, {args.learn} weights adapted without labels (KL from the frozen "
        "output on the uncompressed image, for a JPEG at an IJG quality drawn from 10..90 and for "
        f"the uncompressed image; AdamW lr {args.learning_rate:g}, up to {args.epochs} epochs, "
        f"batch 16, seed 0) on the first {400 - VALIDATION} images of one split, the epoch kept "
        f"chosen on its last {VALIDATION} (lowest validation loss among epochs whose KL on the "
        f"uncompressed images stays at most {Adaptation().drift:g}), judged on the other split; then "
        "swapped. Every curve pools both folds' judged images (800, each judged by an adapter "
        "that never saw it) and is compared with frozen + IJG on the same images; one reference "
        f"for every row: the frozen network's uncompressed top-1 {reference['top1']:.4f} "
        f"(log-probability {reference['logprob']:.4f}); the adapted networks' own uncompressed "
        f"top-1: {adapted_uncompressed['top1']:.4f}. ONNX Runtime fp32 forward for both "
        "networks. % bits against frozen + IJG at equal accuracy, 95% paired bootstrap "
        "intervals over the 800 images, * = the interval excludes zero; 'at X%': where each "
        "curve crosses X% of the frozen network's uncompressed accuracy.\n\n"
        + markdown(table)
        + "\n\nValidation figures by epoch (epoch 0: the frozen network; loss = KL compressed + "
        "KL uncompressed):\n\n"
        + folds
        + f"\n\nThe adapter a user takes, adapted on all 800 (first {400 - VALIDATION} of each "
        f"split; the last {VALIDATION} of each choose the epoch): "
        f"`benchmarks/results/adapted/all/adapter.safetensors`, epoch {kept.best_epoch} kept.\n\n"
        + _history(kept)
        + f"\n\nCommand: `python benchmarks/adapt.py --learn {args.learn} --epochs {args.epochs} "
        f"--learning-rate {args.learning_rate:g}`"
    )


if __name__ == "__main__":
    (RESULTS / "curves").mkdir(parents=True, exist_ok=True)
    main()
