"""Applying a table to files: every image of a file or folder written as a JPEG carrying the
table, never into the source, with the folder layout kept. Pixels are encoded as displayed,
as ``evaluate`` scores them (the EXIF orientation applied), and the EXIF block (its orientation
then "as stored") and ICC profile are kept, so a viewer shows the copy as it showed the source.
``qsearch compress`` is this function."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from qsearch.atomic import write_bytes
from qsearch.codecs.codec import EncoderSettings, encode
from qsearch.codecs.sizes import sent_shape
from qsearch.errors import QSearchError
from qsearch.images.files import is_image
from qsearch.tables.qtable import QTable

log = logging.getLogger(__name__)


@dataclass
class Compressed:
    """What :func:`compress` wrote: the files, those skipped (unreadable), and on how many
    files the EXIF block and the ICC profile were kept."""

    written: list[Path]
    skipped: list[str]
    kept_exif: int
    kept_icc: int
    source_bytes: int = 0
    """The sizes of the sources of the files written."""
    written_bytes: int = 0
    scales: list[dict] = field(default_factory=list)
    """Each file sent smaller than stored: its stored and sent sizes (``DST/sizes.csv``)."""


def compress(
    qtable: QTable,
    source: Path | str,
    destination: Path | str,
    *,
    settings: EncoderSettings | None = None,
    strip: bool = False,
    strict: bool = False,
    overwrite: bool = False,
) -> Compressed:
    """Write every image of ``source`` (a file or a folder, never modified) below
    ``destination`` as ``NAME.jpg`` carrying ``qtable``. Everything is checked before the
    first file is written: a destination inside the source, two sources landing on one file,
    existing targets (unless ``overwrite``). ``strip`` leaves out EXIF and ICC; ``strict``
    makes an unreadable image fatal instead of skipped."""
    from qsearch.images import read_metadata, read_rgb

    settings = settings or EncoderSettings()
    if not settings.encoder.takes_tables:
        raise QSearchError.about(f"{{codec}} {settings.codec} takes a quality, not a table")
    targets = compress_targets(Path(source), Path(destination))
    if not overwrite:
        _refuse_existing(targets)
    done = Compressed([], [], 0, 0)
    for path, target in targets.items():
        try:
            image = read_rgb(path)
            metadata = {} if strip else read_metadata(path)
        except QSearchError as error:
            if strict:
                raise
            log.warning("%s", error)
            done.skipped.append(str(error))
            continue
        data = encode(image, qtable, settings, metadata)
        write_file(target, data, len(done.written))
        done.written.append(target)
        done.source_bytes += path.stat().st_size
        done.written_bytes += len(data)
        done.kept_exif += bool(metadata.get("exif"))
        done.kept_icc += bool(metadata.get("icc_profile"))
        done.scales.append(_scale(target, Path(destination), image, settings))
    if settings.size != "stored":
        write_sizes(Path(destination), done.scales)
    return done


SIZES = "sizes.csv"


def _scale(target: Path, destination: Path, image, settings: EncoderSettings) -> dict:
    """The file's stored and sent sizes, and the scale a label's coordinates are multiplied by."""
    height, width = image.shape[:2]
    sent = sent_shape(height, width, settings.size)
    return {
        "file": str(target.relative_to(destination)), "stored_width": width,
        "stored_height": height, "width": sent[1], "height": sent[0],
        "scale": round(sent[1] / width, 6),
    }  # fmt: skip


def write_sizes(destination: Path, rows: list[dict]) -> None:
    """``sizes.csv``: where images were sent smaller than stored, each file's sizes and scale,
    so that labels (boxes, masks) can follow the pixels."""
    import csv
    from io import StringIO

    from qsearch.atomic import write_text

    text = StringIO()
    writer = csv.DictWriter(
        text, ["file", "stored_width", "stored_height", "width", "height", "scale"],
        lineterminator="\n",
    )  # fmt: skip
    writer.writeheader()
    writer.writerows(rows)
    write_text(destination / SIZES, text.getvalue())


def _refuse_existing(targets: dict[Path, Path]) -> None:
    existing = [t for t in targets.values() if t.exists()]
    if existing:
        raise QSearchError.about(
            f"{existing[0]}: already exists ({len(existing)} of the {len(targets)} targets do); "
            "give {overwrite} to replace them, or another destination"
        )


def write_file(target: Path, data: bytes, before: int) -> None:
    """Write one output file atomically (its folders made); a failure names the file and how
    many were written before it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, data)
    except OSError as error:
        raise QSearchError(
            f"{target}: cannot write ({error.strerror}); {before} file(s) were written before it"
        ) from None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it."""
    resolved, root = path.resolve(), folder.resolve()
    return resolved == root or root in resolved.parents


def _sources(source: Path, destination: Path) -> list[Path]:
    """The files to compress, once the destination is known to lie outside the source."""
    if not source.exists():
        raise QSearchError(f"{source}: no such file or folder")
    if source.is_dir() and _inside(destination, source):
        raise QSearchError(
            f"{destination}: the destination is inside the source folder {source}; "
            "choose another folder"
        )
    if destination.exists() and not destination.is_dir():
        raise QSearchError(f"{destination}: the destination is a file, not a folder")
    files = sorted(p for p in source.rglob("*") if is_image(p)) if source.is_dir() else [source]
    if not files:
        raise QSearchError(f"{source}: no image files to compress")
    return files


def compress_targets(source: Path, destination: Path) -> dict[Path, Path]:
    """Source file -> destination file; refuses (before anything is written) a destination that
    is or lies inside the source, and two sources that would land on one file."""
    files = _sources(source, destination)
    targets: dict[Path, Path] = {}
    claimed: dict[Path, Path] = {}
    for path in files:
        relative = path.relative_to(source) if source.is_dir() else Path(path.name)
        target = (destination / relative).with_suffix(".jpg")
        if target.resolve() in claimed:
            raise QSearchError(
                f"{path} and {claimed[target.resolve()]} would both be written as {target}; "
                "rename one of them"
            )
        if target.resolve() == path.resolve():
            raise QSearchError(
                f"{target}: writing it would overwrite its own source; choose another folder"
            )
        claimed[target.resolve()] = path
        targets[path] = target
    return targets


__all__ = ["SIZES", "Compressed", "compress", "compress_targets", "write_file", "write_sizes"]
