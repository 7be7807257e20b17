"""Operating points: the table a user takes at a share of the uncompressed accuracy, and what
it does on images it was not chosen on.

The user's question is "which table at 98% of the uncompressed accuracy, and what does it
save". The answer has two steps that must not see the same images:

1. **Choose** on the searched images only: the cheapest front table whose searched figure
   reaches the target there (``table``), and the cheapest whose one-sided 95% lower bound
   reaches it (``confident_table``: paired with the uncompressed figures image by image, so it
   asks "would this table still reach the target on other images like these").
2. **Judge** each chosen table on the held-out images, at its own accuracy: its bpp, the share
   of the uncompressed accuracy it keeps there (with a paired bootstrap interval), and its own
   bits against the IJG curve interpolated at that accuracy (``bits_vs_ijg_percent``, negative
   = fewer bits, with a paired bootstrap interval).

Where the front's envelope crosses the target on the judged images is a different figure (it
picks, on those images, whichever table happens to cross) and keeps its own name,
``front_crossing_bits_vs_ijg_percent``. Without a held-out split the same figures are computed
on the searched images and say so (``judged_on``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from qsearch.errors import QSearchError
from qsearch.report.curves import frame_figures
from qsearch.report.pareto import (
    bootstrap_samples,
    curve_point,
    interval,
    resample_draws,
    saving_at,
)
from qsearch.search.metrics import (
    has_figures,
    is_pooled,
    metric_sign,
    metric_spec,
    operating_target,
    pool,
    share_of_uncompressed,
)

TARGETS = (0.99, 0.98, 0.95, 0.90)
"""Operating points: fractions of the uncompressed accuracy that users accept."""
LOWER_BOUND_Z = 1.645
"""One-sided 95% normal bound of a mean over images (the ``confident_table`` rule)."""


@dataclass(frozen=True)
class Curve:
    """Figures of some tables on one image set: one row per table (``bpp``, the metric, and for
    front tables ``key``, ``table``, ``number``) and, per row, per-image ``figures``
    ({metric: [...], "bytes": [...], "pixels": [...]}) where known."""

    frame: pd.DataFrame
    figures: list[dict] | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Curve:
        """A curve whose per-image figures are the frame's JSON ``per_image`` column."""
        if "per_image" not in frame or frame["per_image"].isna().any():
            return cls(frame.reset_index(drop=True))
        return cls(frame.reset_index(drop=True), frame_figures(frame))

    def points(self, metric: str) -> list[dict] | None:
        """Per-image points for paired bootstraps (:func:`curve_point`), or None."""
        if self.figures is None:
            return None
        points = [curve_point(f, metric) for f in self.figures]
        return None if any(p is None for p in points) else points  # type: ignore[return-value]  # None filtered


@dataclass(frozen=True)
class ImageSide:
    """One image set of a run: the front's figures on it, the IJG curve on it, and the network's
    figures on the uncompressed images (means, and image by image where known)."""

    front: Curve
    ijg: Curve
    uncompressed: dict
    uncompressed_per_image: dict | None = None

    def reference_name(self, metric: str) -> str:
        """What 100% of ``metric`` is (:func:`reference_name`)."""
        return reference_name(metric, self.ijg.frame)


def reference_name(metric: str, ijg: pd.DataFrame) -> str:
    """What 100% of ``metric`` is: the uncompressed images, or for a self-referenced figure the
    finest quality of the IJG sweep ``ijg`` (:func:`share_references`)."""
    if not self_referenced(metric) or ijg.empty or "quality" not in ijg:
        return "uncompressed"
    return f"IJG quality {int(ijg.loc[ijg['bpp'].idxmax(), 'quality'])}"


def self_referenced(metric: str) -> bool:
    """Whether ``metric`` judges the network against itself (:class:`MetricSpec`)."""
    try:
        return metric_spec(metric).self_referenced
    except QSearchError:  # a figure no evaluator declares (e.g. boxes per image)
        return False


