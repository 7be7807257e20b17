"""``RUN/report.html``: one self-contained page of a run that opens from disk with no server and
no network: the front against the IJG curve (each table's bits and accuracy with its interval
on hover, the chosen tables labelled), the operating points, the run's identity and, given the
evaluator, image crops of the tables chosen at 98% and 95%. Every figure is the summary's
(``summary.json``), printed, never recomputed."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import numpy as np

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.report.crops import Crop, changed_first, crop
from qsearch.report.curves import verdict
from qsearch.report.operating import resample_draws
from qsearch.report.svg import COLOURS, Point, Series, chart
from qsearch.search.metrics import metric_sign
from qsearch.tables.qtable import QTable

REPORT = "report.html"
CROP_TARGETS = (0.98, 0.95)
CROPS_PER_TARGET = 3


def write_report(run, evaluator=None) -> Path:
    """Write ``run``'s report (a :class:`~qsearch.report.runs.Run`); with ``evaluator`` (the
    one the run's tables were judged with: its held-out one where it has one) the crops too,
    once its uncompressed figure is checked to be the run's."""
    summary = run.summary
    sections = [
        _headline(run, summary),
        _plot(run, summary),
        _operating_points(summary, run.metric),
        _crops(run, summary, evaluator),
        _identity(summary["identity"]),
    ]
    title = f"qsearch run {run.directory.name}: {summary['searcher']}, {run.metric}"
    page = PAGE.format(title=escape(title), body="\n".join(sections), style=STYLE, script=SCRIPT)
    path = run.directory / REPORT
    write_text(path, page)
    return path


def _headline(run, summary: dict) -> str:
    judged = summary.get("test", summary["search"])
    bd = judged.get("bd_rate_vs_ijg_percent")
    where = "held-out images" if run.held_out else "the searched images (no held-out split)"
    interval = _interval(judged, "bd_rate_ci95")
    return (
        f"<h1>{escape(run.directory.name)}</h1><p>{escape(summary['searcher'])} search, "
        f"{summary['trials']} tables, {escape(summary['settings'])}; front of {summary['front_size']} "
        f"tables by <b>{escape(run.metric)}</b>, judged on {where}.</p>"
        f'<p class="verdict">BD-rate against the IJG curve: <b data-key="bd_rate_vs_ijg_percent" '
        f'data-value="{bd}">{_percent(bd)}</b> {interval}; {escape(verdict(judged, run.held_out))}</p>'
    )


def _interval(figures: dict, stem: str) -> str:
    low, high = figures.get(f"{stem}_low"), figures.get(f"{stem}_high")
    return "" if low is None or high is None else f"[{low:+.1f}, {high:+.1f}]"


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _plot(run, summary: dict) -> str:
    """The front and the IJG curve on the judged images (and the searched ones beside them)."""
    metric, sign = run.metric, metric_sign(run.metric)
    marks = _marks(summary, metric)
    searched, held_out = COLOURS[0], COLOURS[1]
    series = [
        Series("front, searched images", _front_points(run, "search", marks), True, sign, searched),
        Series("IJG quality, searched images", _ijg_points(run.ijg, metric), colour=searched),
    ]
    if run.held_out:
        series += [
            Series("front, held-out images", _front_points(run, "test", {}), True, sign, held_out),
            Series(
                "IJG quality, held-out images", _ijg_points(run.ijg_test, metric), colour=held_out
            ),
        ]
    levels = {
        f"{100 * p['fraction']:g}% of {p.get('reference', 'uncompressed')}": p["target_judged"]
        for p in summary["operating_points"].get(metric, [])
        if p["fraction"] in CROP_TARGETS and p.get("target_judged") is not None
    }
    return f"<h2>Front against the IJG curve</h2>{chart(series, metric, levels)}"


def _marks(summary: dict, metric: str) -> dict[int, str]:
    """Trial number -> the label of the targets it is chosen for."""
    marks: dict[int, str] = {}
    for point in summary["operating_points"].get(metric, []):
        table = point.get("table")
        if table and point["fraction"] in CROP_TARGETS:
            saving = _percent(table["bits_vs_ijg_percent"])
            said = f"{100 * point['fraction']:g}%: trial {table['number']}, {saving} bits vs IJG"
            marks[table["number"]] = (
                f"{marks[table['number']]}; {said}" if table["number"] in marks else said
            )
    return marks


