"""A differentiable JPEG in torch, following libjpeg's pipeline: RGB to YCbCr (JFIF),
4:2:0 chroma subsampling, level shift, 8x8 DCT, quantisation with a selectable rounding,
dequantisation, inverse DCT, chroma upsampling (libjpeg's "fancy" triangle filter, which is
bilinear interpolation at half-pixel centres), colour conversion back and clamping.

Used to learn tables by gradient (the ``gradient`` and ``sensitivity`` searchers); every
table it suggests is still scored by the real libjpeg evaluator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from qsearch.tables.qtable import QTable

ROUNDINGS = ("hard", "ste", "soft")

_RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
_YCBCR_TO_RGB = torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def dct_matrix() -> torch.Tensor:
    """The orthonormal 8-point DCT-II (JPEG's FDCT is its 2-D form)."""
    k = torch.arange(8, dtype=torch.float64)
    matrix = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    matrix[0] /= math.sqrt(2)
    return matrix.float()


_DCT = dct_matrix()
_CHROMA_OFFSET = torch.tensor([0.0, 128.0, 128.0])


def _on(constant: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A constant on the device of the data it meets (CPU or CUDA)."""
    return constant.to(like.device)


def round_with(x: torch.Tensor, rounding: str) -> torch.Tensor:
    """hard: plain rounding (no gradient); ste: straight-through (rounds forward, identity
    backward); soft: round(x) + (x - round(x))**3, a smooth surrogate with a useful gradient."""
    if rounding == "hard":
        return torch.round(x)
    if rounding == "ste":
        return x + (torch.round(x) - x).detach()
    if rounding == "soft":
        rounded = torch.round(x)
        return rounded + (x - rounded) ** 3
    raise ValueError(f"rounding {rounding!r} is not one of {ROUNDINGS}")


def to_blocks(plane: torch.Tensor) -> torch.Tensor:
    """(N, H, W) to (N, H/8, W/8, 8, 8)."""
    n, h, w = plane.shape
    return plane.reshape(n, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)


def from_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """(N, H/8, W/8, 8, 8) back to (N, H, W)."""
    n, bh, bw = blocks.shape[:3]
    return blocks.permute(0, 1, 3, 2, 4).reshape(n, bh * 8, bw * 8)


def dct_planes(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """DCT coefficients of (N, H, W, 3) images (0..255, H and W multiples of 16): luma
    blocks (N, H/8, W/8, 8, 8) and chroma blocks (N, 2, H/16, W/16, 8, 8) after 4:2:0."""
    dct, to_ycbcr = _on(_DCT, images), _on(_RGB_TO_YCBCR, images)
    ycbcr = images.float() @ to_ycbcr.T + _on(_CHROMA_OFFSET, images)
    luma = ycbcr[..., 0] - 128.0
    chroma = F.avg_pool2d(ycbcr[..., 1:].permute(0, 3, 1, 2), 2) - 128.0  # (N, 2, H/2, W/2)
    n, _, h2, w2 = chroma.shape
    luma_blocks = dct @ to_blocks(luma) @ dct.T
    chroma_blocks = dct @ to_blocks(chroma.reshape(n * 2, h2, w2)) @ dct.T
    return luma_blocks, chroma_blocks.reshape(n, 2, *chroma_blocks.shape[1:])


def quantise(luma_blocks, chroma_blocks, luma_steps, chroma_steps, rounding: str = "ste"):
    """Quantised (integer-valued, or nearly so) coefficients of both planes."""
    return round_with(luma_blocks / luma_steps, rounding), round_with(
        chroma_blocks / chroma_steps, rounding
    )


def reconstruct(luma_q, chroma_q, luma_steps, chroma_steps) -> torch.Tensor:
    """Dequantise, inverse DCT, upsample chroma, back to RGB: (N, H, W, 3) floats in 0..255."""
    dct = _on(_DCT, luma_q)
    luma = from_blocks(dct.T @ (luma_q * luma_steps) @ dct) + 128.0
    n = chroma_q.shape[0]
    chroma_blocks = dct.T @ (chroma_q * chroma_steps) @ dct
    chroma = from_blocks(chroma_blocks.reshape(n * 2, *chroma_blocks.shape[2:]))
    chroma = chroma.reshape(n, 2, *chroma.shape[1:]) + 128.0
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    ycbcr = torch.cat([luma[:, None], chroma], dim=1).permute(0, 2, 3, 1) - _on(
        _CHROMA_OFFSET, luma
    )
    return (ycbcr @ _on(_YCBCR_TO_RGB, luma).T).clamp(0.0, 255.0)


def rate_proxy(luma_q, chroma_q) -> torch.Tensor:
    """Estimated bits per pixel of each image: sum of log2(1 + |q|) over its quantised
    coefficients, over its pixel count. Rank-correlates with real file sizes (tests)."""
    n, bh, bw = luma_q.shape[:3]
    pixels = bh * bw * 64
    bits = torch.log2(1 + luma_q.abs()).flatten(1).sum(1) + torch.log2(1 + chroma_q.abs()).flatten(
        1
    ).sum(1)
    return bits / pixels


def steps_of(qtable: QTable) -> tuple[torch.Tensor, torch.Tensor]:
    """A table pair as float tensors (luma, chroma)."""
    return torch.tensor(qtable.luma, dtype=torch.float32), torch.tensor(
        qtable.chroma, dtype=torch.float32
    )


def jpeg_roundtrip(images: torch.Tensor, luma_steps, chroma_steps, rounding: str = "ste"):
    """Compress and decompress (N, H, W, 3) images with the given steps: (decoded, bpp proxy)."""
    luma_q, chroma_q = quantise(*dct_planes(images), luma_steps, chroma_steps, rounding)
    return reconstruct(luma_q, chroma_q, luma_steps, chroma_steps), rate_proxy(luma_q, chroma_q)
