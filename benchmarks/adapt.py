"""The network as a lever: EfficientNet-Lite0 adapted to JPEG without labels on the `search`
split (its last 80 images choose the epoch kept), judged on the 400 `test` images against one
reference for every row, the frozen network's uncompressed accuracy: frozen + IJG, frozen +
the best front's tables, adapted + IJG, adapted + the best front's tables (+ --smallest),
adapted + tables searched for the adapted network, and AVIF, WebP and JPEG XL for the adapted
network; bits at 99/98/95/90% of that reference and BD-rates, with paired intervals.

    python benchmarks/adapt.py [--learn batchnorm] [--epochs 6] [--learning-rate 3e-4]
        [--search-budget 62]

Resumable: the adaptation checkpoints each epoch and every curve is kept in
benchmarks/results/adapted/.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd

from common import (
    IMAGENET_SAMPLE,
    ROOT,
    SPLITS,
    classifier,
    lossless_frame,
    record,
    search,
    unpacked,
)
from qsearch.codecs.codec import EncoderSettings
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.models.adapt import Adaptation, adapt
from qsearch.report.curves import cached_frame, scored, sweep
from qsearch.report.ladder import ladder, markdown
from qsearch.report.plots import plot_curves
from qsearch.tables.families import make_family
from qsearch.tables.qtable import QTable

RESULTS = ROOT / "benchmarks" / "results" / "adapted"
REFERENCE = ROOT / "benchmarks" / "results" / "search_quality" / "input" / "reference"
LADDER = ROOT / "benchmarks" / "results" / "codec_ladder"
BEST = ROOT / "benchmarks" / "results" / "best_front"
QUALITIES = tuple(range(5, 100, 5))
VALIDATION = 80
"""The last images of the search split: they choose the epoch kept, and never train."""


def packed_frame(path) -> pd.DataFrame:
    """A CSV another benchmark keeps (gzipped at rest; read as it is, never repacked here)."""
    return pd.read_csv(path if path.exists() else path.with_name(path.name + ".gz"))


def adapted_network(learn: str, epochs: int, learning_rate: float):
    """The adapted classifier (trained once, resumed from its checkpoint)."""
    frozen = classifier()
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split="search", preprocessing=frozen.preprocessing
    )
    train = images.subset(range(len(images) - VALIDATION))
    validation = images.subset(range(len(images) - VALIDATION, len(images)))
    folder = RESULTS if learn == "batchnorm" else RESULTS / f"learn-{learn}"
    adaptation = Adaptation(learn=learn, epochs=epochs, learning_rate=learning_rate)
    return adapt(frozen, train, folder, adaptation, validation, True)


def test_evaluator(network, codec: str = "jpeg") -> ClassifierEvaluator:
    """The classifier evaluator of ``network`` on the 400 test images."""
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split="test", preprocessing=network.preprocessing
    )
    return ClassifierEvaluator(images, network, EncoderSettings(codec=codec), forward="fp32")


def best_front(scorer, name: str) -> pd.DataFrame:
    """The best front's tables (searched for the frozen network) scored by ``scorer``."""
    tables = pd.read_csv(BEST / "front.csv")["table"]

    def compute():
        scorer.use_encoder(EncoderSettings())
        return pd.DataFrame([{"table": t, **scored(scorer, QTable.load(BEST / t))} for t in tables])

    return cached_frame(RESULTS / f"{name}.csv", compute)


def smallest(scorer, plain: pd.DataFrame, name: str, folder=BEST) -> pd.DataFrame:
    """The same tables with --smallest (same pixels, so the plain encoding's accuracy)."""
    return lossless_frame(
        scorer, plain, EncoderSettings(smallest=True), folder, RESULTS / f"{name}.csv"
    )


