"""How a declared network wants its input, in its sidecar or on the command line: the input
geometry every task shares (size, crop, letterbox or plain resize, pad value), then channel
order, scale, mean and std, NCHW or NHWC. A silent mismatch here gives plausible, wrong
figures, so nothing has a guessed default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qsearch.errors import QSearchError
from qsearch.images.geometry import InputGeometry

CHANNELS = ("rgb", "bgr")
LAYOUTS = ("nchw", "nhwc")


@dataclass(frozen=True, kw_only=True)
class InputSpec(InputGeometry):
    """A network's input, declared: its geometry (where the stored image lands on the canvas)
    and the numbers that make the canvas its tensor. ``scale`` multiplies the 0..255 pixels
    before ``mean`` is subtracted and ``std`` divides (YOLOX: 1, 0, 1; a [0, 1] network:
    1/255)."""

    channels: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, choices in (("channels", CHANNELS), ("layout", LAYOUTS)):
            if getattr(self, name) not in choices:
                raise QSearchError(
                    f"{name} {getattr(self, name)!r} is not one of {', '.join(choices)}"
                )
        if 0 in self.std or self.scale == 0:
            raise QSearchError(
                f"std {list(self.std)} and scale {self.scale:g}: each must be non-zero (an input "
                "divided by zero, or scaled to nothing, is no image)"
            )

    def describe(self) -> str:
        """One line: size, resize, channels, normalisation, layout."""
        return (
            f"{super().describe()}, {self.channels.upper()} x{self.scale:g} mean "
            f"{list(self.mean)} std {list(self.std)}, {self.layout.upper()}"
        )

    def tensor(self, canvases: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB canvases -> the network's float32 batch."""
        batch = canvases[..., ::-1] if self.channels == "bgr" else canvases
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        batch = (batch.astype(np.float32) * np.float32(self.scale) - mean) / std
        if self.layout == "nchw":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)


__all__ = ["CHANNELS", "LAYOUTS", "InputSpec"]
