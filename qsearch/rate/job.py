"""The per-image job as users call it (``qsearch compress --per-image`` and
:func:`compress_per_image`): calibrate a rule on the images of an evaluator, or take the
calibration an earlier job into the same folder recorded for the same request, then compress a
folder image by image with the same network."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from qsearch.atomic import check_new_file
from qsearch.codecs.codec import EncoderSettings
from qsearch.errors import QSearchError
from qsearch.rate.calibration import Calibration, Grid, calibrate, check_second_receiver
from qsearch.rate.folder import Plan, read_record, write_per_image
from qsearch.rate.ladder import Ladder
from qsearch.rate.predictor import Predictor, features, fit_predictor
from qsearch.rate.rules import make_rule
from qsearch.search.evaluator import Evaluator

log = logging.getLogger(__name__)
MARGIN = 0.5
"""The threshold rule's least floor on a classifier's per-image figure: the similarity it keeps
beside the top class, so that a receiver decoding or resizing another way reads the same."""


def compress_per_image(
    evaluator: Evaluator,
    source: Path | str,
    destination: Path | str,
    *,
    target: float,
    rule: str = "threshold",
    margin: float = MARGIN,
    ladder: Ladder | None = None,
    metric: str | None = None,
    save_predictor: Path | str | None = None,
    strip: bool = False,
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    chunk: int = 32,
    pool=None,
):
    """Compress every image of ``source`` into ``destination``, each at the smallest step of
    ``ladder`` (IJG qualities by default) its rule allows, the rule's parameter calibrated so
    that ``metric`` (the evaluator's first figure: top-1 with labels, agreement without) keeps
    ``target`` of its uncompressed value on the evaluator's images. Returns the manifest (one
    row a file) as a pandas frame; the calibration is in ``destination/per-image.json``.
    ``save_predictor`` also writes a predictor of each image's step from its features, learnt
    on the calibration images, for senders without the network (:func:`compress_predicted`).
    ``pool`` (:func:`qsearch.search.workers.process_pool` or ``dask_pool`` of a factory of the
    same evaluator) judges and encodes chunks of the folder on its workers; the same pool size
    writes the same bytes."""
    if save_predictor is not None:
        check_new_file(Path(save_predictor), overwrite)
    plan, grid = plan_for(evaluator, target, rule, margin, ladder or Ladder(), metric, destination)
    assert plan.calibration is not None
    log.info("per-image rule: %s", plan.calibration.describe())
    if save_predictor is not None:
        _save_predictor(evaluator, plan, grid, Path(save_predictor))
    return write_per_image(
        source, destination, plan, evaluator.on_images,
        preprocessing=evaluator.images.preprocessing, strip=strip, strict=strict,
        overwrite=overwrite, progress=progress, chunk=chunk, pool=pool,
    )  # fmt: skip


def compress_predicted(
    predictor: Path | str,
    source: Path | str,
    destination: Path | str,
    *,
    settings: EncoderSettings | None = None,
    strip: bool = False,
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = True,
):
    """Compress every image of ``source`` at the step a predictor file (written with
    ``save_predictor``) gives it from the image's features alone: no network. Returns the
    manifest (its per-image figure unknown: NaN)."""
    plan = Plan.predicted(Predictor.load(predictor), settings or EncoderSettings())
    return write_per_image(
        source, destination, plan, None, strip=strip, strict=strict, overwrite=overwrite,
        progress=progress,
    )  # fmt: skip


def _save_predictor(evaluator: Evaluator, plan: Plan, grid: Grid | None, path: Path) -> None:
    """Fit the predictor to the calibrated rule's steps on the calibration images and write it."""
    assert plan.calibration is not None
    calibration = plan.calibration
    grid = grid if grid is not None else Grid.measure(evaluator, plan.ladder)
    found = np.stack([features(i, plan.ladder, plan.settings) for i in evaluator.images.images])
    predictor = fit_predictor(
        grid, found, np.array(calibration.steps), plan.ladder, calibration.target,
        calibration.metric, calibration.uncompressed, plan.request, calibration.one_quality,
    )  # fmt: skip
    predictor.save(path)
    log.info("predictor written to %s: %s at %.3f bpp on the calibration images", path,
             f"{predictor.metric} {predictor.reached:.4f}", predictor.bpp)  # fmt: skip
    if predictor.one_quality:
        log.warning("the image features do not predict the qualities better than one quality "
                    "for every image on the calibration images: the predictor gives each image "
                    "q%d", calibration.one_quality)  # fmt: skip


def plan_for(
    evaluator: Evaluator,
    target: float,
    rule: str,
    margin: float,
    ladder: Ladder,
    metric: str | None,
    destination: Path | str | None = None,
) -> tuple[Plan, Grid | None]:
    """The rule calibrated on ``evaluator``'s images (or the calibration recorded in
    ``destination`` for this very request), checked before anything is measured; and the grid
    it was calibrated on (None where the record's calibration was taken)."""
    chosen = make_rule(rule)
    metric = metric or evaluator.accuracy_metrics[0]
    if metric not in evaluator.accuracy_metrics:
        raise QSearchError(
            f"metric {metric!r} is not one the evaluator reports "
            f"({', '.join(evaluator.accuracy_metrics)})"
        )
    if not 0 < target <= 1:
        raise QSearchError(f"--target {target}: a share of the uncompressed figure in (0, 1]")
    if not 0 <= margin < 1:
        raise QSearchError(f"--margin {margin}: a floor of the per-image figure in [0, 1)")
    if not evaluator.fidelity_metric:
        evaluator.evaluate_each([], [])  # refuses, naming the evaluator
    request = {
        **evaluator.identity(), **ladder.identity(), "rule": rule, "target": str(target),
        "margin": str(margin), "metric": metric,
    }  # fmt: skip
    recorded = read_record(Path(destination)) if destination is not None else None
    grid = None
    if recorded is not None and recorded.get("request") == request:
        calibration = Calibration.from_dict(recorded["calibration"], "per-image.json")
    else:
        uncompressed = (evaluator.reference or {})[metric]
        grid = Grid.measure(evaluator, ladder)
        calibration = calibrate(grid, ladder, chosen, target, metric, uncompressed, margin)
        calibration = check_second_receiver(evaluator, ladder, calibration)
    return Plan(ladder, chosen, calibration, evaluator.settings, request), grid


__all__ = ["MARGIN", "compress_per_image", "compress_predicted", "plan_for"]