def _front_points(run, split: str, marks: dict[int, str]) -> list[Point]:
    side = run.side(split)
    frame, metric = side.front.frame, run.metric
    points = side.front.points(metric)
    found = []
    for position, (_, row) in enumerate(frame.iterrows()):
        interval = "" if points is None else _point_interval(points[position], metric_sign(metric))
        number = int(row["number"])
        tooltip = f"trial {number} ({row['table']}): {row['bpp']:.4f} bpp, {metric} {row[metric]:.4f}{interval}"
        found.append(Point(float(row["bpp"]), float(row[metric]), tooltip, marks.get(number, "")))
    return found


def _point_interval(point: dict, sign: int) -> str:
    """The 95% bootstrap interval over images of one table's figure."""
    count = len(point["bytes"])
    draws = resample_draws(0, 500, count)
    if "pooled" in point:
        values = point["pooled"].over(draws)
    else:
        values = sign * np.asarray(point["accuracy"], dtype=np.float64)[draws].mean(1)
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return f" [{low:.4f}, {high:.4f}] (95% over {count} images)"


def _ijg_points(frame, metric: str) -> list[Point]:
    return [
        Point(float(b), float(a), f"IJG quality {int(q)}: {b:.4f} bpp, {metric} {a:.4f}")
        for q, b, a in zip(frame["quality"], frame["bpp"], frame[metric])
    ]


def _operating_points(summary: dict, metric: str) -> str:
    rows = []
    points = summary["operating_points"].get(metric, [])
    for point in points:
        table = point.get("table")
        cells = [f"<td>{100 * point['fraction']:g}%</td>"]
        if table is None:
            cells.append('<td colspan="5">no table of the front reaches it</td>')
        else:
            cells += [
                f"<td>{escape(str(table['number']))} <code>{escape(table['file'])}</code></td>",
                _cell("bpp", table["bpp"], f"{table['bpp']:.4f}"),
                _cell(metric, table[metric], f"{table[metric]:.4f}"),
                _cell(
                    "share", table["share"], f"{100 * table['share']:.1f}% {_share_interval(table)}"
                ),
                _cell(
                    "bits_vs_ijg_percent",
                    table["bits_vs_ijg_percent"],
                    f"{_percent(table['bits_vs_ijg_percent'])} "
                    + _interval(table, "bits_vs_ijg_ci95"),
                ),
            ]
        rows.append(f'<tr data-fraction="{point["fraction"]}">{"".join(cells)}</tr>')
    names = (
        "target",
        "table",
        "bpp",
        metric,
        f"share of {next((p.get('reference') for p in points), None) or 'uncompressed'}",
        "bits vs IJG at its accuracy",
    )
    head = "<tr>" + "".join(f"<th>{escape(name)}</th>" for name in names) + "</tr>"
    judged = summary["judged_on"]
    return (
        f"<h2>Operating points</h2><p>Tables chosen on the searched images, judged on the "
        f"{'held-out' if judged == 'test' else 'searched'} images; intervals are 95% paired "
        f'bootstraps over images.</p><table class="points">{head}{"".join(rows)}</table>'
    )


def _cell(key: str, value, text: str) -> str:
    return f'<td data-key="{escape(key)}" data-value="{value}">{escape(text)}</td>'


def _share_interval(table: dict) -> str:
    low, high = table.get("share_ci95_low"), table.get("share_ci95_high")
    return "" if low is None or high is None else f"[{100 * low:.1f}, {100 * high:.1f}]"


def _crops(run, summary: dict, evaluator) -> str:
    if evaluator is None:
        return (
            "<h2>Images</h2><p>No crops: the report was written without the images and the "
            "network (<code>qsearch report RUN</code> with the run's image and model options "
            "shows them).</p>"
        )
    check_same_evaluator(run, evaluator)
    blocks = []
    for point in summary["operating_points"].get(run.metric, []):
        table = point.get("table")
        if point["fraction"] not in CROP_TARGETS or table is None:
            continue
        qtable = QTable.load(run.directory / table["file"])
        recorded = _recorded_figures(run, table["number"])
        chosen = changed_first(evaluator, qtable, run.metric, CROPS_PER_TARGET, recorded)
        crops = [crop(evaluator, index, qtable, moved) for index, moved in chosen]
        blocks.append(_crop_block(point, table, crops, run.metric))
    return "<h2>Images</h2>" + ("".join(blocks) or "<p>No table is chosen at 98% or 95%.</p>")


