"""The figures of a run's files: IJG reference curves, tables re-scored on other images, the
trials as a frame, and a curve's summary against IJG (BD-rates with paired intervals,
hypervolumes). :mod:`qsearch.report.runs` writes them into a run folder."""

from __future__ import annotations

import json
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import pandas as pd

from qsearch.atomic import atomic_write
from qsearch.codecs.codec import EncoderSettings
from qsearch.report.pareto import bd_rate, bootstrap_bd_rate, curve_point, hypervolume
from qsearch.search.metrics import metric_sign, metric_spec
from qsearch.search.trial import Trial
from qsearch.tables.qtable import IJG, IJG_QUALITIES, QTable, TableFamily

MIN_IMAGES_TO_JUDGE = 100
"""Below this many images a bootstrap interval over images is itself too unreliable to call a
difference significant (with 400 images, top-1 alone has a standard error of about 2 points)."""
IJG_SEARCH, IJG_TEST, TEST_SCORES, REFERENCE = (
    "ijg.csv",
    "ijg_test.csv",
    "test_scores.csv",
    "reference.json",
)


def scored(evaluator, qtable: QTable) -> dict:
    """Metrics with the per-image figures as one JSON column (for paired bootstraps)."""
    evaluation = evaluator.evaluate(qtable, per_image=True)
    metrics = dict(evaluation)
    if evaluation.per_image is not None:
        metrics["per_image"] = json.dumps(evaluation.per_image)
    return metrics


def sweep(
    evaluator,
    family: TableFamily | None = IJG,
    qualities=IJG_QUALITIES,
    *,
    settings: EncoderSettings | None = None,
    progress: bool = False,
    label: str | None = None,
) -> pd.DataFrame:
    """One row per quality, with per-image figures, on the same images: ``family``'s table at
    each quality, or (``family=None``) a quality codec at each quality of its own scale. With
    the defaults, the IJG reference curve every front is measured against. ``settings``
    switches the evaluator's encoder first (it stays switched)."""
    if settings is not None:
        evaluator.use_encoder(settings)
    codec = settings.codec if settings is not None else None
    label = label or " ".join(
        part for part in (codec, f"{family} tables" if family is not None else None) if part
    )
    rows = [
        {"quality": q, **scored(evaluator, family.at(q) if family is not None else q)}
        for q in progress_bar(qualities, label or "quality sweep", progress)
    ]
    return pd.DataFrame(rows)


def progress_bar(items, label: str, shown: bool):
    """``items`` with a progress bar (count, rate and time left) when ``shown``."""
    if not shown:
        return items
    from tqdm import tqdm

    return tqdm(
        items, desc=label, unit="table", dynamic_ncols=True, disable=None
    )  # a terminal only


def rival_points(curve: pd.DataFrame, metric: str, rate: str) -> tuple:
    """A reference curve (e.g. IJG's) as early-rejection rivals: (rate, signed accuracy,
    signed per-image accuracies) per point, so a table no better than the standard tables at
    its rate stops early from the first trial on."""
    sign = metric_sign(metric)
    return tuple(
        (float(row[rate]), sign * float(row[metric]), tuple(point["accuracy"]))
        for (_, row), point in zip(curve.iterrows(), frame_points(curve, metric) or [])
        if "accuracy" in point  # pooled figures (mAP) are never stopped early
    )


def cached_frame(path: Path, compute) -> pd.DataFrame:
    """Read a CSV the run already holds, or compute and save it (so re-exports cost nothing)."""
    if path.exists():
        return pd.read_csv(path)
    frame = compute()
    write_csv(frame, path)
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A CSV written atomically: a crash never leaves half a file."""
    with atomic_write(path, "w") as handle:
        frame.to_csv(handle, index=False)


def trials_frame(trials: list[Trial]) -> pd.DataFrame:
    """One row per trial: provenance, state, value, every metric and the table's key."""
    return pd.DataFrame(
        [
            {
                "number": t.number,
                "searcher": t.searcher,
                "worker": t.worker,
                "state": t.state,
                "value": t.value,
                **t.metrics,
                "key": t.qtable.key,
            }
            for t in trials
        ]
    )


def rescore(
    evaluator, tables: dict[str, QTable], path: Path, progress: bool = False
) -> pd.DataFrame:
    """Scores of ``tables`` (by key) on another split, adding only the ones not yet in ``path``."""
    known = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["key"])
    missing = [key for key in tables if key not in set(known["key"])]
    if missing:
        keys = progress_bar(missing, "front on the held-out images", progress)
        fresh = pd.DataFrame([{"key": key, **scored(evaluator, tables[key])} for key in keys])
        known = pd.concat([known, fresh], ignore_index=True) if len(known) else fresh
        write_csv(known, path)
    return known


