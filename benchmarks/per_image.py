"""Per-image rate control on the 800 ImageNet sample images, cross-fitted: the rule is
calibrated on one split (search or test) and judged on the other, then the other way round, and
the 800 judged images are pooled. Every figure at a target is set against one IJG quality for
the whole set at that target on the same 800 images (the dense IJG curve, log-bpp interpolated
on its upper envelope), with a paired bootstrap over images; beside it, the share of the
uncompressed top-1 kept for a second receiver (its own decoder: libjpeg-turbo's fast IDCT and
upsampling; its own resize: bilinear) with its own uncompressed top-1 as the reference.

    python benchmarks/per_image.py                 # both sizes, IJG and mozjpeg-4 tables
    python benchmarks/per_image.py --modes input --families ijg,searched,adapted
                                    # over the best searched table of each fold, and with the
                                    # network adapted on the search split (one fold)
    python benchmarks/per_image.py --throughput    # per-image compress against one table

``searched``: in each fold, the table a user would take for 98% from the cross-fitted
``targets`` search run on the calibration split (``benchmarks/cross_fit.py --variant targets
--budget 368``), scaled as IJG scales its base; the table, the calibration and the rule are all
chosen on the calibration split, never on the judged one.

Grids (every image at every quality) are cached in benchmarks/results/per_image/*.npz (not in
git; the command writes them again, resuming grid by grid)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import simplejpeg
import torch
from PIL import Image

from common import IMAGENET_SAMPLE, ROOT, SPLITS, classifier, record
from qsearch.codecs.codec import Codec, EncoderSettings, encode
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.rate.calibration import Grid, calibrate
from qsearch.rate.ladder import QUALITIES, Ladder
from qsearch.rate.predictor import features, fit_predictor
from qsearch.rate.rules import make_rule
from qsearch.tables.families import make_family
from qsearch.tables.qtable import TableFamily

OUT = Path(__file__).resolve().parent / "results" / "per_image"
DENSE = tuple(sorted({*QUALITIES, 35, 45, 55, 65, 75, 85, 88, 92, 94, 96, 98}))
TARGETS = (0.98, 0.95)
RULES = (("threshold", 0.0), ("threshold", 0.5), ("threshold", 0.7), ("threshold", 0.8),
         ("tradeoff", 0.0))  # fmt: skip
SAMPLES = 1000
ADAPTER = ROOT / "benchmarks/results/adapted/fold-search/adapter.safetensors"
"""EfficientNet-Lite0 adapted (batchnorm, no labels) on the search split alone: judged on the
test split, calibrated on the search split. One fold: the adapter of the other fold
(``fold-test``) is kept too, but its grid is not measured here yet."""
SEARCHED = {
    "search": ROOT / "benchmarks/results/search_quality/input/targets-b368-s0",
    "test": ROOT / "benchmarks/results/search_quality/input-swapped/targets-b368-s0",
}


def second_receiver(files: list[bytes], mode: str, network) -> np.ndarray:
    """Top class of each file as another receiver reads it: fast IDCT and upsampling, and
    (stored images) a bilinear resize of the short side to 256 and a centre crop of 224."""
    crops = []
    for data in files:
        image = simplejpeg.decode_jpeg(data, fastdct=True, fastupsample=True)
        crops.append(_bilinear_crop(image) if mode == "source" else image)
    return _top_class(np.stack(crops), network)


def _bilinear_crop(image: np.ndarray, short: int = 256, size: int = 224) -> np.ndarray:
    height, width = image.shape[:2]
    scale = short / min(width, height)
    resized = Image.fromarray(image).resize(
        (max(size, round(width * scale)), max(size, round(height * scale))), Image.BILINEAR
    )
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)))


@torch.inference_mode()
def _top_class(batch: np.ndarray, network) -> np.ndarray:
    found = []
    for start in range(0, len(batch), 50):
        x = torch.from_numpy(batch[start : start + 50]).permute(0, 3, 1, 2).float() / 127.5 - 1
        found.append(network.module(x).argmax(1).numpy())
    return np.concatenate(found)


def searched_family(split: str) -> TableFamily:
    """The table chosen for 98% on ``split`` by the cross-fitted ``targets`` run searched there,
    as the quality-50 base of a family."""
    from common import unpacked
    from cross_fit import chosen_tables, recorded

    folder = SEARCHED[split]
    with unpacked(SEARCHED["search"].parents[1]):
        key = chosen_tables(folder, "run", split)[0.98]
    if key is None:
        raise SystemExit(f"{folder}: no front table reaches 98% on the {split} split")
    table = recorded(folder)[key].qtable
    return TableFamily(f"searched-{split}", table.luma, table.chroma)


def adapted_grid(mode: str, images, limit=None) -> dict:
    """The IJG grid read by the network adapted on the search split (``benchmarks/adapt.py``:
    batchnorm, 224x224 inputs), measured like the others."""
    from qsearch.models.adapter import apply_adapter

    network = apply_adapter(classifier(), ADAPTER)
    evaluator = ClassifierEvaluator(images, network, forward="fp32")
    try:
        return measure(mode, "adapted", QUALITIES, evaluator, network, limit, base="ijg")
    finally:
        evaluator.close()


def measure(
    mode: str, family: str, qualities, evaluator, network, limit=None, base: str | None = None
) -> dict:
    """Every image at every quality: the evaluator's per-image figures, the --smallest sizes
    and the second receiver's top-1 (cached in OUT, one file per grid)."""
    path = OUT / f"{mode}-{family}-{len(qualities)}{f'-limit{limit}' if limit else ''}.npz"
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    if base is None:
        base = (
            searched_family(family.split("-", 1)[1]) if family.startswith("searched-") else family
        )
    ladder = Ladder(make_family(base), qualities)
    images = evaluator.images.images
    count = len(images)
    smallest = Codec(EncoderSettings(smallest=True))
    labels = evaluator.images.labels
    columns: dict[str, list] = {}
    for step, table in enumerate(ladder.tables()):
        start = time.perf_counter()
        found = evaluator.evaluate_each([table] * count, range(count))
        files = evaluator.codec.encode_all(images, table)
        found["smallest_bytes"] = np.array([len(f) for f in smallest.encode_all(images, table)])
        found["second_top1"] = (second_receiver(files, mode, network) == labels).astype(float)
        for name in ("bytes", "pixels", "kept", "top1", "agreement", "similarity",
                     "smallest_bytes", "second_top1"):  # fmt: skip
            columns.setdefault(name, []).append(np.asarray(found[name], dtype=np.float64))
        print(
            f"{mode} {family} q{qualities[step]}: {time.perf_counter() - start:.0f} s", flush=True
        )
    smallest.close()
    grid = {name: np.stack(values) for name, values in columns.items()}  # (steps, images)
    plain = evaluator.images.network_inputs() if mode == "input" else None
    uncompressed = np.stack([_bilinear_crop(image) for image in images]) if plain is None else plain
    grid["second_uncompressed"] = (_top_class(uncompressed, network) == labels).astype(float)
    grid["top1_uncompressed"] = np.asarray(evaluator.reference_per_image["top1"])
    grid["features"] = np.stack([features(i, ladder, EncoderSettings()) for i in images])
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **grid)
    return grid


