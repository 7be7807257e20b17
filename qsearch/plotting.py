"""Accuracy-vs-bpp plots of fronts against the IJG quality curve."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_curves(curves: dict[str, pd.DataFrame], metric: str, path, title: str = "") -> Path:
    """One line per curve (sorted by bpp), markers for measured points; saved as PNG."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for label, frame in curves.items():
        frame = frame.sort_values("bpp")
        style = "--" if label.startswith("IJG") else "-"
        axes.plot(frame["bpp"], frame[metric], style, marker="o", markersize=3, label=label)
    axes.set_xlabel("bits per pixel")
    axes.set_ylabel(metric)
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return Path(path)