def verdict(result: dict, held_out: bool) -> str:
    """One line for the plot: the BD-rate, its interval, and whether the gain is significant."""
    where = "test split" if held_out else "searched images"
    if result["bd_rate_vs_ijg_percent"] is None:
        return f"{where}: no accuracy range in common with IJG"
    text = f"{where}: BD-rate {result['bd_rate_vs_ijg_percent']:+.1f}% vs IJG"
    if result.get("verdict"):
        text += f": {result['verdict']}"
    elif "significant" in result:
        verdict = "no significant difference"
        if result["significant"]:
            verdict = (
                "significantly fewer bits"
                if result["bd_rate_ci95_high"] < 0
                else "significantly more bits"
            )
        text += f", 95% CI {result['bd_rate_ci95_low']:+.1f} to {result['bd_rate_ci95_high']:+.1f}: {verdict}"
    return text


def frame_figures(frame: pd.DataFrame) -> list[dict] | None:
    """Per-image figures of each row from a frame's JSON ``per_image`` column, or None."""
    if "per_image" not in frame or frame["per_image"].isna().any():
        return None
    return [per_image_figures(text) for text in frame["per_image"]]


@lru_cache(maxsize=256)
def per_image_figures(text: str) -> dict:
    """One row's per-image figures, parsed once per text: every interval of a report reads the
    same rows, and pooled figures (mAP) keep their resampled values per parsed record list.
    Shared between callers: read, never change."""
    return json.loads(text)


def frame_points(frame: pd.DataFrame, metric: str) -> list[dict] | None:
    """Per-image curve points of a frame (:func:`qsearch.report.pareto.curve_point`), or None."""
    figures = frame_figures(frame)
    points = None if figures is None else [curve_point(f, metric) for f in figures]
    return None if points is None or any(p is None for p in points) else points  # type: ignore[return-value]  # None filtered


def curve_summary(
    front: pd.DataFrame,
    ijg: pd.DataFrame,
    metric: str,
    rate: str,
    front_points=None,
    uncompressed: float | None = None,
) -> dict:
    """BD-rate of a curve against the IJG curve (with its paired bootstrap interval where both
    carry per-image figures), the same over the high-accuracy range only (from IJG quality 50
    up), both hypervolumes, and the ``uncompressed`` value of the metric when given.
    ``front_points`` default to the frame's own ``per_image`` column."""
    if front_points is None:
        front_points = frame_points(front, metric)
    reference_points = frame_points(ijg, metric)
    sign = metric_sign(metric)
    accuracy, ijg_accuracy = sign * front[metric].to_numpy(), sign * ijg[metric].to_numpy()
    result: dict[str, Any] = {
        "bd_rate_vs_ijg_percent": bd_rate(ijg[rate], ijg_accuracy, front[rate], accuracy)
    }
    pairs = _pairs(rate, reference_points, front_points)
    result.update(_interval("bd_rate_ci95", pairs, bd_rate))
    floor = _quality_50(ijg, metric) if rate == "bpp" else None
    if floor is not None:
        result["bd_rate_high_accuracy_percent"] = bd_rate(
            ijg[rate], ijg_accuracy, front[rate], accuracy, floor=floor
        )
        result.update(_interval("bd_rate_high_accuracy_ci95", pairs, partial(bd_rate, floor=floor)))
    if metric_spec(metric).in_unit_interval and rate == "bpp":  # hypervolume needs [0, 1]
        result["hypervolume"] = hypervolume(front[rate], accuracy)
        result["ijg_hypervolume"] = hypervolume(ijg[rate], ijg_accuracy)
    result = {k: (None if v != v else round(v, 5)) for k, v in result.items()}
    result.update(_significance(result, reference_points))
    if uncompressed is not None:
        result["uncompressed"] = round(float(uncompressed), 5)
    return result


def _pairs(rate: str, reference_points, front_points) -> tuple | None:
    """Both curves' per-image figures, where intervals apply (bits per pixel, both known)."""
    if rate != "bpp" or front_points is None or reference_points is None:
        return None
    return reference_points, front_points


def _quality_50(ijg: pd.DataFrame, metric: str) -> float | None:
    """The signed accuracy of IJG quality 50, where the high-accuracy range starts."""
    if "quality" not in ijg or not (ijg["quality"] == 50).any():
        return None
    return float(metric_sign(metric) * ijg.loc[ijg["quality"] == 50, metric].iloc[0])


def _interval(name: str, pairs: tuple | None, statistic) -> dict:
    """``name_low`` and ``name_high``: the paired bootstrap interval of ``statistic`` over
    images (nothing without per-image figures on both sides)."""
    if pairs is None:
        return {}
    reference, test = pairs
    low, high = bootstrap_bd_rate(reference, test, statistic=statistic)
    return {f"{name}_low": low, f"{name}_high": high}


def _significance(result: dict, reference_points) -> dict:
    """How many images the interval rests on, and whether it excludes zero (never judged on
    fewer than :data:`MIN_IMAGES_TO_JUDGE`)."""
    if not reference_points:
        return {}
    images = len(reference_points[0]["pixels"])
    found: dict[str, Any] = {"images": images}
    if result.get("bd_rate_ci95_high") is None:
        return found
    if images < MIN_IMAGES_TO_JUDGE:
        found["significant"] = None
        found["verdict"] = f"too few images to judge: {images} < {MIN_IMAGES_TO_JUDGE}"
    else:
        found["significant"] = result["bd_rate_ci95_high"] < 0 or result["bd_rate_ci95_low"] > 0
    return found