def as_grid(arrays: dict, indices: np.ndarray, steps: list[int], sizes: str) -> Grid:
    """The product's Grid over ``indices`` at ``steps``, sizes from ``sizes`` (bytes or
    smallest_bytes)."""
    figures = []
    for step in steps:
        figure = {n: arrays[n][step, indices] for n in ("pixels", "kept", "top1", "second_top1")}
        figure["bytes"] = arrays[sizes][step, indices]
        figures.append(figure)
    return Grid(figures, "kept")


def envelope_bpp(bpp: np.ndarray, accuracy: np.ndarray, goal: float) -> float:
    """bpp at ``goal`` on the upper envelope of the curve (log-bpp interpolated); inf where the
    curve never reaches it."""
    order = np.argsort(bpp)
    bpp, accuracy = bpp[order], np.maximum.accumulate(accuracy[order])
    if accuracy[-1] < goal:
        return float("inf")
    k = int(np.argmax(accuracy >= goal))
    if k == 0:
        return float(bpp[0])
    lo, hi = accuracy[k - 1], accuracy[k]
    t = (goal - lo) / (hi - lo) if hi > lo else 1.0
    return float(np.exp(np.log(bpp[k - 1]) + t * (np.log(bpp[k]) - np.log(bpp[k - 1]))))


