"""The report beside a folder compressed image by image (``DST/report.html``): the calibration
against one quality for every calibration image, how the qualities were spread over the files,
each file's bits against the one quality's, and the most compressed files beside their sources.
One offline page, from ``manifest.csv`` and ``per-image.json`` alone."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from qsearch.atomic import write_text
from qsearch.errors import QSearchError
from qsearch.images import read_rgb
from qsearch.rate.calibration import Calibration
from qsearch.rate.folder import MANIFEST, read_record
from qsearch.report.html import PAGE, SCRIPT, STYLE
from qsearch.report.svg import Point, Series, chart

REPORT = "report.html"
WINDOW = 256
SHOWN = 3


def write_per_image_report(destination: Path | str) -> Path:
    """Write ``destination/report.html`` for a folder ``compress --per-image`` wrote."""
    destination = Path(destination)
    record = read_record(destination)
    if record is None or not (destination / MANIFEST).exists():
        raise QSearchError(f"{destination}: no per-image.json and manifest.csv here")
    manifest = pd.read_csv(destination / MANIFEST)
    sections = [_headline(destination, record, manifest)]
    if "calibration" in record:
        calibration = Calibration.from_dict(record["calibration"], str(destination))
        sections.append(_chart(calibration, manifest))
    sections += [_qualities(manifest), _most_compressed(destination, manifest)]
    title = f"qsearch per-image compression: {destination.name}"
    page = PAGE.format(title=escape(title), body="\n".join(sections), style=STYLE, script=SCRIPT)
    path = destination / REPORT
    write_text(path, page)
    return path


def _bpp(manifest: pd.DataFrame, column: str = "bytes") -> float:
    return 8 * float(manifest[column].sum()) / float(manifest["pixels"].sum())


def _headline(destination: Path, record: dict, manifest: pd.DataFrame) -> str:
    lines = [f"<h1>{escape(destination.name)}</h1><p>{len(manifest)} files, each at its own "
             f"quality: <b>{_bpp(manifest):.3f} bpp</b> over the stored pixels.</p>"]  # fmt: skip
    if "calibration" in record:
        calibration = Calibration.from_dict(record["calibration"], str(destination))
        lines.append(f"<p>Calibration: {escape(calibration.describe())}.</p>")
        if manifest["one_quality_bytes"].notna().all() and calibration.one_quality:
            one = _bpp(manifest, "one_quality_bytes")
            lines.append(
                f"<p>These files at q{calibration.one_quality}, the one quality that reaches the "
                f"target on the calibration images: {one:.3f} bpp; per image "
                f"<b>{100 * (_bpp(manifest) / one - 1):+.1f}%</b> bits.</p>"
            )
    else:
        lines.append("<p>Qualities predicted from image features (no network at the sender).</p>")
    return "\n".join(lines)


def _chart(calibration: Calibration, manifest: pd.DataFrame) -> str:
    """The calibration images: one quality for all of them, and the rule's point."""
    curve = [Point(bpp, figure, f"IJG quality {int(q)}: {calibration.metric} {figure:.4f} at "
                   f"{bpp:.3f} bpp", "") for q, bpp, figure in calibration.curve]  # fmt: skip
    rule = Point(calibration.bpp, calibration.reached,
                 f"per image: {calibration.metric} {calibration.reached:.4f} at "
                 f"{calibration.bpp:.3f} bpp", "per image")  # fmt: skip
    series = [Series("one quality for every calibration image", curve),
              Series("per image, calibration images", [rule], steps=True)]  # fmt: skip
    target = calibration.target * calibration.uncompressed
    svg = chart(series, calibration.metric, {f"{100 * calibration.target:g}% target": target})
    return f"<h2>Calibration images: per image against one quality</h2>{svg}"


def _qualities(manifest: pd.DataFrame) -> str:
    counts = manifest["quality"].value_counts().sort_index()
    widest = max(int(counts.max()), 1)
    rows = "".join(
        f'<tr><td>{int(q)}</td><td>{int(n)}</td><td><div style="background:#1f77b4;height:10px;'
        f'width:{300 * int(n) / widest:.0f}px"></div></td></tr>'
        for q, n in counts.items()
    )
    return (f"<h2>Qualities chosen</h2><table><tr><th>quality</th><th>files</th><th></th></tr>"
            f"{rows}</table>")  # fmt: skip


def _most_compressed(destination: Path, manifest: pd.DataFrame) -> str:
    """The files at the lowest bpp, a window of each beside the same window of its source."""
    blocks = []
    for row in manifest.sort_values("bpp").head(SHOWN).itertuples():
        source = read_rgb(Path(row.source))
        with Image.open(destination / row.file) as written:
            sent = np.asarray(written.convert("RGB").resize(source.shape[1::-1]))
        window = _window(source.shape)
        caption = (f"<code>{escape(row.file)}</code>: quality {row.quality}, {row.bpp:.3f} bpp, "
                   f"per-image figure {row.fidelity:.3f}")  # fmt: skip
        blocks.append(
            f'<div class="image"><p>{caption}</p><figure><img class="crop" src="{_png(source, window)}">'
            f'<figcaption>source</figcaption></figure><figure><img class="crop" '
            f'src="{_png(sent, window)}"><figcaption>sent</figcaption></figure></div>'
        )
    return "<h2>The most compressed files</h2>" + "".join(blocks)


def _window(shape) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    side = min(WINDOW, height, width)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _png(picture: np.ndarray, window) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).crop(window).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


__all__ = ["REPORT", "write_per_image_report"]
