"""``qsearch compress --per-image``: a folder compressed image by image, each at the step of the
ladder its calibrated rule chooses, as ``compress`` writes folders (layout, metadata, sources
never touched, no file replaced without ``overwrite``). Beside the files: ``manifest.csv`` (each
file's quality, bytes and per-image figure) and ``per-image.json`` (the calibration and what it
was calibrated on). A killed job resumes without recoding what is written, and writes the same
bytes as an uninterrupted one: each chunk's rows reach the manifest before its files are
renamed into place, so a row whose file is missing is redone and a file without a row was never
ours."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from qsearch.atomic import write_text
from qsearch.codecs.codec import EncoderSettings, encode
from qsearch.codecs.compress import compress_targets, write_file
from qsearch.codecs.sizes import sent_shape
from qsearch.errors import QSearchError
from qsearch.images import ImageSet, InputGeometry, read_metadata, read_rgb
from qsearch.rate.calibration import Calibration
from qsearch.rate.ladder import Ladder
from qsearch.rate.predictor import Predictor, features
from qsearch.rate.rules import Rule
from qsearch.search.evaluator import Evaluator

if TYPE_CHECKING:
    from qsearch.search.workers import EvaluatorPool

log = logging.getLogger(__name__)
MANIFEST = "manifest.csv"
RECORD = "per-image.json"
COLUMNS = (
    "file", "source", "quality", "bytes", "pixels", "bpp", "fidelity", "one_quality_bytes",
    "width", "height",
)  # fmt: skip
"""``fidelity``: the network's per-image figure at the chosen quality (empty with a predictor);
``one_quality_bytes``: the file's size at the one quality that reaches the target on the
calibration images (empty with a predictor), so that each file's saving can be read;
``width``, ``height``: the size it was sent at (``pixels`` and ``bpp`` count the stored ones)."""


@dataclass(frozen=True)
class Plan:
    """What a per-image job applies: the ladder, the rule and its calibration, the encoder
    settings, and the identity of the request (calibration images, network, target) that a
    resume must match."""

    ladder: Ladder
    rule: Rule | None
    calibration: Calibration | None
    settings: EncoderSettings
    request: dict
    predictor: Predictor | None = None
    """Steps predicted from image features instead (no network at the sender)."""

    def record(self) -> dict:
        """What ``per-image.json`` holds."""
        found: dict = {"request": self.request}
        if self.calibration is not None:
            found["calibration"] = self.calibration.to_dict()
        if self.predictor is not None:
            found["predictor"] = asdict(self.predictor)
        return found

    def choose(
        self, images: ImageSet, evaluator_for: Callable[[ImageSet], Evaluator] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(step, per-image figure) of each image: predicted from its features (the figure
        unknown: NaN), or chosen with the network in the loop."""
        if self.predictor is not None:
            found = np.stack([features(i, self.ladder, self.settings) for i in images.images])
            return self.predictor.steps(found), np.full(len(images), np.nan)
        assert evaluator_for is not None  # a calibrated plan has its network
        evaluator = evaluator_for(images)
        try:
            return choose_steps(evaluator, self)
        finally:
            evaluator.close()

    @classmethod
    def predicted(cls, predictor: Predictor, settings: EncoderSettings) -> Plan:
        """The plan of a predictor file: its ladder, no network."""
        return cls(predictor.ladder, None, None, settings, predictor.identity(), predictor)


def read_record(destination: Path) -> dict | None:
    """The record of an earlier job into ``destination``, or None."""
    path = destination / RECORD
    if not path.exists():
        return None
    from qsearch.jsonfile import read_json_object

    return read_json_object(path, "a per-image compression record", str(path))


