"""A sender without the network: each image's step predicted from cheap features of the image
(its size, contrast, detail and how large it is at a middle quality), a linear model learnt on
the calibration images from the steps the calibrated rule chose there, then shifted by the one
offset that reaches the target on those images. Stored as a small JSON file (plain numbers,
with a digest: an edited file is refused)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
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


def fit_predictor(
    grid: Grid,
    found: np.ndarray,
    chosen: np.ndarray,
    ladder: Ladder,
    target: float,
    metric: str,
    uncompressed: float,
    calibration: dict,
) -> Predictor:
    """Least squares of the calibrated rule's steps ``chosen`` on the features ``found`` of the
    grid's images, then the least offset reaching ``target`` on them (read from the grid)."""
    design = np.c_[np.ones(len(found)), found]
    weights, *_ = np.linalg.lstsq(design, chosen.astype(np.float64), rcond=None)
    goal, sign = operating_target(metric, uncompressed, target), metric_spec(metric).sign
    family = ladder.family
    draft = Predictor(
        tuple(map(float, weights)), 0.0, ladder.qualities, family.name,
        tuple(int(v) for v in family.luma.ravel()), tuple(int(v) for v in family.chroma.ravel()),
        target, metric, float("nan"), float("nan"), calibration,
    )  # fmt: skip
    for offset in np.arange(-len(ladder), len(ladder) + 0.25, 0.25):
        figures = grid.chosen(draft.steps(found, offset))
        reached = dataset_figure(metric, figures)
        if sign * reached >= sign * goal - 1e-12:
            return Predictor(**{
                **asdict(draft), "offset": float(offset), "reached": reached,
                "bpp": bits_per_pixel(figures),
            })  # fmt: skip
    raise QSearchError(
        f"no offset of the predictor reaches {100 * target:g}% of the uncompressed {metric} on "
        "the calibration images"
    )


__all__ = ["FEATURES", "Predictor", "features", "fit_predictor"]
