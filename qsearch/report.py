"""Exports of a run: trials.csv, front.csv, one cjpeg table file per front table,
front.png against the IJG curve, and summary.json (hypervolume, BD-rate vs IJG)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from qsearch.atomic import atomic_write, write_text
from qsearch.errors import QSearchError
from qsearch.pareto import bd_rate, bootstrap_bd_rate, hypervolume, non_dominated, saving_at
from qsearch.plotting import plot_curves
from qsearch.qtable import IJG, QTable, TableFamily
from qsearch.trial import Objective, Trial, metric_sign, operating_target

IJG_QUALITIES = tuple(range(5, 100, 5))
TARGETS = (0.99, 0.98, 0.95, 0.90)
"""Operating points: fractions of the uncompressed accuracy that users accept."""
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
    metrics = evaluator.evaluate(qtable, per_image=True)
    if "per_image" in metrics:
        metrics["per_image"] = json.dumps(metrics["per_image"])
    return metrics


def quality_curve(evaluator, family: TableFamily = IJG, qualities=IJG_QUALITIES) -> pd.DataFrame:
    """A table family over a quality sweep, same images and settings; with the default IJG
    family, the reference curve every front is measured against."""
    return pd.DataFrame([{"quality": q, **scored(evaluator, family.at(q))} for q in qualities])


def rival_points(curve: pd.DataFrame, metric: str, rate: str) -> tuple:
    """A reference curve (e.g. IJG's) as early-rejection rivals: (rate, signed accuracy,
    signed per-image accuracies) per point, so a table no better than the standard tables at
    its rate stops early from the first trial on."""
    sign = metric_sign(metric)
    return tuple(
        (float(row[rate]), sign * float(row[metric]), tuple(point["accuracy"]))
        for (_, row), point in zip(curve.iterrows(), _points(curve, metric) or [])
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


def rescore(evaluator, tables: dict[str, QTable], path: Path) -> pd.DataFrame:
    """Scores of ``tables`` (by key) on another split, adding only the ones not yet in ``path``."""
    known = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["key"])
    missing = [key for key in tables if key not in set(known["key"])]
    if missing:
        fresh = pd.DataFrame([{"key": key, **scored(evaluator, tables[key])} for key in missing])
        known = pd.concat([known, fresh], ignore_index=True) if len(known) else fresh
        write_csv(known, path)
    return known


def export_run(directory, trials: list[Trial], objective: Objective, identity: dict) -> dict:
    """Write every export of a run from its records (each file atomically); returns the summary,
    which carries the run's identity so that a front can always be traced to its data."""
    directory = Path(directory)
    if not trials:
        raise QSearchError(
            f"{directory}: the run has no trials yet; run its qsearch run command first"
        )
    settings = identity.get("encoder", identity.get("settings", ""))
    metric, rate = objective.metric, objective.rate
    frame = trials_frame(trials)
    write_csv(frame, directory / "trials.csv")
    complete = [t for t in trials if t.state == "complete"]
    front = frame[frame["state"] == "complete"].reset_index(drop=True)
    front = front.iloc[
        non_dominated(front[rate], [objective.accuracy(t.metrics) for t in complete])
    ]
    front = front.sort_values(rate).reset_index(drop=True)

    tables_dir = directory / "tables"
    tables_dir.mkdir(exist_ok=True)
    for stale in tables_dir.glob("*.txt"):
        stale.unlink()
    by_key = {t.qtable.key: t for t in trials}
    paths = []
    for _, row in front.iterrows():
        trial = by_key[row["key"]]
        path = Path("tables") / f"trial-{trial.number:04d}.txt"
        trial.qtable.save(
            directory / path,
            comment=f"qsearch trial {trial.number} ({trial.searcher}): "
            f"{metric}={row[metric]:.4f}, {rate}={row[rate]:.4f}, {settings}",
        )
        paths.append(str(path))
    front["table"] = paths

    ijg = pd.read_csv(directory / IJG_SEARCH)
    references = (
        json.loads((directory / REFERENCE).read_text()) if (directory / REFERENCE).exists() else {}
    )
    curves = {"front": front, "IJG quality": ijg}
    search_points = [
        {**t.per_image, "accuracy": _signed(t.per_image["accuracy"], metric)}
        for t in (by_key[k] for k in front["key"])
        if t.per_image is not None
    ]
    summary = {
        "searcher": identity.get("searcher", ""),
        "space": identity.get("space", ""),
        "settings": settings,
        "trials": len(trials),
        "pruned": len(trials) - len(complete),
        "front_size": len(front),
        "images_scored": int(sum(t.metrics.get("images", 0) for t in trials)),
        "metric": metric,
        "rate": rate,
        "search": curve_summary(
            front,
            ijg,
            metric,
            rate,
            search_points if len(search_points) == len(front) else None,
            uncompressed=references.get("search", {}).get(metric),
        ),
    }
    scores_path, ijg_test_path = directory / TEST_SCORES, directory / IJG_TEST
    if scores_path.exists() and ijg_test_path.exists():
        scores = pd.read_csv(scores_path).set_index("key")
        tested = front[front["key"].isin(scores.index)]
        test = scores.loc[tested["key"]].reset_index()
        test["table"] = tested["table"].to_numpy()  # operating points on test name their table
        for column in (metric, rate, "ratio", "bytes"):
            front.loc[tested.index, f"test_{column}"] = test[column].to_numpy()
        ijg_test = pd.read_csv(ijg_test_path)
        curves["front re-scored on the test split"] = test
        curves["IJG quality, test split"] = ijg_test
        test_reference = references.get("test", {})
        summary["test"] = curve_summary(
            test, ijg_test, metric, rate, uncompressed=test_reference.get(metric)
        )
        if (
            metric != "top1" and "top1" in test and "top1" in ijg_test
        ):  # searched on a smoother score: judge on top-1
            summary["test_top1"] = curve_summary(
                test, ijg_test, "top1", rate, uncompressed=test_reference.get("top1")
            )
    write_csv(front.drop(columns=["state"]), directory / "front.csv")
    judged = summary.get("test", summary["search"])
    marks = [
        (
            point["bpp"],
            point["target"],
            f"{100 * point['fraction']:.0f}%: {point['saving_percent']:+.1f}%",
        )
        for point in judged.get("operating_points", [])
        if point.get("bpp")
        and point["saving_percent"] is not None
        and point["fraction"] in (0.98, 0.95)
    ]
    plot_curves(
        curves,
        metric,
        directory / "front.png",
        marks=marks,
        title=f"{identity.get('searcher', '')} on {identity.get('space', '')}, {settings}; {metric} on "
        f"{max(int(t.metrics.get('images', 0)) for t in trials)} images\n"
        + _verdict(summary.get("test", summary["search"]), "test" in summary),
    )
    summary["identity"] = identity
    write_text(directory / "summary.json", json.dumps(summary, indent=2))
    return summary