def share_references(uncompressed: dict, ijg: pd.DataFrame | None) -> dict:
    """The figures every share is taken of: the uncompressed ones, but for a self-referenced
    figure what the finest quality of the IJG sweep keeps on the same images, a figure tables
    can reach (said wherever a share is printed: :meth:`ImageSide.reference_name`)."""
    found = dict(uncompressed)
    if ijg is None or ijg.empty:
        return found
    finest = ijg.loc[ijg["bpp"].idxmax()]
    for name in uncompressed:
        if name in finest and self_referenced(name):
            found[name] = float(finest[name])
    return found


def operating_points(
    metric: str,
    searched: ImageSide,
    judged: ImageSide,
    judged_on: str,
    fractions=TARGETS,
    seed: int = 0,
) -> list[dict]:
    """For each fraction: the tables chosen on ``searched`` and judged on ``judged`` (see the
    module's docstring), and the front's envelope crossing on ``judged``."""
    undefined = _no_share(metric, searched, judged)
    if undefined:
        return [
            {"fraction": f, "metric": metric, "chosen_on": "search", "judged_on": judged_on,
             "table": None, "confident_table": None, "front_crossing_bits_vs_ijg_percent": None,
             "undefined": undefined}
            for f in fractions
        ]  # fmt: skip
    found = []
    for fraction in fractions:
        target = operating_target(metric, searched.uncompressed[metric], fraction)
        judged_target = operating_target(metric, judged.uncompressed[metric], fraction)
        point: dict = {
            "fraction": fraction,
            "metric": metric,
            "chosen_on": "search",
            "judged_on": judged_on,
            "target_searched": target,
            "target_judged": judged_target,
            "reference": judged.reference_name(metric),
        }
        for name, rule in (("table", _reaching), ("confident_table", _reaching_bound)):
            row = rule(searched, metric, fraction, target)
            point[name] = None if row is None else judge(row, metric, fraction, searched, judged)
        point.update(front_crossing(metric, judged.front, judged.ijg, judged_target, seed))
        found.append(_rounded(point))
    return found


def _no_share(metric: str, searched: ImageSide, judged: ImageSide) -> str | None:
    """Why shares of the uncompressed figure mean nothing here (it is 0), or None."""
    for name, side in (("searched", searched), ("judged", judged)):
        if math.isnan(share_of_uncompressed(metric, 1.0, side.uncompressed[metric])):
            return f"the uncompressed {metric} on the {name} images is 0: no share of it exists"
    return None


def _reaching(side: ImageSide, metric: str, fraction: float, target: float) -> pd.Series | None:
    """The cheapest front row whose figure reaches ``target`` on these images."""
    sign = metric_sign(metric)
    frame = side.front.frame
    reaching = frame[sign * frame[metric] >= sign * target]
    return None if reaching.empty else reaching.sort_values("bpp").iloc[0]


def _reaching_bound(
    side: ImageSide, metric: str, fraction: float, target: float
) -> pd.Series | None:
    """The cheapest front row whose one-sided 95% lower bound reaches ``target``: the bound of
    the mean per-image margin over the target (paired with the uncompressed figures where they
    are known image by image)."""
    points = side.front.points(metric)
    if points is None or "accuracy" not in points[0]:  # pooled figures: no per-image margin
        return None
    sign = metric_sign(metric)
    per_target = np.full(len(points[0]["accuracy"]), sign * target)
    if side.uncompressed_per_image is not None and metric in side.uncompressed_per_image:
        per_target = sign * np.array(
            [operating_target(metric, v, fraction) for v in side.uncompressed_per_image[metric]]
        )
    order = np.argsort(side.front.frame["bpp"].to_numpy(), kind="stable")
    for i in order:
        margin = np.asarray(points[i]["accuracy"]) - per_target
        bound = margin.mean() - LOWER_BOUND_Z * margin.std(ddof=1) / math.sqrt(len(margin))
        if bound >= 0:
            return side.front.frame.iloc[i]
    return None