def one_quality_bpp(ijg: dict, weights: np.ndarray, target: float) -> float:
    """One IJG quality for the whole (weighted) set at ``target`` of its uncompressed top-1."""
    total = weights.sum()
    goal = target * (weights @ ijg["top1_uncompressed"]) / total
    bpp = 8 * (ijg["bytes"] @ weights) / (ijg["pixels"] @ weights)
    return envelope_bpp(bpp, (ijg["top1"] @ weights) / total, goal)


def cross_fitted(halves, chooser) -> dict[str, np.ndarray]:
    """Each half judged by what the other half calibrated: per-image figures of the chosen
    files over all images (chooser(fold, calibration indices, judged indices) -> (judged grid,
    steps); fold 0 calibrates on the first half)."""
    pooled: dict[str, np.ndarray] = {}
    for fold, (calibration, judged) in enumerate(((halves[0], halves[1]), (halves[1], halves[0]))):
        grid, steps = chooser(fold, calibration, judged)
        figures = grid.chosen(steps)
        figures["index"] = list(judged)
        figures["quality_step"] = list(steps)
        for name, values in figures.items():
            pooled.setdefault(name, []).extend(values)
    order = np.argsort(pooled["index"])
    return {name: np.asarray(values, dtype=np.float64)[order] for name, values in pooled.items()}


def summary(chosen: dict, ijg: dict, arrays: dict, target: float, qualities) -> dict:
    """The judged figures of one variant: shares kept (and for the second receiver), bpp, and
    bits against one IJG quality at the target with a paired bootstrap interval."""
    count = len(chosen["bytes"])
    share = chosen["top1"].mean() / arrays["top1_uncompressed"].mean()
    second = chosen["second_top1"].mean() / arrays["second_uncompressed"].mean()
    bpp = 8 * chosen["bytes"].sum() / chosen["pixels"].sum()
    reference = one_quality_bpp(ijg, np.ones(count), target)
    rng = np.random.default_rng(0)
    savings = []
    for _ in range(SAMPLES):
        weights = np.bincount(rng.integers(0, count, count), minlength=count).astype(float)
        drawn = 8 * (chosen["bytes"] @ weights) / (chosen["pixels"] @ weights)
        savings.append(drawn / one_quality_bpp(ijg, weights, target) - 1)
    low, high = np.percentile(savings, [2.5, 97.5])
    steps = np.asarray(chosen["quality_step"], dtype=int)
    return {
        "share": share, "second": second, "bpp": bpp, "reference_bpp": reference,
        "saving": bpp / reference - 1, "low": low, "high": high, "reached": share >= target,
        "median_quality": float(np.median(np.asarray(qualities)[steps])),
    }  # fmt: skip


def rule_chooser(folds, steps, sizes, rule, margin, target):
    def choose(fold, calibration, judged):
        arrays = folds[fold]
        made = make_rule(rule)
        grid = as_grid(arrays, calibration, steps, sizes)
        uncompressed = arrays["top1_uncompressed"][calibration].mean()
        found = calibrate(grid, Ladder(), made, target, "top1", uncompressed, margin)
        judged_grid = as_grid(arrays, judged, steps, sizes)
        if found.fallback:
            return judged_grid, np.full(len(judged), QUALITIES.index(found.one_quality))
        return judged_grid, made.choose(judged_grid.probe, len(judged), len(steps), found.value)

    return choose


def predictor_chooser(folds, steps, sizes, target, margin=0.5):
    def choose(fold, calibration, judged):
        arrays = folds[fold]
        grid = as_grid(arrays, calibration, steps, sizes)
        uncompressed = arrays["top1_uncompressed"][calibration].mean()
        rule = make_rule("threshold")
        found = calibrate(grid, Ladder(), rule, target, "top1", uncompressed, margin)
        chosen = rule.choose(grid.probe, len(calibration), len(steps), found.value)
        predictor = fit_predictor(
            grid, arrays["features"][calibration], chosen, Ladder(), target, "top1",
            uncompressed, {}, found.one_quality,
        )  # fmt: skip
        return as_grid(arrays, judged, steps, sizes), predictor.steps(arrays["features"][judged])

    return choose


