"""The codec ladder on the 400 test images: every encoder a user could pick instead of a table
(mozjpeg's trellis, jpegli, WebP, AVIF, JPEG XL), swept over its quality scale, against
libjpeg-turbo's IJG curve, by EfficientNet-Lite0's top-1 and log-probability; the best front's
tables (searched on the other split) under libjpeg-turbo and under mozjpeg's trellis; a front
searched under trellis; lossless settings on top; encode time per image measured in this run.

    python benchmarks/codec_ladder.py [--search-budget 62]

Resumable: every curve and every re-scored front is kept in benchmarks/results/codec_ladder/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import ROOT, evaluator, lossless_frame, record, search, unpacked, upstream_frame
from qsearch.codecs.codec import EncoderSettings
from qsearch.report.curves import cached_frame, rescore, scored, sweep
from qsearch.report.ladder import ladder, markdown
from qsearch.report.operating import Curve, own_bits, percent_cell
from qsearch.report.plots import plot_curves
from qsearch.tables.families import make_family
from qsearch.tables.qtable import QTable

RESULTS = ROOT / "benchmarks" / "results" / "codec_ladder"
REFERENCE = ROOT / "benchmarks" / "results" / "search_quality" / "input" / "reference"
BEST = ROOT / "benchmarks" / "results" / "best_front"
QUALITIES = tuple(range(5, 100, 5))
MOZJPEG = EncoderSettings(codec="mozjpeg")
MOZJPEG_PROGRESSIVE = EncoderSettings(codec="mozjpeg", progressive=True)
LADDER = {
    "mozjpeg trellis, IJG tables": (MOZJPEG, "ijg"),
    "mozjpeg trellis, mozjpeg preset 3 tables": (MOZJPEG, "mozjpeg-3"),
    "mozjpeg trellis progressive, IJG tables": (MOZJPEG_PROGRESSIVE, "ijg"),
    "mozjpeg trellis progressive, mozjpeg preset 3 tables": (MOZJPEG_PROGRESSIVE, "mozjpeg-3"),
    "jpegli": (EncoderSettings(codec="jpegli"), None),
    "WebP": (EncoderSettings(codec="webp"), None),
    "AVIF": (EncoderSettings(codec="avif"), None),
    "JPEG XL": (EncoderSettings(codec="jxl"), None),
}
"""Curve name -> (encoder settings, table family or None for a quality codec). mozjpeg writes
baseline files unless asked for progressive ones; both are rows."""
MEASURES = ("top1", "logprob")
ENCODINGS = {
    "libjpeg-turbo": EncoderSettings(),
    "mozjpeg trellis": MOZJPEG,
    "mozjpeg trellis progressive": MOZJPEG_PROGRESSIVE,
}
"""How the best front's tables are encoded (its tables unchanged); lossless settings on top
(``--smallest``) are added by :func:`lossless_on_top`."""


def reference(name: str) -> pd.DataFrame:
    """A sweep search_quality keeps (gzipped at rest; read as it is, never repacked here)."""
    return upstream_frame(REFERENCE / name)


def stem(name: str) -> str:
    return name.lower().replace(",", "").replace(" ", "-")


def curves(scorer) -> dict[str, pd.DataFrame]:
    """libjpeg-turbo's IJG and mozjpeg-preset-3 sweeps (kept by search_quality) and each
    codec's own sweep on the test split, computed once."""
    found = {
        "libjpeg-turbo, IJG tables (reference)": reference("ijg_test.csv"),
        "libjpeg-turbo, mozjpeg preset 3 tables": reference("mozjpeg-3_test.csv"),
    }
    for name, (settings, family) in LADDER.items():
        tables = make_family(family) if family else None
        found[name] = cached_frame(
            RESULTS / f"{stem(name)}.csv",
            lambda s=settings, t=tables: sweep(scorer, t, QUALITIES, settings=s, progress=True),
        )
    return found


def best_front_under(scorer, name: str, settings: EncoderSettings) -> pd.DataFrame:
    """The best front's tables on the test split under ``settings``, kept once."""
    tables = pd.read_csv(BEST / "front.csv")["table"]

    def compute():
        scorer.use_encoder(settings)
        rows = [{"table": t, **scored(scorer, QTable.load(BEST / t))} for t in tables]
        return pd.DataFrame(rows)

    return cached_frame(RESULTS / f"best-front-{stem(name)}.csv", compute)


def chosen_table_cells(front: pd.DataFrame, ijg: pd.DataFrame, uncompressed: dict) -> dict:
    """The tables best_front names for 98% and 95% of top-1 (chosen on the search split), judged
    here at their own accuracy: their bits against IJG and the share of top-1 they keep."""
    chosen = pd.read_csv(BEST / "operating_points.csv").set_index("fraction")["table"]
    tables = Curve.from_frame(front)
    found = {}
    for fraction in (0.98, 0.95):
        position = int(np.flatnonzero((front["table"] == chosen[fraction]).to_numpy())[0])
        bits = own_bits("top1", Curve.from_frame(ijg), tables, position)
        share = front["top1"].iloc[position] / uncompressed["top1"]
        found[fraction] = (
            percent_cell(
                bits["bits_vs_ijg_percent"],
                bits.get("bits_vs_ijg_ci95_low"),
                bits.get("bits_vs_ijg_ci95_high"),
            )
            + f" (keeps {100 * share:.1f}% of top-1)"
        )
    return found


def lossless_on_top(scorer, plain: pd.DataFrame, settings: EncoderSettings) -> pd.DataFrame:
    """The best front's tables under libjpeg-turbo with lossless settings on top."""
    return lossless_frame(
        scorer, plain, settings, BEST, RESULTS / "best-front-libjpeg-turbo-smallest.csv"
    )