def judge(
    row: pd.Series, metric: str, fraction: float, searched: ImageSide, judged: ImageSide
) -> dict:
    """One chosen table on the judged images: its own bpp and figure, the share of the
    uncompressed figure it keeps (interval), and its own bits against IJG at that figure."""
    frame = judged.front.frame
    position = int(np.flatnonzero((frame["key"] == row["key"]).to_numpy())[0])
    judged_row = frame.iloc[position]
    value = float(judged_row[metric])
    share = share_of_uncompressed(metric, value, judged.uncompressed[metric])
    result = {
        "file": row.get("table"),
        "number": int(row["number"]) if "number" in row else None,
        "searched_bpp": float(row["bpp"]),
        f"searched_{metric}": float(row[metric]),
        "searched_share": share_of_uncompressed(metric, row[metric], searched.uncompressed[metric]),
        "bpp": float(judged_row["bpp"]),
        metric: value,
        "share": share,
        "reaches_target": bool(share >= fraction),
    }
    figures = judged.front.figures[position] if judged.front.figures is not None else None
    if figures is not None and has_figures(metric, figures):
        result["share_ci95_low"], result["share_ci95_high"] = share_interval(
            metric, figures, judged.uncompressed_per_image, judged.uncompressed[metric]
        )
    result.update(own_bits(metric, judged.ijg, judged.front, position))
    return result


def own_bits(metric: str, ijg: Curve, tables: Curve, position: int) -> dict:
    """One table's bits against the IJG curve interpolated at the table's own accuracy
    (``bits_vs_ijg_percent``, negative = fewer), with its paired bootstrap interval."""
    sign, row = metric_sign(metric), tables.frame.iloc[position]
    result: dict = {
        "bits_vs_ijg_percent": _own_saving(
            ijg.frame["bpp"],
            sign * ijg.frame[metric],
            [float(row["bpp"])],
            [sign * float(row[metric])],
        )
    }
    ijg_points, points = ijg.points(metric), tables.points(metric)
    if ijg_points is not None and points is not None:
        low, high = interval(bootstrap_samples(ijg_points, [points[position]], _own_saving))
        result.update(
            bits_vs_ijg_ci95_low=low,
            bits_vs_ijg_ci95_high=high,
            significant=bool(high < 0 or low > 0) if high == high else None,
        )
    return result


def _own_saving(ref_bpp, ref_acc, bpp, acc) -> float:
    """% bits of a one-table curve against the reference at that table's own accuracy."""
    return saving_at(ref_bpp, ref_acc, bpp, acc, target=float(acc[0]))


def figure_draws(figures: dict | None, metric: str, draws: np.ndarray) -> np.ndarray | None:
    """``metric`` on each resample of ``draws`` from per-image ``figures`` (the mean of per-image
    values, or a pooled figure recomputed with each image weighted by its draws); None where the
    figures lack it."""
    if figures is None or not has_figures(metric, figures):
        return None
    if is_pooled(metric):
        return pool(metric, figures).over(draws)
    return np.asarray(figures[metric], dtype=np.float64)[draws].mean(1)


def share_interval(
    metric: str, figures: dict, uncompressed_per_image: dict | None, uncompressed: float
) -> tuple[float, float]:
    """95% bootstrap interval over images of the share of the uncompressed figure a table keeps
    (paired with the uncompressed figures image by image where they are known); NaN on one
    image, which a resample cannot vary."""
    if len(figures["bytes"]) < 2:
        return float("nan"), float("nan")
    draws = resample_draws(0, 500, len(figures["bytes"]))
    table = figure_draws(figures, metric, draws)
    assert table is not None  # callers check
    reference = figure_draws(uncompressed_per_image, metric, draws)
    base = reference if reference is not None else np.full(len(draws), uncompressed)
    return interval(np.array([share_of_uncompressed(metric, t, b) for t, b in zip(table, base)]))


