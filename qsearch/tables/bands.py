"""The band geometry shared by the bands space, the equal-slope searchers and the band-slope
benchmark: zigzag frequency bands, tables whose bands are shifted by octaves, the probe
directions around a table (each band alone, then the whole table), and the slope ratios the
probes measure.

A band's slope is the accuracy (or smooth signal) a probe gains per unit of rate; its ratio to
the whole table's slope says whether the table spends too few bits there (above 1) or too many
(below 1) for the judging network; at equal ratios no reallocation gains to first order.
"""

from __future__ import annotations

import numpy as np

from qsearch.tables.qtable import to_zigzag

RATIO_LIMITS = (0.25, 4.0)
"""Slope ratios are clipped here before a move: a round moves a band a bounded amount,
whatever noise says."""


def zigzag_bands(count: int) -> list[np.ndarray]:
    """Zigzag positions grouped into ``count`` frequency bands of whole anti-diagonals,
    narrow at low frequencies, where the eye and the network are most sensitive."""
    diagonal = np.array([r + c for r in range(8) for c in range(8)])[
        to_zigzag(np.arange(64).reshape(8, 8))
    ]
    edges = np.unique(np.round(15 * (np.arange(count + 1) / count) ** 1.5).astype(int))
    return [
        np.flatnonzero((diagonal >= lo) & (diagonal < hi)) for lo, hi in zip(edges[:-1], edges[1:])
    ]


def shift_bands(
    zigzag: np.ndarray, octaves, bands: list[np.ndarray], high: int | None = 255
) -> np.ndarray:
    """A (2, 64) zigzag-order luma/chroma pair with each (plane, band) step multiplied by
    2 ** ``octaves[plane, band]``, rounded, and clipped to 1..``high`` (no upper clip with
    ``high=None``, for family bases that quality scaling brings down later)."""
    octaves = np.asarray(octaves, dtype=float).reshape(2, len(bands))
    shifted = np.array(zigzag, dtype=np.float64)
    for plane in range(2):
        for band, positions in enumerate(bands):
            shifted[plane, positions] *= 2.0 ** octaves[plane, band]
    return np.clip(np.rint(shifted), 1, high)


def probe_directions(dim: int) -> np.ndarray:
    """Each band alone, then every band together (the whole table): (dim + 1, dim)."""
    return np.vstack([np.eye(dim, dtype=np.int64), np.ones((1, dim), dtype=np.int64)])


def slope_ratios(finer, coarser) -> tuple[np.ndarray, np.ndarray]:
    """(ratios, shares) from (rate, signal) rows of each band probed finer and coarser, the
    whole table last (any leading axes, e.g. anchors): each band's slope over the whole table's,
    and the share of the whole table's change in rate that its probe moved."""
    finer, coarser = np.asarray(finer, dtype=float), np.asarray(coarser, dtype=float)
    rate, gain = finer[..., 0] - coarser[..., 0], finer[..., 1] - coarser[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = gain / rate
        return slopes[..., :-1] / slopes[..., -1:], rate[..., :-1] / rate[..., -1:]
