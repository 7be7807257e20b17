"""Table families (:class:`qsearch.tables.qtable.TableFamily`) beyond IJG's. They are the
baselines every front is compared with (IJG Annex K, mozjpeg's nine cjpeg presets, a
DeepN-JPEG-style table fitted to the images' DCT statistics) and the starting points that
spaces and searchers build on (``qsearch run --base``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from qsearch.errors import QSearchError
from qsearch.tables.qtable import IJG, IJG_CHROMA, IJG_LUMA, QTable, TableFamily


def _mozjpeg_presets() -> list[dict]:
    text = resources.files("qsearch").joinpath("data/mozjpeg_qtables.json").read_text()
    return json.loads(text)["tables"]


MOZJPEG_PRESETS = len(_mozjpeg_presets())


def mozjpeg(index: int) -> TableFamily:
    """mozjpeg's cjpeg ``-quant-table index`` preset (0 is Annex K, 3 is mozjpeg's default)."""
    presets = _mozjpeg_presets()
    if not 0 <= index < len(presets):
        raise QSearchError(f"mozjpeg preset {index} is not one of 0..{len(presets) - 1}")
    preset = presets[index]
    return TableFamily(
        f"mozjpeg-{index}", np.reshape(preset["luma"], (8, 8)), np.reshape(preset["chroma"], (8, 8))
    )


RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
"""JFIF's colour transform (Cb and Cr offset by 128 afterwards)."""


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II (JPEG's FDCT is its 2-D form)."""
    k = np.arange(8.0)
    matrix = np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    matrix[0] /= np.sqrt(2)
    return matrix


def _blocks_dct(plane: np.ndarray) -> np.ndarray:
    """(H, W) plane, multiples of 8 -> (blocks, 8, 8) DCT coefficients."""
    height, width = plane.shape
    blocks = plane.reshape(height // 8, 8, width // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    dct = _dct_matrix()
    return dct @ blocks @ dct.T


def coefficient_spread(images) -> np.ndarray:
    """Standard deviation of each DCT coefficient over all 8x8 blocks of ``images`` (luma,
    chroma after 4:2:0): shape (2, 8, 8). Images are cropped to multiples of 16 pixels."""
    sums, squares, counts = np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), np.zeros(2)
    for image in images:
        height, width = (image.shape[0] // 16) * 16, (image.shape[1] // 16) * 16
        ycbcr = image[:height, :width].astype(np.float64) @ RGB_TO_YCBCR.T
        chroma = ycbcr[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean((1, 3))
        planes = [_blocks_dct(ycbcr[..., 0] - 128.0)]
        planes.append(np.concatenate([_blocks_dct(chroma[..., c]) for c in range(2)]))
        for plane, values in enumerate(planes):
            sums[plane] += values.sum(0)
            squares[plane] += (values**2).sum(0)
            counts[plane] += len(values)
    mean = sums / counts[:, None, None]
    return np.sqrt(np.maximum(squares / counts[:, None, None] - mean**2, 0.0))


def deepn(images) -> TableFamily:
    """DeepN-JPEG-style bases: coefficients that vary more carry more of what a network
    separates classes by, so their step is smaller (step inversely proportional to the
    spread), each table's geometric mean matched to the IJG table of the same plane."""
    spread = np.maximum(coefficient_spread(images), 1e-3)
    bases = []
    for plane, reference in enumerate((IJG_LUMA, IJG_CHROMA)):
        inverse = 1.0 / spread[plane]
        scaled = inverse * np.exp(np.log(reference).mean() - np.log(inverse).mean())
        bases.append(np.clip(np.rint(scaled), 1, 32767).astype(np.int64))
    return TableFamily("deepn", *bases)


FAMILY_NAMES = ("ijg", *(f"mozjpeg-{i}" for i in range(MOZJPEG_PRESETS)), "deepn")


def make_family(spec: str | TableFamily, images=None) -> TableFamily:
    """``ijg``, ``mozjpeg-N``, ``deepn`` (fitted to ``images``, ignored by the others), or a
    table file or a JPEG file whose tables are used as the quality-50 bases (so quality 50
    gives them back exactly); a family given is returned as it is."""
    if isinstance(spec, TableFamily):
        return spec
    if spec == "ijg":
        return IJG
    if spec.startswith("mozjpeg-") and spec[len("mozjpeg-") :].isdigit():
        return mozjpeg(int(spec[len("mozjpeg-") :]))
    if spec == "deepn":
        if images is None:
            raise QSearchError("the deepn base is fitted to images: give the search images")
        return deepn(images)
    path = Path(spec)
    if path.is_file():  # a table file, or the tables a JPEG file carries
        table = QTable.load(path)
        return TableFamily(path.stem, table.luma, table.chroma)
    raise QSearchError(f"--base {spec!r} is not one of {', '.join(FAMILY_NAMES)} or a table file")
