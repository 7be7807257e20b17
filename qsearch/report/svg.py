"""An accuracy-vs-bits chart as inline SVG, for a report that opens from disk with no script
library: log-bpp axis, each point with a tooltip (its ``<title>``) and, for the chosen tables,
a label beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Point:
    """One table: bits per pixel, accuracy, the tooltip, and a label drawn beside it."""

    bpp: float
    accuracy: float
    tooltip: str
    label: str = ""


@dataclass(frozen=True)
class Series:
    """A curve: a front (drawn as steps, best accuracy at no more bits) or a quality sweep
    (a dashed line)."""

    name: str
    points: list[Point] = field(default_factory=list)
    steps: bool = False
    sign: int = 1
    """-1 where lower accuracy values are better (the steps then keep the lowest)."""
    colour: str = ""
    """Its colour (by default the next of :data:`COLOURS`): a front and its reference curve on
    the same images share one, the front solid, the curve dashed."""


@dataclass(frozen=True)
class _Axes:
    low_bpp: float
    high_bpp: float
    low: float
    high: float

    def x(self, bpp: float) -> float:
        span = math.log(self.high_bpp) - math.log(self.low_bpp)
        return LEFT + (math.log(bpp) - math.log(self.low_bpp)) / span * (WIDTH - LEFT - RIGHT)

    def y(self, accuracy: float) -> float:
        return TOP + (self.high - accuracy) / (self.high - self.low) * (HEIGHT - TOP - BOTTOM)


def chart(series: list[Series], metric: str, levels: dict[str, float] | None = None) -> str:
    """The SVG of ``series`` (``metric`` against bpp), with dotted horizontal ``levels``
    (name -> accuracy, e.g. 98% of the uncompressed figure)."""
    levels = levels or {}
    points = [p for s in series for p in s.points if _plottable(p)]
    if not points:
        return "<p>No table to plot.</p>"
    axes = _axes(points, list(levels.values()))
    parts = [_frame(axes, metric)]
    placed: list[float] = []
    for name, value in sorted(levels.items(), key=lambda item: -item[1]):
        parts.append(_level(axes, name, value, placed))
    for number, curve in enumerate(series):
        legend_y = HEIGHT - BOTTOM - 10 - 16 * (len(series) - 1 - number)
        parts.append(_curve(axes, curve, curve.colour or COLOURS[number % len(COLOURS)], legend_y))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(metric)} against bits per pixel">'
        + "".join(parts)
        + "</svg>"
    )


def _plottable(point: Point) -> bool:
    return point.bpp > 0 and math.isfinite(point.accuracy)


def _axes(points: list[Point], levels: list[float]) -> _Axes:
    bpps = [p.bpp for p in points]
    values = [p.accuracy for p in points] + levels
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or 0.01
    return _Axes(min(bpps) / 1.1, max(bpps) * 1.1, low - pad, high + pad)


def _frame(axes: _Axes, metric: str) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" fill="none" stroke="#999"/>'
    ]
    for tick in _bpp_ticks(axes.low_bpp, axes.high_bpp):
        x = axes.x(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" class="tick">{tick:g}</text>'
        )
    for value in _value_ticks(axes.low, axes.high):
        y = axes.y(value)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{value:.6g}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle">bits per pixel (log scale)</text>'
    )
    parts.append(
        f'<text transform="translate(14 {(TOP + bottom) / 2}) rotate(-90)" text-anchor="middle">{escape(metric)}</text>'
    )
    return "".join(parts)


def _value_ticks(low: float, high: float) -> list[float]:
    """Round values inside the axis, about five: steps of 1, 2 or 5 times a power of ten."""
    raw = (high - low) / 5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + k * step, 12) for k in range(int((high - first) / step) + 1)]


def _bpp_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten inside the axis."""
    found = []
    for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        found += [m * 10.0**power for m in (1, 2, 5) if low <= m * 10.0**power <= high]
    return found


def _level(axes: _Axes, name: str, value: float, placed: list[float]) -> str:
    """A dotted line with its name above it; a name that would overlap one already ``placed``
    (label heights) goes below its line instead."""
    y = axes.y(value)
    label = y - 3
    if any(abs(label - other) < 12 for other in placed):
        label = y + 12
    placed.append(label)
    return (
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888" stroke-dasharray="2 3"/>'
        f'<text x="{LEFT + 4}" y="{label:.1f}" class="tick">{escape(name)}</text>'
    )


def _curve(axes: _Axes, curve: Series, colour: str, legend_y: float) -> str:
    ordered = sorted(filter(_plottable, curve.points), key=lambda p: p.bpp)
    if not ordered:
        return ""
    path = (
        _steps(axes, ordered, curve.sign)
        if curve.steps
        else " ".join(
            f"{'M' if k == 0 else 'L'}{axes.x(p.bpp):.1f},{axes.y(p.accuracy):.1f}"
            for k, p in enumerate(ordered)
        )
    )
    dash = "" if curve.steps else ' stroke-dasharray="5 3"'
    parts = [
        f'<g class="series" data-name="{escape(curve.name)}"><path d="{path}" fill="none" stroke="{colour}"{dash}/>'
    ]
    for p in ordered:
        x, y = axes.x(p.bpp), axes.y(p.accuracy)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{5 if p.label else 3}" fill="{colour}">'
            f"<title>{escape(p.tooltip)}</title></circle>"
        )
        if p.label:  # left of the point in the right half, where it would leave the chart
            anchor, shift = ("end", -7) if x > (LEFT + WIDTH - RIGHT) / 2 else ("start", 7)
            parts.append(
                f'<text x="{x + shift:.1f}" y="{y - 7:.1f}" text-anchor="{anchor}" class="mark">'
                f"{escape(p.label)}</text>"
            )
    left = WIDTH - RIGHT - 250
    parts.append(
        f'<line x1="{left}" x2="{left + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{colour}"{dash}/><text x="{left + 30}" y="{legend_y}">{escape(curve.name)}</text></g>'
    )
    return "".join(parts)


def _steps(axes: _Axes, ordered: list[Point], sign: int) -> str:
    """The front as what it offers: at each bpp, the best accuracy of any table of no more bits."""
    best = -math.inf
    moves: list[str] = []
    for p in ordered:
        if sign * p.accuracy <= best:
            continue
        x = axes.x(p.bpp)
        if moves:
            moves.append(f"L{x:.1f},{axes.y(sign * best):.1f}")
        best = sign * p.accuracy
        moves.append(f"{'M' if not moves else 'L'}{x:.1f},{axes.y(p.accuracy):.1f}")
    return " ".join(moves)


__all__ = ["COLOURS", "Point", "Series", "chart"]