def line(name: str, result: dict, target: float) -> str:
    verdict = "" if result["reached"] else " (falls short of the target)"
    return (
        f"| {name} | {100 * result['share']:.1f}%{verdict} | {100 * result['second']:.1f}% | "
        f"{result['bpp']:.3f} | {result['median_quality']:g} | {result['reference_bpp']:.3f} | "
        f"**{100 * result['saving']:+.1f}%** [{100 * result['low']:+.1f}, "
        f"{100 * result['high']:+.1f}] |"
    )


def variants(grids: dict) -> list[tuple[str, tuple[dict, dict], list[int], str]]:
    """(name, the grid each fold calibrates and is judged on, ladder steps, sizes) of every
    family and size setting measured."""
    ijg, found = grids["ijg"], []
    steps = [DENSE.index(q) for q in QUALITIES]
    all_steps = list(range(len(QUALITIES)))
    found.append(("IJG", (ijg, ijg), steps, "bytes"))
    found.append(("IJG + --smallest", (ijg, ijg), steps, "smallest_bytes"))
    families = {"mozjpeg-4 tables": ("mozjpeg-4", "mozjpeg-4"),
                "searched table": ("searched-search", "searched-test")}  # fmt: skip
    for name, (first, second) in families.items():
        if first in grids:
            folds = (grids[first], grids[second])
            found.append((name, folds, all_steps, "bytes"))
            found.append((f"{name} + --smallest", folds, all_steps, "smallest_bytes"))
    return found


def report(grids: dict, halves) -> str:
    ijg = {k: grids["ijg"][k] for k in ("bytes", "pixels", "top1")}
    ijg["top1_uncompressed"] = grids["ijg"]["top1_uncompressed"]
    rows = []
    for target in TARGETS:
        rows.append(f"\n**{100 * target:g}% of the uncompressed top-1** "
                    f"({target * ijg['top1_uncompressed'].mean():.4f} of "
                    f"{ijg['top1_uncompressed'].mean():.4f}; one IJG quality for all: "
                    f"{one_quality_bpp(ijg, np.ones(len(ijg['top1_uncompressed'])), target):.3f} bpp)\n")  # fmt: skip
        rows.append("| per-image variant | top-1 kept | second receiver | bpp | median q | "
                    "one quality bpp | bits vs one quality [95%] |")  # fmt: skip
        rows.append("|---|---|---|---|---|---|---|")
        for family, folds, steps, sizes in variants(grids):
            for rule, margin in RULES:
                chooser = rule_chooser(folds, steps, sizes, rule, margin, target)
                result = summary(cross_fitted(halves, chooser), ijg, folds[0], target, QUALITIES)
                label = f"{family}, {rule}" + (f" floor >= {margin}" if rule == "threshold" else "")
                rows.append(line(label, result, target))
            chooser = predictor_chooser(folds, steps, sizes, target)
            result = summary(cross_fitted(halves, chooser), ijg, folds[0], target, QUALITIES)
            rows.append(line(f"{family}, predictor (no network at the sender)", result, target))
        if "adapted" in grids:
            rows.extend(adapted_rows(grids, halves, target))
    return "\n".join(rows)


def adapted_rows(grids: dict, halves, target: float) -> list[str]:
    """One fold, calibrated on the search split and judged on the test split, against one IJG
    quality read by the frozen network on the test split at ``target`` of the frozen network's
    uncompressed top-1 (the adapted network is judged against the same reference)."""
    calibration, judged = halves
    frozen = grids["ijg"]
    ijg = {k: frozen[k][:, judged] for k in ("bytes", "pixels", "top1")}
    ijg["top1_uncompressed"] = frozen["top1_uncompressed"][judged]
    steps = [DENSE.index(q) for q in QUALITIES]
    adapted = {**grids["adapted"], "top1_uncompressed": frozen["top1_uncompressed"],
               "second_uncompressed": frozen["second_uncompressed"]}  # fmt: skip
    rows = []
    for name, arrays, arrays_steps in (("frozen network", frozen, steps),
                                       ("adapted network", adapted, list(range(len(QUALITIES))))):  # fmt: skip
        for sizes in ("bytes", "smallest_bytes"):
            chooser = rule_chooser((arrays, arrays), arrays_steps, sizes, "threshold", 0.5, target)
            grid, chosen_steps = chooser(0, calibration, judged)
            figures = {
                k: np.asarray(v, dtype=np.float64) for k, v in grid.chosen(chosen_steps).items()
            }
            figures["quality_step"] = np.asarray(chosen_steps)
            on_judged = {k: arrays[k][judged] for k in ("top1_uncompressed", "second_uncompressed")}
            result = summary(figures, ijg, on_judged, target, QUALITIES)
            fold = "adapted and calibrated" if name.startswith("adapted") else "calibrated"
            label = (f"{name}, IJG{' + --smallest' if sizes != 'bytes' else ''}, threshold floor "
                     f">= 0.5 (one fold: {fold} on search, judged on test)")  # fmt: skip
            rows.append(line(label, result, target))
    return rows