def _verdict(result: dict, held_out: bool) -> str:
    """One line for the plot: the BD-rate, its interval, and whether the gain is significant."""
    where = "test split" if held_out else "searched images"
    if result["bd_rate_vs_ijg_percent"] is None:
        return f"{where}: no accuracy range in common with IJG"
    text = f"{where}: BD-rate {result['bd_rate_vs_ijg_percent']:+.1f}% vs IJG"
    if result.get("verdict"):
        text += f" ({result['verdict']})"
    elif "significant" in result:
        verdict = "no significant difference"
        if result["significant"]:
            verdict = (
                "significantly fewer bits"
                if result["bd_rate_ci95_high"] < 0
                else "significantly more bits"
            )
        text += f" (95% CI {result['bd_rate_ci95_low']:+.1f} to {result['bd_rate_ci95_high']:+.1f}: {verdict})"
    return text


def _signed(values, metric: str) -> list[float]:
    return [metric_sign(metric) * v for v in values]


def _points(frame: pd.DataFrame, metric: str) -> list[dict] | None:
    """Per-image curve points from a frame's JSON ``per_image`` column, or None without one."""
    if "per_image" not in frame or frame["per_image"].isna().any():
        return None
    points = []
    for text in frame["per_image"]:
        figures = json.loads(text)
        points.append(
            {
                "accuracy": _signed(figures[metric], metric),
                "bytes": figures["bytes"],
                "pixels": figures["pixels"],
            }
        )
    return points


