"""The size an image is sent at: as stored, or shrunk (never enlarged) so that its longest or
shortest side is N pixels, the sender's resize done before encoding with an antialiasing
filter. ``network`` names the size the network's declared preprocessing reads (a classifier's
short side, a detector's letterbox side) and is resolved by the evaluator that knows it. Bits
are always counted over the stored pixels, so that every size compares."""

from __future__ import annotations

import numpy as np
from PIL import Image

from qsearch.errors import QSearchError

SIZE_HELP = (
    "the size each image is sent at: stored (default), network (shrunk to what the network's "
    "preprocessing reads: a classifier's short side, a detector's or segmenter's input side), "
    "long:N or short:N (that side N pixels); never enlarged, bits always per stored pixel; "
    "qsearch baseline takes a comma list (stored,network: every curve at both sizes)"
)


def check_size(size: str) -> str:
    """``size`` if it is ``stored``, ``network``, ``long:N`` or ``short:N`` (N >= 8)."""
    if size in ("stored", "network"):
        return size
    side, _, number = size.partition(":")
    if side not in ("long", "short") or not number.isdigit() or int(number) < 8:
        raise QSearchError.about(
            f"{{size}} {size!r} is not stored, network, long:N or short:N (N at least 8)"
        )
    return size


def sent_shape(height: int, width: int, size: str) -> tuple[int, int]:
    """The (height, width) an image of this stored size is sent at."""
    if size == "stored":
        return height, width
    if size == "network":
        raise QSearchError("--size network is resolved by the network's evaluator first")
    side, _, number = size.partition(":")
    reference = max(height, width) if side == "long" else min(height, width)
    scale = int(number) / reference
    if scale >= 1:  # never enlarged
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink(image: np.ndarray, size: str) -> np.ndarray:
    """The image as sent: shrunk with Lanczos (antialiased) where the size asks for it."""
    height, width = image.shape[:2]
    target = sent_shape(height, width, size)
    if target == (height, width):
        return image
    resized = Image.fromarray(image).resize((target[1], target[0]), Image.Resampling.LANCZOS)
    return np.asarray(resized)


__all__ = ["SIZE_HELP", "check_size", "sent_shape", "shrink"]
