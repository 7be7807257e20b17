"""A transform for PyTorch pipelines: pass images through JPEG with an exact table, encoded by
the same libjpeg-turbo and decoded by the same decoder qsearch scores with, so a model can be
evaluated or fine-tuned on exactly what a search measured. Picklable (DataLoader workers)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.tables.qtable import QTable


class JPEG:
    """``JPEG(table)(image)``: a PIL image, an (H, W, 3) uint8 array or a (3, H, W) uint8
    tensor (torchvision's v2 layout) back in the same kind, through a JPEG file with ``table``.
    Usable inside ``torchvision.transforms.v2.Compose``."""

    def __init__(
        self,
        table: QTable | str,
        subsampling: str = "4:2:0",
        optimize: bool = False,
        progressive: bool = False,
        codec: str = "jpeg",
    ):
        self.table = table if isinstance(table, QTable) else QTable.load(table)
        self.settings = EncoderSettings(subsampling, optimize, progressive, codec=codec)

    def __call__(self, image):
        """The image after a JPEG round trip with the table, in the kind it came in."""
        if isinstance(image, Image.Image):
            return Image.fromarray(self._roundtrip(np.asarray(image.convert("RGB"))))
        if isinstance(image, np.ndarray):
            return self._roundtrip(image)
        import torch

        if isinstance(image, torch.Tensor) and image.dtype == torch.uint8 and image.ndim == 3:
            hwc = image.permute(1, 2, 0).contiguous().numpy()
            return torch.from_numpy(self._roundtrip(hwc)).permute(2, 0, 1).contiguous()
        raise TypeError(
            f"JPEG takes a PIL image, a uint8 array or a (3, H, W) uint8 tensor, not {type(image).__name__}"
        )

    def _roundtrip(self, rgb: np.ndarray) -> np.ndarray:
        return decode(
            encode(np.ascontiguousarray(rgb), self.table, self.settings), settings=self.settings
        )

    def __repr__(self) -> str:
        return f"JPEG({self.table!r}, {self.settings.describe()})"


__all__ = ["JPEG"]
