"""The pictures a report shows: for a chosen table, the images whose figure moved most from the
uncompressed one (where the network changed its answer first), each as a window of the
uncompressed image, of the image with the chosen table and of the image with the IJG table of
the same bits, with what the network says of each drawn on it."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from qsearch.codecs.codec import decode, encode
from qsearch.search.metrics import is_pooled, metric_sign, pool
from qsearch.tables.qtable import QTable

WINDOW = 224
"""Side in pixels of the window shown (the whole image where it is smaller)."""


@dataclass(frozen=True)
class Version:
    """One version of an image: what it is, its file's size in bytes (0 uncompressed), the
    window as PNG, the caption."""

    title: str
    size: int
    png: bytes
    caption: str


@dataclass(frozen=True)
class Crop:
    """One image shown in three versions, how far its figure moved at the chosen table, and the
    window shown (left, top, right, bottom in the image's pixels)."""

    name: str
    moved: float
    versions: tuple[Version, ...]
    window: tuple[int, int, int, int]


def changed_first(
    evaluator, qtable: QTable, metric: str, count: int, recorded: dict | None = None
) -> list[tuple[int, float]]:
    """(image index, how far its ``metric`` moved towards worse) of the ``count`` images whose
    figure at ``qtable`` moved most from the uncompressed one, largest first. ``recorded``: the
    table's per-image figures on these images as the run kept them (the table is evaluated
    again only where the run kept none of ``metric``)."""
    values = per_image_values(metric, recorded or {})
    if values is None:
        values = per_image_values(
            metric, evaluator.evaluate(qtable, per_image=True).per_image or {}
        )
    reference = per_image_values(metric, evaluator.reference_per_image or {})
    if values is None:
        return []
    if reference is None:
        reference = np.full(len(values), float((evaluator.reference or {}).get(metric, np.nan)))
    moved = np.nan_to_num(metric_sign(metric) * (reference - values))
    order = np.argsort(-moved, kind="stable")[:count]
    return [(int(i), float(moved[i])) for i in order]


def per_image_values(metric: str, figures: dict) -> np.ndarray | None:
    """``metric`` image by image: the kept values, or a pooled figure on each image alone."""
    if is_pooled(metric):
        try:
            pooled = pool(metric, figures)
        except KeyError:
            return None
        alone = np.zeros(pooled.figures.count)
        values = []
        for i in range(len(alone)):
            alone[i] = 1
            values.append(pooled(alone))
            alone[i] = 0
        return np.array(values, dtype=np.float64)
    return np.asarray(figures[metric], dtype=np.float64) if metric in figures else None


def crop(evaluator, index: int, qtable: QTable, moved: float) -> Crop:
    """Image ``index`` uncompressed, with ``qtable`` and with the IJG table of the closest
    size, the window where the chosen table changed most, the network's reading drawn."""
    settings = evaluator.settings
    original = evaluator.images.images[index]
    chosen = encode(original, qtable, settings)
    quality, ijg = same_bits(original, len(chosen), settings)
    pictures = [original, decode(chosen, settings=settings), decode(ijg, settings=settings)]
    notes = evaluator.annotate(pictures, [index] * 3)
    window = _window(pictures[0], pictures[1])
    titles = (
        ("uncompressed", 0),
        ("chosen table", len(chosen)),
        (f"IJG quality {quality}", len(ijg)),
    )
    versions = tuple(
        Version(title, size, _png(picture, note, window), note.caption)
        for (title, size), picture, note in zip(titles, pictures, notes)
    )
    return Crop(evaluator.images.names[index], moved, versions, window)


def same_bits(image: np.ndarray, size: int, settings) -> tuple[int, bytes]:
    """The IJG quality whose file of ``image`` is closest in size to ``size`` bytes, and that
    file (file size rises with quality: a bisection)."""
    low, high = 1, 100
    files: dict[int, bytes] = {}

    def file(quality: int) -> bytes:
        if quality not in files:
            files[quality] = encode(image, QTable.from_quality(quality), settings)
        return files[quality]

    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(file(middle)) < size else (low, middle)
    best = min((low, high), key=lambda q: abs(len(file(q)) - size))
    return best, file(best)


def _window(original: np.ndarray, changed: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the window where ``changed`` differs most (a grid of
    quarter-window steps)."""
    height, width = original.shape[:2]
    side_y, side_x = min(WINDOW, height), min(WINDOW, width)
    error = np.abs(original.astype(np.int16) - changed.astype(np.int16)).sum(-1)
    total = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, where = -1, (0, 0)
    for top in range(0, height - side_y + 1, max(1, side_y // 4)):
        for left in range(0, width - side_x + 1, max(1, side_x // 4)):
            bottom, right = top + side_y, left + side_x
            value = (
                total[bottom, right] - total[top, right] - total[bottom, left] + total[top, left]
            )
            if value > best:
                best, where = value, (left, top)
    return where[0], where[1], where[0] + side_x, where[1] + side_y


def _png(picture: np.ndarray, note, window: tuple[int, int, int, int]) -> bytes:
    """The window of ``picture`` with the network's mask (tinted) and boxes drawn, as PNG."""
    image = Image.fromarray(picture)
    if note.mask is not None:
        tint = Image.new("RGB", image.size, (255, 0, 160))
        image = Image.composite(Image.blend(image, tint, 0.45), image, Image.fromarray(note.mask))
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2, caption in note.boxes:
        draw.rectangle((x1, y1, x2, y2), outline=(255, 40, 40), width=2)
        draw.text((x1 + 2, y1 + 1), caption, fill=(255, 255, 0))
    buffer = io.BytesIO()
    image.crop(window).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


__all__ = ["WINDOW", "Crop", "Version", "changed_first", "crop", "per_image_values", "same_bits"]