def front_crossing(metric: str, front: Curve, ijg: Curve, target: float, seed: int = 0) -> dict:
    """% bits where the front's envelope crosses ``target`` against the IJG curve there, with
    the paired bootstrap interval: a figure of the front, not of any one table."""
    sign = metric_sign(metric)
    value = saving_at(
        ijg.frame["bpp"],
        sign * ijg.frame[metric],
        front.frame["bpp"],
        sign * front.frame[metric],
        sign * target,
    )
    result = {"front_crossing_bits_vs_ijg_percent": value}
    ijg_points, points = ijg.points(metric), front.points(metric)
    if value == value and ijg_points is not None and points is not None:
        statistic = partial(saving_at, target=sign * target)
        low, high = interval(bootstrap_samples(ijg_points, points, statistic, seed=seed))
        result.update(front_crossing_ci95_low=low, front_crossing_ci95_high=high)
    return result


def _rounded(value):
    """Floats to 5 decimals and NaN to None, through nested dicts (JSON-ready)."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if value != value else round(value, 5)
    return value


def describe(point: dict, rule: str = "table") -> str:
    """One line for a chosen table: its file, its own figures on the judged images and its own
    bits against IJG, signed so that it cannot be misread."""
    table = point[rule]
    metric = point["metric"]
    if point.get("undefined"):
        return f"none: {point['undefined']}"
    if table is None:
        return "none reaches it on the searched images" + (
            " with 95% confidence" if rule == "confident_table" else ""
        )
    share = f"{100 * table['share']:.1f}%" + _bracket(table, "share_ci95", 100, ".1f")
    bits = table["bits_vs_ijg_percent"]
    saving = "IJG does not reach its accuracy there"
    if bits is not None:
        saving = f"{bits:+.1f}% bits vs IJG at its own {metric}"
        saving += _bracket(table, "bits_vs_ijg_ci95", 1, "+.1f") + " (negative = fewer bits)"
    warning = (
        f"; WARNING: on the {'held-out' if point.get('judged_on') == 'test' else 'judged'} "
        "images it costs more bits than the IJG tables at the same accuracy"
        if bits is not None and bits > 0
        else ""
    )
    return (
        f"{table['file']} (chosen on the searched images: {metric} {table[f'searched_{metric}']:.4f} at "
        f"{table['searched_bpp']:.3f} bpp); judged: {table['bpp']:.3f} bpp, keeps {share} "
        f"of the {point.get('reference', 'uncompressed')} {metric}, {saving}{warning}"
    )


def _bracket(table: dict, stem: str, scale: float, form: str) -> str:
    """`` [low, high]`` of an interval, a word where it could not be computed, or nothing."""
    low, high = table.get(f"{stem}_low"), table.get(f"{stem}_high")
    if low is None or high is None:
        return ""
    if not (math.isfinite(low) and math.isfinite(high)):
        return " (too few images for an interval)"
    return f" [{scale * low:{form}}, {scale * high:{form}}]"


def percent_cell(value, low=None, high=None, missing: str = "-") -> str:
    """``-12.3% [-20.1, -4.0] *`` (``*``: the interval excludes zero); ``missing`` for no value."""
    if value is None or value != value:
        return missing
    text = f"{value:+.1f}%"
    if low is not None and high is not None and low == low and high == high:
        text += f" [{low:+.1f}, {high:+.1f}]" + (" *" if high < 0 or low > 0 else "")
    return text


def crossing_cell(
    front: pd.DataFrame, ijg: pd.DataFrame, metric: str, target: float, missing: str = "-"
) -> str:
    """:func:`front_crossing` of two frames (per-image figures in their ``per_image`` column),
    formatted by :func:`percent_cell`."""
    point = front_crossing(metric, Curve.from_frame(front), Curve.from_frame(ijg), target)
    return percent_cell(
        point["front_crossing_bits_vs_ijg_percent"],
        point.get("front_crossing_ci95_low"),
        point.get("front_crossing_ci95_high"),
        missing=missing,
    )
