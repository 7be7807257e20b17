"""What every benchmark shares: the shared data paths, the machine description, and
appending a dated, machine-stamped section to benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime
import fcntl
import gzip
import os
import platform
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
IMAGENET_SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"
SPLITS = IMAGENET_SAMPLE / "splits.json"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} cores, {model}, {device}, torch {torch.__version__}, Python {platform.python_version()}"


def record(title: str, body: str) -> None:
    """Print a result and write it to RESULTS.md with the date and the machine, in place of
    an earlier section of the same title (a rerun of the same command supersedes it)."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\n{stamp}; {machine()}\n\n{body.rstrip()}\n"
    print(section)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head, *sections = re.split(r"\n(?=## )", text)
    sections = [s for s in sections if s.splitlines()[0] != f"## {title}"]
    RESULTS.write_text(
        "\n".join([head.rstrip() + "\n", *(s.rstrip() + "\n" for s in sections), section])
    )


BULKY = 100_000
"""Result files larger than this (journals, per-image score tables) are kept gzipped in the
repository; a benchmark unpacks them before it resumes and packs them again when it ends."""


_LOCKS: list = []


@contextmanager
def one_benchmark_at_a_time():
    """Hold benchmarks/results for this process (re-entrant): a benchmark that packed its folders
    while another was writing into them would gzip, and so remove, the other's open files."""
    if _LOCKS:
        yield
        return
    handle = open(RESULTS.parent / "results" / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SystemExit(
            "another benchmark is working in benchmarks/results; wait for it to end"
        ) from None
    _LOCKS.append(handle)
    try:
        yield
    finally:
        _LOCKS.pop().close()


@contextmanager
def unpacked(folder: Path):
    """Work on a results folder with its bulky files unpacked; pack them again afterwards."""
    with one_benchmark_at_a_time():
        for packed in sorted(folder.rglob("*.gz")):
            with gzip.open(packed, "rb") as source, open(packed.with_suffix(""), "wb") as target:
                shutil.copyfileobj(source, target)
            packed.unlink()
        try:
            yield folder
        finally:
            pack(folder)


def pack(folder: Path) -> None:
    """gzip every bulky file under ``folder`` (in place, ``NAME.gz``)."""
    for path in sorted(folder.rglob("*")):
        if (
            path.is_file()
            and path.suffix != ".gz"
            and path.suffix != ".png"
            and path.stat().st_size > BULKY
        ):
            with (
                open(path, "rb") as source,
                open(path.with_name(path.name + ".gz"), "wb") as raw,
                gzip.GzipFile(
                    filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0
                ) as target,
            ):
                shutil.copyfileobj(
                    source, target
                )  # no name or time inside: repacking gives the same bytes
            path.unlink()