def _recorded_figures(run, number: int) -> dict | None:
    """A front table's per-image figures on the judged images, as the run kept them."""
    front = run.side(run.judged_split).front
    rows = np.flatnonzero(front.frame["number"].to_numpy() == number)
    return front.figures[int(rows[0])] if front.figures is not None and len(rows) else None


def check_same_evaluator(run, evaluator) -> None:
    """Refuse crops of other images, labels, network or settings than those the run's tables
    are judged on: the evaluator's identity must be the one the run recorded for them."""
    split = run.judged_split
    recorded = run.references.get("identity", {}).get(split)
    if recorded is None and split == "search":  # a run recorded before: its journal's identity
        recorded = {k: v for k, v in run.identity.items() if k in evaluator.identity()}
    if recorded is None:
        raise QSearchError(
            f"{run.directory}: records no identity of its held-out images; resume the same "
            "search to record it, or give --no-crops"
        )
    found = evaluator.identity()
    differing = sorted(k for k in recorded.keys() | found.keys() if recorded.get(k) != found.get(k))
    if differing:
        key = differing[0]
        raise QSearchError(
            f"{run.directory}: the images, labels, network or settings given are not those of the "
            f"run's {split} images ({key}: {found.get(key)!r} here, {recorded.get(key)!r} in the "
            "run): give the options the run was made with"
        )


def _crop_block(point: dict, table: dict, crops: list[Crop], metric: str) -> str:
    rows = []
    for found in crops:
        figures = "".join(
            f'<figure><img class="crop" alt="{escape(v.title)}" src="data:image/png;base64,'
            f'{base64.b64encode(v.png).decode()}"><figcaption><b>{escape(v.title)}</b>'
            f"{'' if not v.size else f' {v.size / 1000:.1f} kB'}<br>{escape(v.caption)}</figcaption></figure>"
            for v in found.versions
        )
        rows.append(
            f'<div class="image"><p><code>{escape(found.name)}</code>: {escape(metric)} moved '
            f"{found.moved:.4f} from uncompressed; pixels {found.window[0]}..{found.window[2]} x "
            f"{found.window[1]}..{found.window[3]}</p>{figures}</div>"
        )
    return (
        f"<h3>{100 * point['fraction']:g}% of {point.get('reference', 'uncompressed')}: trial "
        f"{table['number']}</h3><p>The "
        f"images whose {escape(metric)} moved most, each uncompressed, with the chosen table, and "
        "with the IJG table whose file is closest in size; click a picture to zoom.</p>"
        + "".join(rows)
    )


def _identity(identity: dict) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in identity.items()
    )
    return f'<h2>Identity</h2><table class="identity">{rows}</table>'


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
.chart { width: 100%; max-width: 900px; height: auto; font-size: 12px; }
.chart .tick { fill: #555; font-size: 11px; } .chart .mark { font-size: 11px; font-weight: 600; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
figure { display: inline-block; margin: 0 8px 8px 0; vertical-align: top; max-width: 240px; }
img.crop { width: 224px; image-rendering: pixelated; cursor: zoom-in; border: 1px solid #ccc; }
img.crop.zoomed { width: 672px; cursor: zoom-out; }
figcaption { font-size: 12px; }
"""
SCRIPT = """
document.querySelectorAll('img.crop').forEach(function (img) {
  img.addEventListener('click', function () { img.classList.toggle('zoomed'); });
});
window.addEventListener('load', function () {  // what rendered, for a browser check
  var shown = Array.from(document.querySelectorAll('img.crop')).filter(function (img) {
    return img.complete && img.naturalWidth > 0;
  });
  var chart = document.querySelector('svg.chart');
  document.body.dataset.cropsShown = shown.length;
  document.body.dataset.chartWidth = chart ? Math.round(chart.getBoundingClientRect().width) : 0;
  document.body.dataset.chartPoints = chart ? chart.querySelectorAll('circle').length : 0;
});
"""
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{style}</style></head>
<body>
{body}
<script>{script}</script>
</body></html>
"""

__all__ = ["REPORT", "check_same_evaluator", "write_report"]
