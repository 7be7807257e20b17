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
from qsearch.search.metrics import operating_target


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


def markdown(table: pd.DataFrame) -> str:
    """The ladder as a markdown table."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


__all__ = ["ladder", "markdown"]