def operating_points(
    front: pd.DataFrame,
    ijg: pd.DataFrame,
    metric: str,
    uncompressed: float,
    front_points=None,
    reference_points=None,
    fractions=TARGETS,
) -> list[dict]:
    """Bits saved against the IJG curve at equal accuracy, at each of :data:`TARGETS` (with the
    paired bootstrap interval where per-image figures exist), and the front table that reaches it."""
    found = []
    for fraction in fractions:
        target = operating_target(metric, uncompressed, fraction)
        point = {
            "fraction": fraction,
            "target": round(target, 5),
            "saving_percent": saving_at(
                ijg["bpp"], ijg[metric], front["bpp"], front[metric], target
            ),
        }
        reaching = front[front[metric] >= target].sort_values("bpp")
        if len(reaching):
            point.update(table=reaching.iloc[0].get("table"), bpp=float(reaching.iloc[0]["bpp"]))
        if (
            front_points is not None
            and reference_points is not None
            and point["saving_percent"] == point["saving_percent"]
        ):
            low, high = bootstrap_bd_rate(
                reference_points, front_points, statistic=partial(saving_at, target=target)
            )
            point.update(
                ci95_low=low,
                ci95_high=high,
                significant=bool(high < 0 or low > 0) if high == high else None,
            )
        found.append(
            {
                k: (
                    round(v, 5)
                    if isinstance(v, float) and v == v
                    else None
                    if isinstance(v, float)
                    else v
                )
                for k, v in point.items()
            }
        )
    return found


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
    up), both hypervolumes, and with the ``uncompressed`` value of the metric, the bits saved
    at the operating points users choose. ``front_points`` default to the frame's own
    ``per_image`` column."""
    front_points = front_points if front_points is not None else _points(front, metric)
    sign = metric_sign(metric)
    accuracy, ijg_accuracy = sign * front[metric].to_numpy(), sign * ijg[metric].to_numpy()
    result: dict[str, Any] = {
        "bd_rate_vs_ijg_percent": bd_rate(ijg[rate], ijg_accuracy, front[rate], accuracy)
    }
    reference_points = _points(ijg, metric)
    if rate == "bpp" and front_points is not None and reference_points is not None:
        low, high = bootstrap_bd_rate(reference_points, front_points)
        result["bd_rate_ci95_low"], result["bd_rate_ci95_high"] = low, high
    if rate == "bpp" and "quality" in ijg and (ijg["quality"] == 50).any():
        floor = float(sign * ijg.loc[ijg["quality"] == 50, metric].iloc[0])
        result["bd_rate_high_accuracy_percent"] = bd_rate(
            ijg[rate], ijg_accuracy, front[rate], accuracy, floor=floor
        )
        if front_points is not None and reference_points is not None:
            low, high = bootstrap_bd_rate(
                reference_points, front_points, statistic=partial(bd_rate, floor=floor)
            )
            result["bd_rate_high_accuracy_ci95_low"], result["bd_rate_high_accuracy_ci95_high"] = (
                low,
                high,
            )
    if (
        metric in ("top1", "top5", "agreement", "similarity") and rate == "bpp"
    ):  # hypervolume needs [0, 1]
        result["hypervolume"] = hypervolume(front[rate], accuracy)
        result["ijg_hypervolume"] = hypervolume(ijg[rate], ijg_accuracy)
    result = {k: (None if v != v else round(v, 5)) for k, v in result.items()}
    images = len(reference_points[0]["pixels"]) if reference_points else None
    if images is not None:
        result["images"] = images
    if result.get("bd_rate_ci95_high") is not None and images is not None:
        if images < MIN_IMAGES_TO_JUDGE:
            result["significant"] = None
            result["verdict"] = f"too few images to judge ({images} < {MIN_IMAGES_TO_JUDGE})"
        else:
            result["significant"] = (
                result["bd_rate_ci95_high"] < 0 or result["bd_rate_ci95_low"] > 0
            )
    if uncompressed is not None and rate == "bpp" and metric != "kl":
        result["uncompressed"] = round(float(uncompressed), 5)
        result["operating_points"] = operating_points(
            front, ijg, metric, uncompressed, front_points, reference_points
        )
    return result