def searched_for_adapted(path, budget: int) -> tuple[pd.DataFrame, object]:
    """`slopes` from mozjpeg preset 4 searched with the adapted network on the search split,
    its front (by top-1 on the searched images) re-scored by the adapted network on `test`."""
    run = search(
        RESULTS / f"slopes-mozjpeg4-adapted-b{budget}", "slopes", budget=budget,
        base="mozjpeg-4", test_split="test", model=str(path),
    )  # fmt: skip
    front = run.front
    test = pd.read_csv(run.directory / "test_scores.csv").drop_duplicates("key").set_index("key")
    rows = test.loc[front["key"]].reset_index()
    rows["table"] = [str(run.directory / name) for name in front["table"]]
    return rows, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learn", default="batchnorm", choices=("batchnorm", "head", "all"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument(
        "--learning-rate", type=float, default=3e-4,
        help="3e-4 over 6 epochs: lower validation loss and uncompressed KL than 1e-3 over 3",
    )  # fmt: skip
    parser.add_argument("--search-budget", type=int, default=0, help="0: no search for it")
    parser.add_argument("--codecs", default="avif,webp,jxl")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    adapted = adapted_network(args.learn, args.epochs, args.learning_rate)
    frozen_uncompressed = json.loads((REFERENCE / "uncompressed_test.json").read_text())
    scorer = test_evaluator(adapted.classifier)
    tag = "" if args.learn == "batchnorm" else f"-{args.learn}"
    curves = {
        "frozen + IJG (reference)": packed_frame(REFERENCE / "ijg_test.csv"),
        "frozen + best front's tables": packed_frame(LADDER / "best-front-libjpeg-turbo.csv"),
        "frozen + best front's tables + --smallest": packed_frame(
            LADDER / "best-front-libjpeg-turbo-smallest.csv"
        ),
        "adapted + IJG": cached_frame(
            RESULTS / f"adapted{tag}-ijg.csv",
            lambda: sweep(scorer, make_family("ijg"), QUALITIES, progress=True),
        ),
    }
    curves["adapted + best front's tables"] = best_front(scorer, f"adapted{tag}-best-front")
    curves["adapted + best front's tables + --smallest"] = smallest(
        scorer, curves["adapted + best front's tables"], f"adapted{tag}-best-front-smallest"
    )
    if args.search_budget:
        rows, run = searched_for_adapted(adapted.path, args.search_budget)
        curves["adapted + tables searched for it"] = rows
        curves["adapted + tables searched for it + --smallest"] = smallest(
            scorer, rows, f"adapted{tag}-searched-b{args.search_budget}-smallest", folder=ROOT
        )
    for codec in filter(None, args.codecs.split(",")):
        settings = EncoderSettings(codec=codec)
        curves[f"adapted + {codec}"] = cached_frame(
            RESULTS / f"adapted{tag}-{codec}.csv",
            lambda s=settings: sweep(scorer, None, QUALITIES, settings=s, progress=True),
        )
    adapted_uncompressed = scorer.reference or {}
    table = ladder(
        curves, curves["frozen + IJG (reference)"], ("top1", "logprob"), frozen_uncompressed
    )
    plot_curves(
        {(n if "IJG" not in n else f"{n} quality 5..95"): f for n, f in curves.items()},
        "top1",
        RESULTS / f"adapted{tag}.png",
        title="top-1 vs bpp on the 400 test images: frozen and adapted EfficientNet-Lite0; dotted: "
        "98% and 95% of the frozen network's uncompressed top-1",
        levels=[0.98 * frozen_uncompressed["top1"], 0.95 * frozen_uncompressed["top1"]],
    )
    history = "\n".join(
        f"| {epoch} | " + " | ".join(f"{row.get(k, float('nan')):.4f}" for k in
                                     ("loss", "uncompressed_kl", "top1", "uncompressed_top1")) + " |"
        for epoch, row in enumerate(adapted.history)
    )  # fmt: skip
    record(
        f"Adapting the network (learn {args.learn}, {args.epochs} epochs)",
        f"EfficientNet-Lite0, BatchNorm affine weights only unless said (`--learn`), adapted without "
        f"labels on the first {400 - VALIDATION} `search` images (KL from the frozen output on the "
        f"uncompressed image, for a JPEG at an IJG quality drawn from 10..90 and for the uncompressed "
        f"image; AdamW lr {args.learning_rate:g}, batch 16, seed 0), the epoch kept chosen on the last {VALIDATION} "
        "`search` images; every row judged on the 400 `test` images against one reference, the "
        f"frozen network's uncompressed figures (top-1 {frozen_uncompressed['top1']:.4f}, "
        f"log-probability {frozen_uncompressed['logprob']:.4f}); the adapted network's own "
        f"uncompressed top-1 there: {adapted_uncompressed.get('top1', float('nan')):.4f}. "
        "% bits against frozen + IJG at equal accuracy, 95% paired bootstrap intervals over images, "
        "* = the interval excludes zero; 'at X%': where each curve crosses X% of the frozen "
        "network's uncompressed accuracy.\n\n"
        + markdown(table)
        + "\n\nValidation figures by epoch (epoch 0: the frozen network; loss = KL compressed + KL "
        "uncompressed):\n\n| epoch | loss | uncompressed KL | top-1 (compressed) | top-1 (uncompressed) |"
        "\n|---|---|---|---|---|\n"
        + history
        + f"\n\nCommand: `python benchmarks/adapt.py --learn {args.learn} --epochs {args.epochs} "
        f"--learning-rate {args.learning_rate:g} "
        f"--search-budget {args.search_budget} --codecs {args.codecs}`",
    )


if __name__ == "__main__":
    RESULTS.mkdir(parents=True, exist_ok=True)
    with unpacked(RESULTS):
        main()
