"""How a detector or segmenter wants its input, declared in its sidecar or on the command line:
size, letterbox or plain resize, pad value, channel order, scale, mean and std, NCHW or NHWC.
A silent mismatch here gives plausible, wrong figures, so nothing has a guessed default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from qsearch.errors import QSearchError
from qsearch.images.imageset import INTERPOLATIONS

RESIZES = ("letterbox", "letterbox-centre", "stretch")
"""``letterbox``: aspect kept, image at the top left of a padded canvas (YOLOX);
``letterbox-centre``: the same, centred (YOLOv5/v8 exports); ``stretch``: plain resize."""
CHANNELS = ("rgb", "bgr")
LAYOUTS = ("nchw", "nhwc")


@dataclass(frozen=True)
class Placement:
    """Where a stored image landed on the network's input: input = stored x scale + offset."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    width: int
    height: int
    """The stored image's size."""

    def to_stored(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) x1 y1 x2 y2 boxes in input pixels -> in stored pixels, clipped to the image."""
        scale = np.array([self.scale_x, self.scale_y] * 2, dtype=np.float32)
        offset = np.array([self.offset_x, self.offset_y] * 2, dtype=np.float32)
        stored = (boxes - offset) / scale
        high = np.array([self.width, self.height] * 2, dtype=np.float32)
        return np.clip(stored, 0, high)


@dataclass(frozen=True)
class InputSpec:
    """A network's input, declared. ``scale`` multiplies the 0..255 pixels before ``mean`` is
    subtracted and ``std`` divides (YOLOX: 1, 0, 1; a [0, 1] network: 1/255)."""

    height: int
    width: int
    resize: str
    channels: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str
    pad: int = 114
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        for name, choices in (
            ("resize", RESIZES),
            ("channels", CHANNELS),
            ("layout", LAYOUTS),
            ("interpolation", tuple(INTERPOLATIONS)),
        ):
            if getattr(self, name) not in choices:
                raise QSearchError(
                    f"{name} {getattr(self, name)!r} is not one of {', '.join(choices)}"
                )
        if 0 in self.std or self.scale == 0:
            raise QSearchError(
                f"std {list(self.std)} and scale {self.scale:g}: each must be non-zero (an input "
                "divided by zero, or scaled to nothing, is no image)"
            )
        if min(self.height, self.width) < 8 or not 0 <= self.pad <= 255:
            raise QSearchError(
                f"input {self.height}x{self.width} pad {self.pad}: sizes must be at least 8 "
                "pixels and the pad value within 0..255"
            )

    def describe(self) -> str:
        """One line: size, resize, channels, normalisation, layout."""
        pad = f" pad {self.pad}" if self.resize != "stretch" else ""
        return (
            f"{self.height}x{self.width} {self.resize}{pad} ({self.interpolation}), "
            f"{self.channels.upper()} x{self.scale:g} mean {list(self.mean)} std "
            f"{list(self.std)}, {self.layout.upper()}"
        )

    def placement(self, height: int, width: int) -> Placement:
        """Where an image of this size lands on the input canvas."""
        if self.resize == "stretch":
            return Placement(self.width / width, self.height / height, 0.0, 0.0, width, height)
        ratio = min(self.height / height, self.width / width)
        new_w, new_h = round(width * ratio), round(height * ratio)
        left = (self.width - new_w) // 2 if self.resize == "letterbox-centre" else 0
        top = (self.height - new_h) // 2 if self.resize == "letterbox-centre" else 0
        return Placement(new_w / width, new_h / height, left, top, width, height)

    def sent_size(self) -> str:
        """The size to send images at so that the network loses none of what it reads: the
        letterbox's longer side, or a stretch's shorter input side."""
        if self.resize.startswith("letterbox"):
            return f"long:{max(self.height, self.width)}"
        return f"short:{min(self.height, self.width)}"

    def placement_sent(self, height: int, width: int, sent: tuple[int, int]) -> Placement:
        """Where a stored image of this size lands on the input once sent at ``sent`` (height,
        width): the sent image's placement, read back to the stored pixels (boxes scaled back,
        masks resized to the stored size as declared)."""
        place = self.placement(*sent)
        return Placement(
            place.scale_x * sent[1] / width, place.scale_y * sent[0] / height,
            place.offset_x, place.offset_y, width, height,
        )  # fmt: skip

    def canvas(self, image: np.ndarray) -> np.ndarray:
        """A stored (H, W, 3) uint8 RGB image on the input canvas, still uint8 RGB."""
        place = self.placement(*image.shape[:2])
        new_w, new_h = round(place.width * place.scale_x), round(place.height * place.scale_y)
        resized = np.asarray(
            Image.fromarray(image).resize((new_w, new_h), INTERPOLATIONS[self.interpolation])
        )
        if self.resize == "stretch":
            return resized
        canvas = np.full((self.height, self.width, 3), self.pad, dtype=np.uint8)
        top, left = int(place.offset_y), int(place.offset_x)
        canvas[top : top + new_h, left : left + new_w] = resized
        return canvas

    def tensor(self, canvases: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB canvases -> the network's float32 batch."""
        batch = canvases[..., ::-1] if self.channels == "bgr" else canvases
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        batch = (batch.astype(np.float32) * np.float32(self.scale) - mean) / std
        if self.layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)


__all__ = ["CHANNELS", "LAYOUTS", "RESIZES", "InputSpec", "Placement"]
