"""A sender without the network: each image's step predicted from cheap features of the image
(its size, contrast, detail and how large it is at a middle quality), a linear model learnt on
the calibration images from the steps the calibrated rule chose there, then shifted by the one
offset that reaches the target on those images (set on steps predicted by weights that did not
see the image), or one quality for every image where that is cheaper. Stored as a small JSON file (plain numbers,
with a digest: an edited file is refused)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qsearch.codecs.codec import EncoderSettings, encode
from qsearch.errors import QSearchError
from qsearch.rate.calibration import Grid, bits_per_pixel, dataset_figure
from qsearch.rate.ladder import Ladder
from qsearch.search.metrics import metric_spec, operating_target
from qsearch.tables.qtable import TableFamily

KIND = "qsearch per-image predictor"
FEATURES = ("log_pixels", "luma_std", "log_detail", "log_bpp_q50")
PROBE_QUALITY = 50


def features(image: np.ndarray, ladder: Ladder, settings: EncoderSettings) -> np.ndarray:
    """The features of one RGB image: log pixel count, luma standard deviation, log mean
    absolute luma gradient, and log bpp of the image at quality 50 of the ladder's family."""
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    detail = np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean()
    pixels = image.shape[0] * image.shape[1]
    size = len(encode(image, ladder.family.at(PROBE_QUALITY), settings))
    return np.array(
        [np.log(pixels), luma.std() / 255, np.log(detail + 1e-3), np.log(8 * size / pixels)]
    )


@dataclass(frozen=True)
class Predictor:
    """Step = round(weights . [1, features] + offset), clipped to the ladder."""

    weights: tuple[float, ...]
    offset: float
    qualities: tuple[int, ...]
    family: str
    luma: tuple[int, ...]
    chroma: tuple[int, ...]
    target: float
    metric: str
    reached: float
    bpp: float
    calibration: dict
    one_quality: bool = False
    """The features did not beat one quality on the calibration images: every image gets it."""

    @property
    def ladder(self) -> Ladder:
        """The ladder it predicts steps on (its family's base tables are in the file)."""
        family = TableFamily(
            self.family, np.reshape(self.luma, (8, 8)), np.reshape(self.chroma, (8, 8))
        )
        return Ladder(family, self.qualities)

    def steps(self, found: np.ndarray, offset: float | None = None) -> np.ndarray:
        """The step of each row of features ``found``."""
        raw = np.c_[np.ones(len(found)), found] @ np.array(self.weights)
        shift = self.offset if offset is None else offset
        return np.clip(np.rint(raw + shift), 0, len(self.qualities) - 1).astype(np.int64)

    def identity(self) -> dict:
        """What decides its choices: the file's content digest."""
        body = {"kind": KIND, "features": list(FEATURES), **asdict(self)}
        return {"predictor": _digest(body)[:16], **self.ladder.identity()}

    def save(self, path: Path | str) -> None:
        """Write the JSON file with its digest."""
        from qsearch.atomic import write_text

        body = {"kind": KIND, "features": list(FEATURES), **asdict(self)}
        body["digest"] = _digest(body)
        write_text(path, json.dumps(body, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> Predictor:
        """Read a file :meth:`save` wrote; anything else, or one edited since, is refused."""
        from qsearch.jsonfile import read_json_object

        where = f"--predictor {path}"
        data = read_json_object(Path(path), "a per-image predictor file", where)
        if data.get("kind") != KIND or data.get("features") != list(FEATURES):
            raise QSearchError(f"{where}: not a per-image predictor written by qsearch")
        if data.pop("digest", None) != _digest(data):
            raise QSearchError(f"{where}: its content was changed after it was written")
        data = {k: v for k, v in data.items() if k not in ("kind", "features")}
        try:
            values: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
            }
            found = cls(**values)
            found.ladder  # noqa: B018 - the tables and qualities are checked here
        except (TypeError, ValueError) as error:
            raise QSearchError(f"{where}: malformed ({error})") from None
        return found


def _digest(body: dict) -> str:
    text = json.dumps({k: v for k, v in body.items() if k != "digest"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


FOLDS = 5
"""The calibration images are split in this many folds to set the offset on steps predicted by
weights that did not see the image: an offset set on the weights' own images is optimistic."""


def fit_predictor(
    grid: Grid,
    found: np.ndarray,
    chosen: np.ndarray,
    ladder: Ladder,
    target: float,
    metric: str,
    uncompressed: float,
    calibration: dict,
    one_quality: int | None = None,
) -> Predictor:
    """Least squares of the calibrated rule's steps ``chosen`` on the features ``found`` of the
    grid's images, then the least offset reaching ``target`` on them (read from the grid), set on
    out-of-fold steps. Where that costs at least what ``one_quality`` (a quality of the ladder)
    costs on the same images, the predictor gives every image that quality instead."""
    design = np.c_[np.ones(len(found)), found]
    weights = _least_squares(design, chosen)
    held_out = np.empty(len(found))
    folds = np.arange(len(found)) % FOLDS
    for fold in range(FOLDS):
        inside = folds != fold
        held_out[~inside] = design[~inside] @ _least_squares(design[inside], chosen[inside])
    family = ladder.family
    draft = Predictor(
        tuple(map(float, weights)), 0.0, ladder.qualities, family.name,
        tuple(int(v) for v in family.luma.ravel()), tuple(int(v) for v in family.chroma.ravel()),
        target, metric, float("nan"), float("nan"), calibration,
    )  # fmt: skip
    offset = _least_offset(grid, held_out, len(ladder), metric, operating_target(
        metric, uncompressed, target))  # fmt: skip
    if offset is None:
        raise QSearchError(
            f"no offset of the predictor reaches {100 * target:g}% of the uncompressed {metric} "
            "on the calibration images"
        )
    steps = np.clip(np.rint(held_out + offset), 0, len(ladder) - 1).astype(np.int64)
    if one_quality is not None:
        one_step = ladder.qualities.index(one_quality)
        if bits_per_pixel(grid.chosen(steps)) >= bits_per_pixel(
            grid.chosen(np.full(len(found), one_step))
        ):
            draft = replace(draft, weights=(float(one_step),) + (0.0,) * len(FEATURES),
                            one_quality=True)  # fmt: skip
            offset, steps = 0.0, np.full(len(found), one_step)
    figures = grid.chosen(steps)
    return replace(draft, offset=float(offset), reached=dataset_figure(metric, figures),
                   bpp=bits_per_pixel(figures))  # fmt: skip


def _least_squares(design: np.ndarray, steps: np.ndarray) -> np.ndarray:
    weights, *_ = np.linalg.lstsq(design, steps.astype(np.float64), rcond=None)
    return weights


def _least_offset(
    grid: Grid, raw: np.ndarray, steps: int, metric: str, goal: float
) -> float | None:
    """The least offset (in quarter steps) at which the steps ``raw + offset`` reach ``goal``."""
    sign = metric_spec(metric).sign
    for offset in np.arange(-steps, steps + 0.25, 0.25):
        chosen = np.clip(np.rint(raw + offset), 0, steps - 1).astype(np.int64)
        if sign * dataset_figure(metric, grid.chosen(chosen)) >= sign * goal - 1e-12:
            return float(offset)
    return None


__all__ = ["FEATURES", "Predictor", "features", "fit_predictor"]
