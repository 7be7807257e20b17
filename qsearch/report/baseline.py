"""What a user could do without searching, on their own images: table families swept over
quality under each table codec, each quality codec swept on its own scale, and the codec
ladder against libjpeg-turbo's IJG curve, which is always swept since every figure is
measured against it. ``qsearch baseline`` is this function and :meth:`Baseline.write`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from qsearch.atomic import check_output_folder, write_text
from qsearch.codecs.codec import EncoderSettings
from qsearch.report.curves import sweep, write_csv
from qsearch.report.ladder import fewest_bits, ladder, markdown
from qsearch.report.operating import reference_name, share_references
from qsearch.report.plots import plot_curves
from qsearch.search.metrics import operating_target
from qsearch.tables.families import make_family
from qsearch.tables.qtable import IJG_QUALITIES, TableFamily

MANIFEST = "baseline.json"
"""The file that marks a folder as a baseline's: only such a folder (or an empty one) is
written into."""


@dataclass
class Baseline:
    """The sweeps (one frame per curve, named ``ijg``, ``mozjpeg-3``, ``mozjpeg-ijg``, ``webp``,
    ...) and the ladder of every curve against ``ijg``, judged by ``metrics``."""

    sweeps: dict[str, pd.DataFrame]
    ladder: pd.DataFrame
    metric: str
    """The accuracy figure plotted (the evaluator's default objective)."""
    uncompressed: dict = field(default_factory=dict)
    images: int = 0
    best: list[str] = field(default_factory=list)
    """Which curve needs the fewest bits at each target, one line each."""
    reference: str = "uncompressed"
    """What 100% of ``metric`` is (``uncompressed`` holds its figures)."""

    def write(self, folder: Path | str) -> list[Path]:
        """One CSV per curve, ``ladder.csv``, ``ladder.md``, ``baseline.png`` and the manifest;
        returns the files written."""
        folder = Path(folder)
        check_baseline_folder(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / MANIFEST, json.dumps({"curves": list(self.sweeps)}, indent=2) + "\n")
        written = []
        for name, frame in self.sweeps.items():
            write_csv(frame, folder / f"{name}.csv")
            written.append(folder / f"{name}.csv")
        write_csv(self.ladder, folder / "ladder.csv")
        write_text(folder / "ladder.md", "\n\n".join([markdown(self.ladder), *self.best]) + "\n")
        self._plot(folder / "baseline.png")
        return [*written, *(folder / n for n in ("ladder.csv", "ladder.md", "baseline.png"))]

    def _plot(self, path: Path) -> None:
        targets = [
            operating_target(self.metric, self.uncompressed[self.metric], fraction)
            for fraction in (0.98, 0.95)
            if self.metric in self.uncompressed
        ]
        plot_curves(
            {f"{name} quality sweep": frame for name, frame in self.sweeps.items()},
            self.metric,
            path,
            title=f"{self.metric} vs bpp on {self.images} images"
            + (f"; dotted: 98% and 95% of the {self.reference} {self.metric}" if targets else ""),
            levels=targets,
        )


def check_baseline_folder(folder: Path) -> None:
    """Refuse a folder that holds anything but an earlier baseline."""
    check_output_folder(folder, MANIFEST, "qsearch baseline")


def baseline(
    evaluator,
    *,
    families: Sequence[str | TableFamily] = ("ijg",),
    codecs: Sequence[str] = ("jpeg",),
    qualities: Sequence[int] = IJG_QUALITIES,
    settings: EncoderSettings | None = None,
    sizes: Sequence[str] = (),
    progress: bool = False,
) -> Baseline:
    """Sweep ``families`` under each table codec of ``codecs`` and each quality codec on its
    own scale, on ``evaluator``'s images, with the lossless ``settings`` (subsampling,
    optimize, ...) given; IJG under libjpeg-turbo is always swept, as the reference. Each of
    ``sizes`` (``network``, ``long:N``, ``short:N``) sweeps every curve again, and IJG, with the
    images sent at that size: ``CURVE@SIZE``, bits still per stored pixel, so the rungs
    compare."""
    from qsearch.search.study import default_objective

    settings = settings or EncoderSettings()
    chosen = [make_family(spec, evaluator.images.images) for spec in families]
    swept: dict[str, pd.DataFrame] = {}
    for size in dict.fromkeys([settings.size, *sizes]):
        suffix = "" if size == settings.size else f"@{size.replace(':', '')}"
        for stem, frame in _sweep_size(
            evaluator, chosen, codecs, qualities, settings.with_size(size), progress
        ).items():
            swept[stem + suffix] = frame
    swept = {"ijg": swept.pop("ijg"), **swept}
    evaluator.use_encoder(settings.with_codec("jpeg"))
    metric = default_objective(evaluator).metric
    uncompressed = share_references(dict(evaluator.reference or {}), swept["ijg"])
    table = ladder(swept, swept["ijg"], _measured(evaluator, metric), uncompressed)
    reference = reference_name(metric, swept["ijg"])
    best = fewest_bits(swept, metric, uncompressed, reference)
    return Baseline(swept, table, metric, uncompressed, len(evaluator.images), best, reference)


def _sweep_size(
    evaluator,
    families: list[TableFamily],
    codecs: Sequence[str],
    qualities: Sequence[int],
    sized: EncoderSettings,
    progress: bool,
) -> dict[str, pd.DataFrame]:
    """Every curve at one size, by stem: IJG under libjpeg-turbo first, then each codec's."""
    swept: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(["jpeg", *codecs]):
        encoder = sized.with_codec(name)
        curves = _curves(name, encoder, families if name in codecs else [])
        if name == "jpeg" and "ijg" not in curves:
            curves = {"ijg": make_family("ijg"), **curves}
        for stem, family in curves.items():
            swept[stem] = sweep(evaluator, family, qualities, settings=encoder, progress=progress)
    return swept


def _curves(
    name: str, encoder: EncoderSettings, families: list[TableFamily]
) -> dict[str, TableFamily | None]:
    """The curves of one codec, by stem: each family under a table codec (``mozjpeg-ijg``;
    plain family names under libjpeg-turbo), or the codec's own quality scale (None)."""
    if not encoder.encoder.takes_tables:
        return {name: None}
    return {(str(f) if name == "jpeg" else f"{name}-{f}"): f for f in families}


def _measured(evaluator, metric: str) -> list[str]:
    """What the ladder judges by: top-1 and log-probability with labels, else similarity."""
    reported = evaluator.accuracy_metrics
    if "top1" in reported:
        return ["top1", "logprob"]
    return [m for m in ("similarity",) if m in reported] or [metric]


__all__ = ["MANIFEST", "Baseline", "baseline", "check_baseline_folder"]