def choose_steps(evaluator: Evaluator, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(step, per-image figure at that step) of every image of ``evaluator``: the rule run with
    the network in the loop, as calibration ran it on the grid."""
    count, tables = len(evaluator.images), plan.ladder.tables()
    seen: dict[tuple[int, int], float] = {}

    def probe(images: np.ndarray, steps: np.ndarray) -> dict[str, np.ndarray]:
        found = evaluator.evaluate_each([tables[s] for s in steps], images)
        found["fidelity"] = np.asarray(found[evaluator.fidelity_metric], dtype=np.float64)
        seen.update(zip(zip(images.tolist(), steps.tolist()), found["fidelity"].tolist()))
        return found

    calibration = plan.calibration
    assert calibration is not None and plan.rule is not None  # not a predictor's plan
    if calibration.fallback:
        assert calibration.one_quality is not None
        steps = np.full(count, plan.ladder.qualities.index(calibration.one_quality))
    else:
        steps = plan.rule.choose(probe, count, len(tables), calibration.value)
    unseen = np.array([i for i in range(count) if (i, int(steps[i])) not in seen], np.int64)
    if unseen.size:  # the finest step is taken without a probe where nothing coarser passed
        probe(unseen, steps[unseen])
    return steps, np.array([seen[(i, int(s))] for i, s in enumerate(steps)])


def write_per_image(
    source: Path | str,
    destination: Path | str,
    plan: Plan,
    evaluator_for: Callable[[ImageSet], Evaluator] | None,
    *,
    preprocessing: InputGeometry = InputGeometry.centre_crop(),
    strip: bool = False,
    strict: bool = False,
    overwrite: bool = False,
    chunk: int = 32,
    progress: bool = True,
    pool: EvaluatorPool | None = None,
):
    """Compress every image of ``source`` into ``destination`` at its own step; returns the
    manifest as a pandas frame. ``evaluator_for`` builds the evaluator of a chunk of images
    (stored size, read as ``compress`` reads them) with the plan's network and settings (None
    for a predictor's plan). With ``pool``, chunks are read, judged and encoded on its workers
    (each with its own evaluator of the plan's network) and written here in order."""
    import pandas as pd

    source, destination = Path(source), Path(destination)
    targets = compress_targets(source, destination)
    rows = _resumable(destination, plan, targets, overwrite)
    pending = {p for p, t in targets.items() if not (t.exists() and _done(rows.get(t), t))}
    destination.mkdir(parents=True, exist_ok=True)
    write_text(destination / RECORD, json.dumps(plan.record(), indent=1) + "\n")
    bar = tqdm(total=len(targets), initial=len(targets) - len(pending), unit="image",
               desc="per-image compress", disable=not progress)  # fmt: skip
    jobs = _chunks(targets, pending, chunk, destination, plan, preprocessing, strip, strict)
    done = (
        pool.each(_encode_with, jobs)
        if pool is not None
        else (job.encode(evaluator_for) for job in jobs)
    )
    for job, (written, files) in zip(jobs, done):
        _store(destination, written, files)
        rows.update((destination / row["file"], row) for row in written)
        bar.update(len(job.todo))
    bar.close()
    ordered = [rows[t] for t in targets.values() if t in rows]
    _write_manifest(destination, ordered)
    return pd.DataFrame(ordered, columns=list(COLUMNS))


def _chunks(
    targets: dict[Path, Path],
    pending: set[Path],
    chunk: int,
    destination: Path,
    *settings: Any,
) -> list[_Chunk]:
    """Fixed chunks of ``chunk`` sources (a resumed job batches alike) with work left; the
    ``settings`` (plan, preprocessing, strip, strict) shared by every chunk."""
    paths = list(targets)
    parts = (paths[s : s + chunk] for s in range(0, len(paths), chunk))
    return [
        _Chunk(part, todo, {p: targets[p] for p in part}, destination, *settings)
        for part in parts
        if (todo := pending.intersection(part))
    ]


def _done(row: dict | None, target: Path) -> bool:
    return row is not None and target.stat().st_size == int(row["bytes"])


def _resumable(
    destination: Path, plan: Plan, targets: dict[Path, Path], overwrite: bool
) -> dict[Path, dict]:
    """The manifest rows of an earlier job with the same request (refusing one with another),
    and every existing target that no row accounts for refused unless ``overwrite``."""
    record = read_record(destination)
    if record is not None and not overwrite:
        _refuse_another_request(destination, record.get("request", {}), plan.request)
    rows = _read_manifest(destination) if record is not None and not overwrite else {}
    foreign = [t for t in targets.values() if t.exists() and t not in rows]
    if foreign and not overwrite:
        raise QSearchError.about(
            f"{foreign[0]}: already exists and no earlier per-image job wrote it ({len(foreign)} "
            "such file(s)); give {overwrite} to replace them, or another destination"
        )
    return rows


def _refuse_another_request(destination: Path, recorded: dict, request: dict) -> None:
    """A folder compressed with another calibration, network or setting is not resumed."""
    changed = sorted(k for k in {*request, *recorded} if request.get(k) != recorded.get(k))
    if changed:
        raise QSearchError(
            f"{destination}: was compressed per image with another {', '.join(changed)}; "
            "give another destination (or --overwrite)"
        )


def _read_manifest(destination: Path) -> dict[Path, dict]:
    """Rows of ``manifest.csv`` by target (the last row of a file wins; a torn last line is
    dropped)."""
    path = destination / MANIFEST
    if not path.exists():
        return {}
    rows: dict[Path, dict] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if None in row.values() or set(row) != set(COLUMNS):
                continue
            rows[destination / row["file"]] = _typed(row)
    return rows


def _typed(row: dict) -> dict:
    """A manifest row read back with the types it was written with."""
    numbers = {"quality": int, "bytes": int, "pixels": int, "bpp": float, "fidelity": float,
               "one_quality_bytes": int, "width": int, "height": int}  # fmt: skip
    return {
        key: numbers[key](value) if key in numbers and value != "" else value
        for key, value in row.items()
    }


def _append_rows(destination: Path, rows: list[dict]) -> None:
    path = destination / MANIFEST
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())


def _write_manifest(destination: Path, rows: list[dict]) -> None:
    from io import StringIO

    text = StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(destination / MANIFEST, text.getvalue())


@dataclass(frozen=True)
class _Chunk:
    """One fixed chunk of the folder: all of it is read and judged (so that the network sees
    the batches an uninterrupted job saw), and the images ``todo`` encoded."""

    paths: list[Path]
    todo: set[Path]
    targets: dict[Path, Path]
    root: Path
    plan: Plan
    preprocessing: InputGeometry
    strip: bool
    strict: bool

    def encode(
        self, evaluator_for: Callable[[ImageSet], Evaluator] | None
    ) -> tuple[list[dict], list[tuple[Path, bytes]]]:
        """The manifest rows and the (target, bytes) of the images ``todo``."""
        read = _read_chunk(self.paths, self.strip, self.strict)
        if not read:
            return [], []
        image_set = ImageSet(
            [str(p) for p, _, _ in read], [image for _, image, _ in read], None,
            np.array([p.stat().st_size for p, _, _ in read]), "source", self.preprocessing,
        )  # fmt: skip
        steps, fidelity = self.plan.choose(image_set, evaluator_for)
        files, rows = [], []
        for (path, image, metadata), step, figure in zip(read, steps, fidelity):
            if path not in self.todo:
                continue
            target = self.targets[path]
            data = encode(image, self.plan.ladder.table(int(step)), self.plan.settings, metadata)
            files.append((target, data))
            rows.append(_row(self.plan, target.relative_to(self.root), path, image, metadata,
                             data, int(step), float(figure)))  # fmt: skip
        return rows, files


def _encode_with(evaluator: Evaluator, chunk: _Chunk):
    """A chunk encoded on a pool's worker, judged by that worker's evaluator."""
    return chunk.encode(evaluator.on_images)


def _store(root: Path, rows: list[dict], files: list[tuple[Path, bytes]]) -> None:
    """Manifest rows first, then the files: a kill between them leaves rows whose files are
    missing or short, which a resumed job writes again."""
    _append_rows(root, rows)
    for done, (target, data) in enumerate(files):
        write_file(target, data, done)


def _row(plan: Plan, file: Path, source: Path, image, metadata, data: bytes, step: int,
         figure: float) -> dict:  # fmt: skip
    """One manifest row."""
    pixels = int(image.shape[0] * image.shape[1])
    sent = sent_shape(image.shape[0], image.shape[1], plan.settings.size)
    one = plan.calibration.one_quality if plan.calibration is not None else None
    reference = "" if one is None else len(
        encode(image, plan.ladder.family.at(one), plan.settings, metadata)
    )  # fmt: skip
    return {
        "file": str(file), "source": str(source), "quality": plan.ladder.qualities[step],
        "bytes": len(data), "pixels": pixels, "bpp": round(8 * len(data) / pixels, 5),
        "fidelity": round(figure, 6), "one_quality_bytes": reference, "width": sent[1],
        "height": sent[0],
    }  # fmt: skip


def _read_chunk(
    paths: list[Path], strip: bool, strict: bool
) -> list[tuple[Path, np.ndarray, dict]]:
    """(path, pixels as displayed, metadata) of each readable image; unreadable ones skipped
    with a warning (fatal with ``strict``)."""
    found = []
    for path in paths:
        try:
            found.append((path, read_rgb(path), {} if strip else read_metadata(path)))
        except QSearchError as error:
            if strict:
                raise
            log.warning("%s", error)
    return found


__all__ = ["MANIFEST", "RECORD", "Plan", "choose_steps", "read_record", "write_per_image"]
