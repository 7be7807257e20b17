"""Where a stored image lands on a network's input, for every task: the one description of a
network's input geometry. A classifier's short-side resize and centre crop is one of its resize
modes, a detector's letterbox or a segmenter's stretch the others; the numbers that turn the
canvas into a tensor are declared beside it (:class:`qsearch.tasks.inputs.InputSpec`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from qsearch.errors import QSearchError

INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}

RESIZES = ("crop", "letterbox", "letterbox-centre", "stretch")
"""``crop``: the short side resized to ``short_side``, then the centre cut out (ImageNet
classifiers); ``letterbox``: aspect kept, image at the top left of a padded canvas (YOLOX);
``letterbox-centre``: the same, centred (YOLOv5/v8 exports); ``stretch``: plain resize."""

GEOMETRY_KEYS = ("input_size", "resize", "pad", "interpolation")
"""The keys of a declaration (``M.json``, ``--declare``) that give the geometry, alike for
every task."""


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
class InputGeometry:
    """A network's input canvas (``height`` x ``width``) and how a stored image is put on it."""

    height: int
    width: int
    resize: str
    pad: int = 114
    interpolation: str = "bilinear"
    short_side: int = 0
    """``crop`` only: the short side the image is resized to before the centre crop."""

    @classmethod
    def centre_crop(
        cls, input_size: int = 224, short_side: int = 256, interpolation: str = "bicubic"
    ) -> InputGeometry:
        """A classifier's square crop of the image resized to ``short_side`` (the ImageNet
        default: 256, then 224, bicubic)."""
        return cls(input_size, input_size, "crop", interpolation=interpolation,
                   short_side=short_side)  # fmt: skip

    @classmethod
    def from_declared(cls, given: dict, interpolation: str = "bilinear") -> InputGeometry:
        """The geometry a declaration (``M.json``, ``--declare``) gives, the same keys for every
        task: ``input_size`` (N or [height, width]); ``resize``, a whole number (the short side
        before a centre crop) or a mode (letterbox, letterbox-centre, stretch); ``pad``;
        ``interpolation`` (default ``interpolation``). Refused in one line naming the key."""
        height, width = _size(given["input_size"])
        resize = given["resize"]
        whole = isinstance(resize, int) and not isinstance(resize, bool)
        if not whole and (not isinstance(resize, str) or resize == "crop"):
            raise QSearchError(
                f"resize {resize!r} must be a whole number of pixels (the short side before a "
                f"centre crop) or one of {', '.join(RESIZES[1:])}"
            )
        return cls(
            height, width, "crop" if whole else resize, int(given.get("pad", 114)),
            str(given.get("interpolation", interpolation)), resize if whole else 0,
        )  # fmt: skip

    def declared(self) -> dict:
        """The keys :meth:`from_declared` reads back to this geometry (what ``M.json`` holds)."""
        found: dict = {
            "input_size": self.height if self.height == self.width else [self.height, self.width],
            "resize": self.short_side if self.resize == "crop" else self.resize,
            "interpolation": self.interpolation,
        }
        if self.resize.startswith("letterbox"):
            found["pad"] = self.pad
        return found

    def __post_init__(self) -> None:
        for name, choices in (("resize", RESIZES), ("interpolation", tuple(INTERPOLATIONS))):
            if getattr(self, name) not in choices:
                raise QSearchError(
                    f"{name} {getattr(self, name)!r} is not one of {', '.join(choices)}"
                )
        if min(self.height, self.width) < 8 or not 0 <= self.pad <= 255:
            raise QSearchError(
                f"input {self.height}x{self.width} pad {self.pad}: sizes must be at least 8 "
                "pixels and the pad value within 0..255"
            )
        if self.resize == "crop" and self.short_side < max(self.height, self.width):
            raise QSearchError(
                f"input size {self.height}x{self.width} must be at most the resize size "
                f"{self.short_side}"
            )

    def describe(self) -> str:
        """One line: size, resize and filter."""
        if self.resize == "crop":
            size = self.height if self.height == self.width else f"{self.height}x{self.width}"
            return f"short side {self.short_side} ({self.interpolation}), centre crop {size}"
        pad = f" pad {self.pad}" if self.resize != "stretch" else ""
        return f"{self.height}x{self.width} {self.resize}{pad} ({self.interpolation})"

    def _resized(self, height: int, width: int) -> tuple[int, int]:
        """The (width, height) the stored image is resized to before it is placed."""
        if self.resize == "stretch":
            return self.width, self.height
        if self.resize == "crop":
            scale = self.short_side / min(width, height)
            return max(self.width, round(width * scale)), max(self.height, round(height * scale))
        ratio = min(self.height / height, self.width / width)
        return round(width * ratio), round(height * ratio)

    def placement(self, height: int, width: int) -> Placement:
        """Where an image of this size lands on the input canvas."""
        new_w, new_h = self._resized(height, width)
        left = top = 0
        if self.resize == "crop":  # the centre cut out
            left, top = -((new_w - self.width) // 2), -((new_h - self.height) // 2)
        elif self.resize == "letterbox-centre":  # the image centred on the padding
            left, top = (self.width - new_w) // 2, (self.height - new_h) // 2
        return Placement(new_w / width, new_h / height, left, top, width, height)

    def sent_size(self) -> str:
        """The size to send images at so that the network loses none of what it reads: the
        letterbox's longer side, a crop's short side, or a stretch's shorter input side."""
        if self.resize.startswith("letterbox"):
            return f"long:{max(self.height, self.width)}"
        if self.resize == "crop":
            return f"short:{self.short_side}"
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

    def canvas(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """A stored RGB image (H, W, 3 uint8, or a PIL image) on the input canvas, still uint8
        RGB."""
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        new_w, new_h = self._resized(image.height, image.width)
        resized = image.resize((new_w, new_h), INTERPOLATIONS[self.interpolation])
        place = self.placement(image.height, image.width)
        left, top = int(place.offset_x), int(place.offset_y)
        if self.resize == "crop":
            cut = (-left, -top, self.width - left, self.height - top)
            return np.asarray(resized.crop(cut))
        if self.resize == "stretch":
            return np.asarray(resized)
        canvas = np.full((self.height, self.width, 3), self.pad, dtype=np.uint8)
        canvas[top : top + new_h, left : left + new_w] = np.asarray(resized)
        return canvas

    __call__ = canvas

    def smaller_than_input(self, height: int, width: int) -> bool:
        """Whether a stored image of this size is enlarged to reach the canvas (for a crop:
        whether its short side is below the crop's)."""
        if self.resize == "crop":
            return min(height, width) < min(self.height, self.width)
        new_w, new_h = self._resized(height, width)
        return new_w > width or new_h > height


def _size(value) -> tuple[int, int]:
    whole = isinstance(value, int) and not isinstance(value, bool)
    if whole:
        return value, value
    pair = isinstance(value, (list, tuple)) and len(value) == 2
    if pair and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value[0], value[1]
    raise QSearchError(f"input_size {value!r} must be N or [height, width]")


__all__ = ["GEOMETRY_KEYS", "INTERPOLATIONS", "RESIZES", "InputGeometry", "Placement"]
