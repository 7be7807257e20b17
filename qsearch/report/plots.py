"""Accuracy-vs-bpp plots of fronts against the IJG quality curve.

Two panels: the whole range on a log-bpp axis, and the high-accuracy end where users choose
(the top of the accuracy range the curves span), zoomed. Fronts are drawn as the steps they are
(at a given bpp, the best accuracy of any table of no more bits); quality curves as lines.
Figures are built with matplotlib's object API, so importing this sets no global backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator, NullLocator

from qsearch.atomic import atomic_write

ZOOM_SHARE = 0.25
"""The zoomed panel shows the top quarter of the accuracy range the curves span."""


def _is_front(label: str) -> bool:
    return "quality" not in label.lower()


def _sparse_tick(value: float, _position: int) -> str:
    """Log-axis tick labels at 1, 2, 3 and 5 times a power of ten only (no colliding labels)."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if leading in (1, 2, 3, 5) else ""


def _draw(axes, curves: dict[str, pd.DataFrame], metric: str, marks, levels=()) -> None:
    for label, frame in curves.items():
        frame = frame.sort_values("bpp")
        if _is_front(label):
            best = np.maximum.accumulate(frame[metric].to_numpy())
            axes.step(frame["bpp"], best, where="post", label=label, linewidth=1.4)
            axes.plot(
                frame["bpp"], frame[metric], "o", markersize=2.5, color=axes.lines[-1].get_color()
            )
        else:
            axes.plot(
                frame["bpp"],
                frame[metric],
                "--",
                marker="o",
                markersize=2.5,
                label=label,
                linewidth=1.0,
            )
    for level in levels:
        axes.axhline(level, linestyle=":", color="gray", linewidth=0.8)
    for bpp, accuracy, text in marks:
        axes.plot([bpp], [accuracy], marker="*", markersize=9, color="black", linestyle="none")
        axes.annotate(
            text, (bpp, accuracy), textcoords="offset points", xytext=(-6, -12), fontsize=7,
            ha="right",
        )  # fmt: skip
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(_sparse_tick))
    axes.xaxis.set_minor_formatter(FuncFormatter(_sparse_tick))
    axes.tick_params(axis="x", which="minor", labelsize=7)
    axes.set_xlabel("bits per pixel (log scale)")
    axes.grid(alpha=0.3, which="both")


def plot_curves(
    curves: dict[str, pd.DataFrame],
    metric: str,
    path,
    title: str = "",
    marks: list[tuple[float, float, str]] | None = None,
    levels: Sequence[float] = (),
) -> Path:
    """Save the curves as a PNG (see :func:`curves_figure`)."""
    return save_figure(curves_figure(curves, metric, title, marks, levels), path)


def save_figure(figure: Figure, path) -> Path:
    """Write a figure as a PNG, atomically."""
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return Path(path)


def curves_figure(
    curves: dict[str, pd.DataFrame],
    metric: str,
    title: str = "",
    marks: list[tuple[float, float, str]] | None = None,
    levels: Sequence[float] = (),
) -> Figure:
    """The curves, the whole range and the high-accuracy end side by side. ``marks`` are
    operating points (bpp, accuracy, label) to point out; ``levels`` accuracies drawn dotted
    (operating targets)."""
    marks = marks or []
    figure = Figure(figsize=(10.5, 4.6), dpi=120)
    whole, zoom = figure.subplots(1, 2)
    _draw(whole, curves, metric, marks, levels)
    whole.set_ylabel(metric)
    whole.set_title("whole range", fontsize=9)
    whole.legend(fontsize=8, loc="lower right")
    values = pd.concat([frame[metric] for frame in curves.values()]).dropna()
    top, bottom = float(values.max()), float(values.min())
    low = top - ZOOM_SHARE * (top - bottom) if top > bottom else bottom - 0.01
    _draw(zoom, curves, metric, marks, levels)
    zoom.xaxis.set_major_locator(MaxNLocator(nbins=5))  # a narrow range: plain, spaced ticks
    zoom.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    zoom.xaxis.set_minor_locator(NullLocator())
    zoom.set_ylabel(metric)
    zoom.legend(fontsize=7, loc="lower right")
    reaching = pd.concat([frame.loc[frame[metric] >= low, "bpp"] for frame in curves.values()])
    if len(reaching):
        zoom.set_xlim(float(reaching.min()) / 1.15, float(reaching.max()) * 1.15)
    zoom.set_ylim(low, top + 0.05 * (top - low))
    zoom.set_title("the high-accuracy end (where users choose)", fontsize=9)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure
