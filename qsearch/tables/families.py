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


def coefficient_spread(images) -> np.ndarray:
    """Standard deviation of each DCT coefficient over all 8x8 blocks of ``images`` (luma,
    chroma after 4:2:0): shape (2, 8, 8). Images are cropped to multiples of 16 pixels."""
    import torch

    from qsearch.codecs import diffjpeg

    sums, squares, counts = np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), np.zeros(2)
    for image in images:
        height, width = (image.shape[0] // 16) * 16, (image.shape[1] // 16) * 16
        luma, chroma = diffjpeg.dct_planes(
            torch.from_numpy(np.ascontiguousarray(image[:height, :width]))[None]
        )
        for plane, blocks in enumerate((luma.reshape(-1, 8, 8), chroma.reshape(-1, 8, 8))):
            values = blocks.double().numpy()
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
