"""Pareto tools over (bpp, accuracy): normalised hypervolume and
the Bjontegaard delta rate between accuracy-vs-bpp curves (definitions in the design notes)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymoo.indicators.hv import HV

from qsearch.search.metrics import has_figures, is_pooled, metric_sign, pool

HV_MAX_BPP = 4.0
"""Fixed reference point of the hypervolume: (bpp = 4, accuracy = 0), box area normalised to 1."""


def hypervolume(bpp, accuracy, max_bpp: float = HV_MAX_BPP) -> float:
    """Share of the box bpp in [0, max_bpp], accuracy in [0, 1] that the points dominate."""
    points = np.column_stack([np.asarray(bpp, float) / max_bpp, 1.0 - np.asarray(accuracy, float)])
    points = points[(points[:, 0] < 1) & (points[:, 1] < 1)]
    return float(HV(ref_point=np.ones(2))(points)) if len(points) else 0.0


def upper_envelope(bpp, accuracy) -> tuple[np.ndarray, np.ndarray]:
    """The points of a curve where accuracy strictly rises with bpp (its monotone upper envelope)."""
    order = np.lexsort((-np.asarray(accuracy, float), np.asarray(bpp, float)))
    kept_bpp: list[float] = []
    kept_accuracy: list[float] = []
    for i in order:
        if not kept_accuracy or accuracy[i] > kept_accuracy[-1]:
            kept_bpp.append(float(bpp[i]))
            kept_accuracy.append(float(accuracy[i]))
    return np.array(kept_bpp), np.array(kept_accuracy)


def bd_rate(
    reference_bpp,
    reference_accuracy,
    test_bpp,
    test_accuracy,
    samples: int = 1000,
    floor: float | None = None,
) -> float:
    """Average % change in bpp of the test curve against the reference at equal accuracy,
    over their common accuracy range (above ``floor`` when given: the high-accuracy range),
    interpolating log-bpp linearly. Negative is better; NaN where the curves share no range."""
    ref_bpp, ref_acc = upper_envelope(np.asarray(reference_bpp), np.asarray(reference_accuracy))
    test_bpp, test_acc = upper_envelope(np.asarray(test_bpp), np.asarray(test_accuracy))
    if len(ref_acc) < 2 or len(test_acc) < 2:
        return float("nan")
    low, high = (
        max(ref_acc[0], test_acc[0], -np.inf if floor is None else floor),
        min(ref_acc[-1], test_acc[-1]),
    )
    if not low < high:
        return float("nan")
    grid = np.linspace(low, high, samples)
    log_gap = np.interp(grid, test_acc, np.log(test_bpp)) - np.interp(
        grid, ref_acc, np.log(ref_bpp)
    )
    return float(100.0 * (np.exp(log_gap.mean()) - 1.0))


def bpp_at(bpp, accuracy, target: float) -> float:
    """bpp where the curve's monotone upper envelope reaches ``target`` (log-bpp interpolated);
    NaN where it does not."""
    kept_bpp, kept_accuracy = upper_envelope(np.asarray(bpp), np.asarray(accuracy))
    if not len(kept_accuracy) or not kept_accuracy[0] <= target <= kept_accuracy[-1]:
        return float("nan")
    return float(np.exp(np.interp(target, kept_accuracy, np.log(kept_bpp))))


def saving_at(reference_bpp, reference_accuracy, test_bpp, test_accuracy, target: float) -> float:
    """% change in bpp of the test curve against the reference at accuracy ``target`` (log-bpp
    interpolated on each monotone upper envelope); NaN where either curve does not reach it."""
    ratio = bpp_at(test_bpp, test_accuracy, target) / bpp_at(
        reference_bpp, reference_accuracy, target
    )
    return float(100.0 * (ratio - 1.0))


def curve_point(figures: dict, metric: str) -> dict | None:
    """One curve point's per-image figures for paired bootstraps, ``bytes`` and ``pixels`` with
    either ``accuracy`` (per-image values, signed higher-is-better, resampled by their mean) or,
    for a figure pooled over images (mAP, mean IoU), ``pooled``: the figure recomputed for any
    weighting of the images. None where the figures lack ``metric``."""
    sizes = {"bytes": figures.get("bytes"), "pixels": figures.get("pixels")}
    if not has_figures(metric, figures):
        return None
    if is_pooled(metric):
        return {"pooled": pool(metric, figures), **sizes}
    return {"accuracy": [metric_sign(metric) * v for v in figures[metric]], **sizes}


@lru_cache(maxsize=16)
def resample_draws(seed: int, samples: int, count: int) -> np.ndarray:
    """(samples, count) image indices drawn with replacement: the resamples of every bootstrap
    with this seed over ``count`` images (the same draws for each curve point, kept)."""
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.integers(0, count, count) for _ in range(samples)])
    draws.flags.writeable = False
    return draws


def over_draws(point: dict, draws: np.ndarray) -> np.ndarray:
    """A :func:`curve_point`'s accuracy on each resample of ``draws``."""
    if "pooled" in point:
        return point["pooled"].over(draws)
    return np.asarray(point["accuracy"], dtype=float)[draws].mean(1)


def bootstrap_samples(
    reference: list[dict], test: list[dict], statistic=bd_rate, samples: int = 500, seed: int = 0
) -> np.ndarray:
    """``statistic`` of the two curves over ``samples`` resamplings of the images, paired (each
    resample draws the same images for both curves); NaN where a resample has no answer. Each
    curve point is a :func:`curve_point`: per-image accuracy (or a pooled figure), ``bytes``
    and ``pixels`` over the same images."""

    def stack(points, key):
        return np.array([np.asarray(p[key], dtype=float) for p in points])

    pixels = np.asarray(reference[0]["pixels"], dtype=float)
    if len(pixels) < 2:  # one image resampled is itself: no interval, not a zero-width one
        return np.full(samples, np.nan)
    draws = resample_draws(seed, samples, len(pixels))
    ref_acc = np.array([over_draws(p, draws) for p in reference])
    test_acc = np.array([over_draws(p, draws) for p in test])
    ref_bytes, test_bytes = stack(reference, "bytes"), stack(test, "bytes")
    values = np.empty(samples)
    for k, chosen in enumerate(draws):
        area = pixels[chosen].sum()
        values[k] = statistic(
            8 * ref_bytes[:, chosen].sum(1) / area,
            ref_acc[:, k],
            8 * test_bytes[:, chosen].sum(1) / area,
            test_acc[:, k],
        )
    return values


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values (NaN where fewer than half have an answer)."""
    found = values[np.isfinite(values)]
    if len(found) < len(values) // 2:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(found, tail)), float(np.percentile(found, 100 - tail))


def bootstrap_bd_rate(
    reference: list[dict],
    test: list[dict],
    samples: int = 500,
    seed: int = 0,
    level: float = 0.95,
    statistic=bd_rate,
) -> tuple[float, float]:
    """Confidence interval over images of :func:`bd_rate` (or another ``statistic`` of the two
    curves, e.g. :func:`saving_at` with its target bound), paired (see :func:`bootstrap_samples`)."""
    return interval(bootstrap_samples(reference, test, statistic, samples, seed), level)
