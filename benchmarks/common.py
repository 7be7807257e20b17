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
"""Result files larger than this (journals, per-image score tables) are kept gzipped at rest;
a benchmark unpacks them before it resumes and packs them again when it ends. Journals stay in
git; per-image score tables and model files do not (``.gitignore``): the command that wrote one
writes it again."""

WRITTEN_BY = {
    "search_quality": "python benchmarks/search_quality.py --baselines",
    "codec_ladder": "python benchmarks/codec_ladder.py",
    "best_front": "python benchmarks/cross_fit.py --export",
}
"""The command that writes each results folder, for readers of another benchmark's files."""


def upstream_frame(path: Path):
    """A per-image table another benchmark writes (kept gzipped, never in git), read as it is;
    where this checkout lacks it, one line naming the command that writes it."""
    import pandas as pd

    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            return pd.read_csv(candidate)
    folder = path.relative_to(ROOT / "benchmarks" / "results").parts[0]
    raise SystemExit(
        f"{path.relative_to(ROOT)} is not in this checkout (per-image tables stay out of git); "
        f"`{WRITTEN_BY.get(folder, 'the benchmark that writes ' + folder)}` writes it"
    )


UNPACKED = {".gz", ".png", ".pt", ".pt2", ".onnx"}
"""Files kept as they are: already packed, images, and model files users load directly."""

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
        if path.is_file() and path.suffix not in UNPACKED and path.stat().st_size > BULKY:
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


_CLASSIFIERS: dict = {}


def classifier(model: str = "efficientnet_lite0"):
    """One frozen network per process, shared by every evaluator a benchmark builds."""
    from qsearch.models import load_classifier

    if model not in _CLASSIFIERS:
        _CLASSIFIERS[model] = load_classifier(model)
    return _CLASSIFIERS[model]


def evaluator(
    scenario: str,
    split: str,
    limit: int | None = None,
    model: str = "efficientnet_lite0",
    codec: str = "jpeg",
):
    """The classifier evaluator on a split of the ImageNet sample, compressed at ``scenario``
    (the same images, settings and identity as `qsearch run --data SAMPLE --split SPLIT`)."""
    from qsearch.codecs.codec import EncoderSettings
    from qsearch.evaluators.classifier import ClassifierEvaluator
    from qsearch.images import load_images

    network = classifier(model)
    images = load_images(
        IMAGENET_SAMPLE,
        split_file=SPLITS,
        split=split,
        compress_at=scenario,
        preprocessing=network.preprocessing,
        limit=limit,
    )
    return ClassifierEvaluator(images, network, EncoderSettings(codec=codec))


def searched_evaluator(
    scenario: str,
    split: str,
    limit: int | None,
    networks: tuple[str, ...],
    combine: str,
    codec: str,
    model: str = "efficientnet_lite0",
):
    """The evaluator of the searched images: one network, or several judging together."""
    if not networks:
        return evaluator(scenario, split, limit, model, codec=codec)
    from qsearch.evaluators.networks import NetworksEvaluator

    members = {name: evaluator(scenario, split, limit, name) for name in networks}
    return NetworksEvaluator(members, combine)


def search(
    out: Path,
    searcher: str,
    *,
    budget: int,
    seed: int = 0,
    scenario: str = "input",
    split: str = "search",
    test_split: str | None = "test",
    options: dict | None = None,
    metric: str | None = None,
    base: str = "ijg",
    rejection_z: float | None = None,
    limit: int | None = None,
    networks: tuple[str, ...] = (),
    combine: str = "worst",
    codec: str = "jpeg",
    model: str = "efficientnet_lite0",
):
    """A search as `qsearch run` does it, through the API (resumable in ``out``); a finished
    run is read back as it stands (runs recorded by qsearch 0.1 cannot be resumed)."""
    import qsearch
    from qsearch.report.runs import Run
    from qsearch.search.journal import Journal
    from qsearch.search.space import make_space
    from qsearch.tables.families import make_family

    if (out / "study.journal").exists() and len(Journal.read(out)[0]) >= budget:
        if test_split is None or (out / "test_scores.csv").exists():
            return Run(out)
    made = qsearch.make_searcher(searcher, **(options or {}))
    searched = searched_evaluator(scenario, split, limit, networks, combine, codec, model)
    objective = qsearch.Objective(metric=metric or "top1")
    return qsearch.run(
        searched,
        made,
        out,
        objective=objective,
        space=make_space(made.default_space, family=make_family(base)),
        seed=seed,
        budget=budget,
        test_evaluator=evaluator(scenario, test_split, limit, model, codec) if test_split else None,
        pruner=qsearch.Pruner(rejection_z) if rejection_z is not None else None,
    )


def lossless_frame(scorer, plain, settings, folder: Path, path: Path):
    """Tables already scored plainly (``plain``: a frame naming table files below ``folder``)
    with lossless ``settings`` on top: each image's bytes under them, its accuracy the plain
    encoding's, since the decoded pixels are the same (checked image by image, every table)."""
    import json

    import numpy as np
    import pandas as pd

    from qsearch.codecs.codec import Codec, EncoderSettings
    from qsearch.report.curves import cached_frame
    from qsearch.tables.qtable import QTable

    def compute():
        codec, images, rows = Codec(settings), scorer.images.images, []
        for _, row in plain.iterrows():
            table = QTable.load(folder / row["table"])
            files, plain_files = (
                codec.encode_all(images, table),
                scorer.codec.encode_all(images, table),
            )
            for file, base in zip(files, plain_files):
                shape = images.shape[1:]
                assert np.array_equal(
                    codec.decode_all([file], shape), codec.decode_all([base], shape)
                )
            figures = json.loads(row["per_image"])
            figures["bytes"] = [len(f) for f in files]
            total = sum(figures["bytes"])
            rows.append({**row.to_dict(), "bytes": total, "bpp": 8 * total / sum(figures["pixels"]),
                         "per_image": json.dumps(figures)})  # fmt: skip
        return pd.DataFrame(rows)

    scorer.use_encoder(EncoderSettings())
    return cached_frame(path, compute)