def searched_fronts(budget: int) -> dict[str, pd.DataFrame]:
    """`slopes` from mozjpeg preset 4, ``budget`` evaluations on the search split, searched under
    trellis (run here) and under libjpeg-turbo (the first ``budget`` trials of search_quality's
    run: slopes is deterministic, so they are that run), each front (by top-1 on the searched
    images) encoded with trellis on the test split."""
    from qsearch.search.front import non_dominated
    from qsearch.search.journal import Journal

    trellis_run = search(
        RESULTS / "slopes-mozjpeg4-trellis", "slopes", budget=budget,
        base="mozjpeg-4", codec="mozjpeg", test_split=None,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:  # its journal only, read from a copy
        packed = (
            ROOT / "benchmarks/results/search_quality/input/slopes-mozjpeg4-s0/study.journal.gz"
        )
        with gzip.open(packed, "rb") as source, open(Path(scratch) / "study.journal", "wb") as copy:
            shutil.copyfileobj(source, copy)
        turbo_trials = Journal.read(scratch)[0]
    sources = {"trellis": trellis_run.trials, "libjpeg-turbo": turbo_trials[:budget]}
    trellis = evaluator("input", "test", codec="mozjpeg")
    found = {}
    for under, trials in sources.items():
        complete = [t for t in trials if t.state == "complete"]
        kept = non_dominated(
            [t.metrics["bpp"] for t in complete], [t.metrics["top1"] for t in complete]
        )
        tables = {complete[i].qtable.key: complete[i].qtable for i in kept}
        path = RESULTS / f"slopes-searched-under-{stem(under)}-b{budget}-trellis-test.csv"
        scores = rescore(trellis, tables, path, progress=True)
        found[f"slopes front searched under {under}, encoded with trellis"] = scores[
            scores["key"].isin(tables)
        ]
    return found


def speeds() -> str:
    """Encode milliseconds per image of each codec at quality 50 (IJG tables for the table
    codecs), one after another in this process on the same 400 test images."""
    scorer = evaluator("input", "test")
    images = scorer.images.images
    rows = []
    for codec in ("jpeg", "mozjpeg", "jpegli", "webp", "avif", "jxl"):
        settings = EncoderSettings(codec=codec)
        scorer.use_encoder(settings)
        setting = QTable.from_quality(50) if settings.encoder.takes_tables else 50
        scorer.codec.encode_all(images[:20], setting)  # warm-up
        start = time.perf_counter()
        scorer.codec.encode_all(images, setting)
        seconds = time.perf_counter() - start
        rows.append(f"{codec} {1000 * seconds / len(images):.2f}")
    return "; ".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--search-budget",
        type=int,
        default=0,
        help="slopes from mozjpeg-4 searched under trellis and under libjpeg-turbo (0: not run)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    scorer = evaluator("input", "test")
    uncompressed = json.loads((REFERENCE / "uncompressed_test.json").read_text())
    found = curves(scorer)
    ijg = found["libjpeg-turbo, IJG tables (reference)"]
    for name, settings in ENCODINGS.items():
        found[f"best front's tables, {name}"] = best_front_under(scorer, name, settings)
    found["best front's tables, libjpeg-turbo --smallest"] = lossless_on_top(
        scorer, found["best front's tables, libjpeg-turbo"], EncoderSettings(smallest=True)
    )
    if args.search_budget:
        found.update(searched_fronts(args.search_budget))
    table = ladder(found, ijg, MEASURES, uncompressed)
    plot_curves(
        {
            (name if "front" in name else f"{name} quality 5..95"): frame
            for name, frame in found.items()
        },
        "top1",
        RESULTS / "ladder.png",
        title="top-1 vs bpp on the 400 test images (EfficientNet-Lite0); dotted: 98% and 95% of "
        "the uncompressed top-1",
        levels=[0.98 * uncompressed["top1"], 0.95 * uncompressed["top1"]],
    )
    chosen = {
        name: chosen_table_cells(found[f"best front's tables, {name}"], ijg, uncompressed)
        for name in (*ENCODINGS, "libjpeg-turbo --smallest")
    }
    chosen_text = "\n".join(
        f"| {name} | {cells[0.98]} | {cells[0.95]} |" for name, cells in chosen.items()
    )
    record(
        "Codec ladder (input scenario, test split, 400 images, EfficientNet-Lite0)",
        "Each codec swept over its own quality scale (5..95) on the 400 test images; % bits against "
        "libjpeg-turbo with the IJG tables at equal accuracy (negative = fewer bits), 95% paired "
        "bootstrap intervals over images, * = the interval excludes zero. 'at X%': where the curve "
        "crosses X% of the uncompressed accuracy (top-1 0.885; log-probability: the network keeping "
        "X% of its probability for the true class). The best front's tables were searched on the "
        "other split (`best_front`), here encoded as they are by each encoder. Encode ms per image: "
        "median over the sweep, 2 threads (other processes were running: compare within a row "
        "group, and the quality-50 line below, measured back to back).\n\n"
        + markdown(table)
        + "\n\nThe tables best_front names for 98% / 95% of top-1 (chosen on the search split), "
        "judged here at their own accuracy (bits vs IJG at that accuracy, and the share of the "
        "uncompressed top-1 they keep):\n\n| encoder | table for 98% | table for 95% |\n|---|---|---|\n"
        + chosen_text
        + f"\n\nEncode ms per image at quality 50, one codec after another in this run: {speeds()}."
        + f"\n\nCommand: `python benchmarks/codec_ladder.py --search-budget {args.search_budget}`",
    )


if __name__ == "__main__":
    RESULTS.mkdir(parents=True, exist_ok=True)
    with unpacked(RESULTS):
        main()