def throughput(count: int = 100) -> str:
    """images/s of per-image compress (calibration aside) against one table plus one evaluation
    of the same images, on the same machine in the same run."""
    from qsearch.rate.calibration import Calibration
    from qsearch.rate.folder import Plan, choose_steps

    network = classifier()
    images = load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="test", compress_at="source",
                         preprocessing=network.preprocessing, limit=count)  # fmt: skip
    evaluator = ClassifierEvaluator(images, network, forward="fp32")
    ladder = Ladder()
    calibration = Calibration("threshold", "floor", 0.5, 0.98, "top1", 1, 1, 1, None, None, 1)
    start = time.perf_counter()
    steps, _ = choose_steps(evaluator, Plan(ladder, make_rule("threshold"), calibration,
                                            EncoderSettings(), {}))  # fmt: skip
    for image, step in zip(images.images, steps):
        encode(image, ladder.table(int(step)))
    per_image = time.perf_counter() - start
    start = time.perf_counter()
    table = ladder.table(QUALITIES.index(50))
    for image in images.images:
        encode(image, table)
    evaluator.evaluate(table)
    single = time.perf_counter() - start
    return (
        f"{count} test-split images at their stored size, EfficientNet-Lite0 fp32: per-image "
        f"compress (threshold rule, bisection over 14 qualities) {count / per_image:.1f} "
        f"images/s; one table plus one evaluation of the same images {count / single:.1f} "
        f"images/s; ratio {per_image / single:.2f}x the time"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="source,input")
    parser.add_argument("--families", default="ijg,mozjpeg-4")
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument(
        "--limit", type=int, help="a quick look on the first N images (not recorded)"
    )
    args = parser.parse_args()
    if args.throughput:
        record("Per-image rate control: throughput", throughput())
        return
    network = classifier()
    splits = json.loads(SPLITS.read_text())
    for mode in args.modes.split(","):
        images = load_images(
            IMAGENET_SAMPLE, compress_at=mode, preprocessing=network.preprocessing, limit=args.limit
        )
        evaluator = ClassifierEvaluator(images, network, forward="fp32")
        names = {n: i for i, n in enumerate(images.names)}
        halves = [
            np.array(sorted(names[n] for n in splits[s] if n in names)) for s in ("search", "test")
        ]
        grids = {}
        for family in args.families.split(","):
            qualities = DENSE if family == "ijg" else QUALITIES
            if family == "adapted":
                grids[family] = adapted_grid(mode, images, args.limit)
                continue
            for name in (f"searched-{s}" for s in SEARCHED) if family == "searched" else [family]:
                grids[name] = measure(mode, name, qualities, evaluator, network, args.limit)
        evaluator.close()
        where = (
            "stored images (about 500x375), resized after decoding"
            if mode == "source"
            else "224x224 network inputs"
        )
        body = (
            f"`python benchmarks/per_image.py --modes {mode} --families {args.families}`: "
            f"EfficientNet-Lite0 (fp32), 4:2:0, compressing the {where}; 800 ImageNet sample "
            "images, calibrated on one split and judged on the other, then swapped (labels only "
            "judge). Ladder: IJG qualities "
            f"{','.join(map(str, QUALITIES))} of each family. One quality: the IJG curve at "
            f"{len(DENSE)} qualities on the same 800 images. Second receiver: fast IDCT and "
            "upsampling" + (", bilinear resize" if mode == "source" else "") + ", share of its "
            "own uncompressed top-1.\n" + report(grids, halves)
        )
        if args.limit:
            print(body)
        else:
            record(f"Per-image rate control: {mode}", body)


if __name__ == "__main__":
    main()
