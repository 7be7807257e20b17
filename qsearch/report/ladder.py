"""The codec ladder: every encoder a user could pick, swept over its quality scale on the same
images and judged by the same network and measures as tables: BD-rate against libjpeg-turbo's
IJG curve over the whole range and from IJG quality 50 up, and the bits where each curve
crosses 99/98/95/90% of the uncompressed accuracy, each with its paired bootstrap interval, and
the encoder's time per image measured in the same run.

A codec's curve is its own quality sweep, not a choice among tables, so where it crosses a
target is a figure of that codec at that accuracy (no table is picked on the judged images).
"""

from __future__ import annotations

import pandas as pd

from qsearch.report.curves import curve_summary
from qsearch.report.operating import TARGETS, crossing_cell, percent_cell
from qsearch.report.pareto import bpp_at
from qsearch.search.metrics import metric_sign, operating_target


def ladder(
    curves: dict[str, pd.DataFrame], ijg: pd.DataFrame, metrics, uncompressed: dict
) -> pd.DataFrame:
    """One row per (curve, metric): BD-rates and crossings against ``ijg`` with intervals."""
    rows = []
    for name, frame in curves.items():
        for metric in metrics:
            summary = curve_summary(frame, ijg, metric, "bpp")
            row = {
                "codec": name,
                "metric": metric,
                "bd_rate": percent_cell(
                    summary["bd_rate_vs_ijg_percent"],
                    summary.get("bd_rate_ci95_low"),
                    summary.get("bd_rate_ci95_high"),
                ),
                "bd_rate_q50_up": percent_cell(
                    summary.get("bd_rate_high_accuracy_percent"),
                    summary.get("bd_rate_high_accuracy_ci95_low"),
                    summary.get("bd_rate_high_accuracy_ci95_high"),
                ),
            }
            for fraction in TARGETS if metric in uncompressed else ():  # PSNR has none
                target = operating_target(metric, uncompressed[metric], fraction)
                row[f"at {100 * fraction:g}%"] = crossing_cell(
                    frame, ijg, metric, target, "not reached"
                )
            if "encode_ms_per_image" in frame:
                row["encode ms/image"] = round(float(frame["encode_ms_per_image"].median()), 2)
            rows.append(row)
    return pd.DataFrame(rows)


def fewest_bits(
    curves: dict[str, pd.DataFrame], metric: str, uncompressed: dict, reference: str
) -> list[str]:
    """For each target (a share of ``uncompressed``, the figure of ``reference``), the curve
    (codec, family, sent size) reaching it at the fewest bits per stored pixel: the rung to
    take for this network on these images."""
    if metric not in uncompressed:
        return []
    sign, lines = metric_sign(metric), []
    for fraction in TARGETS:
        target = operating_target(metric, uncompressed[metric], fraction)
        at = f"at {100 * fraction:g}% of the {reference} {metric}"
        bits = {name: bpp_at(frame["bpp"], sign * frame[metric], sign * target)
                for name, frame in curves.items()}  # fmt: skip
        reached = {name: value for name, value in bits.items() if value == value}
        if not reached:
            above = any((sign * frame[metric] > sign * target).all() for frame in curves.values())
            lines.append(f"{at}: " + ("a curve keeps more at its coarsest quality: sweep coarser "
                                      "qualities" if above else "no curve reaches it"))  # fmt: skip
            continue
        best = min(reached, key=reached.__getitem__)
        ijg = f"ijg {bits['ijg']:.3f}" if bits["ijg"] == bits["ijg"] else "ijg outside its sweep"
        lines.append(f"fewest bits {at}: {best} ({reached[best]:.3f} bpp per stored pixel; {ijg})")
    return lines


def markdown(table: pd.DataFrame) -> str:
    """The ladder as a markdown table."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


__all__ = ["fewest_bits", "ladder", "markdown"]
