"""Where the network's sensitivity differs from the IJG tables' allocation: per frequency band
and plane, how much accuracy a bit buys. For each band of the bands space (luma and chroma),
the IJG bases' steps in that band alone are made half an octave finer and half an octave
coarser, at several qualities; the central difference gives the band's slope (mean
log-probability of the true class per bpp). Its ratio to the slope of the whole table
(every band moved together, i.e. the quality curve's own slope) says whether the tables spend
too few (ratio > 1) or too many (ratio < 1) bits there for this network: at an allocation the
network cannot improve on, every band's ratio is 1. Then steps towards equal slopes (table
families with each band's bases moved by -log2(ratio)/2 octaves, the slopes are measured again
around each step) are swept on both splits and measured against IJG. Search split, input
scenario; intervals: paired bootstrap over images. Resumable (each evaluation is cached).

    python benchmarks/band_slopes.py [--qualities 25 50 85] [--steps 2]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from common import ROOT, record, unpacked
from qsearch.report.curves import cached_frame, curve_summary, scored, sweep
from qsearch.search.space import BandSpace
from qsearch.searchers.slopes import band_moves
from qsearch.tables.bands import shift_bands
from qsearch.tables.qtable import IJG, TABLE_NAMES, QTable, TableFamily, from_zigzag, to_zigzag
from search_quality import evaluator, reference_curve, with_interval

RESULTS = ROOT / "benchmarks" / "results" / "band_slopes"
REFERENCE = ROOT / "benchmarks" / "results" / "search_quality" / "input" / "reference"
STEP = 0.5  # octaves each way
BANDS = BandSpace().bands
SAMPLES = 500


def shifted(family: TableFamily, octaves: np.ndarray, name: str | None = None) -> TableFamily:
    """``family`` with each (plane, band) base moved by ``octaves[plane, band]``."""
    zigzag = np.stack([to_zigzag(family.luma), to_zigzag(family.chroma)])
    moved = shift_bands(zigzag, octaves, BANDS, high=None).astype(np.int64)
    return TableFamily(name or family.name, from_zigzag(moved[0]), from_zigzag(moved[1]))


def probes() -> dict[str, np.ndarray]:
    """Named base shifts: each band alone, finer and coarser, and the whole table."""
    result = {}
    for sign, direction in ((-1, "finer"), (1, "coarser")):
        result[f"whole {direction}"] = np.full((2, len(BANDS)), sign * STEP)
        for plane, name in enumerate(TABLE_NAMES):
            for band in range(len(BANDS)):
                octaves = np.zeros((2, len(BANDS)))
                octaves[plane, band] = sign * STEP
                result[f"{name} {band} {direction}"] = octaves
    return result


def measurements(scorer, family: TableFamily, step: int, qualities) -> pd.DataFrame:
    """Per-image figures of every probe around ``family`` at every quality (cached in RESULTS)."""
    path = RESULTS / "probes.csv"
    done = (
        pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["step", "quality", "probe"])
    )
    rows = []
    for quality in qualities:
        for name, octaves in probes().items():
            if (
                (done["step"] == step) & (done["quality"] == quality) & (done["probe"] == name)
            ).any():
                continue
            rows.append(
                {
                    "step": step,
                    "quality": quality,
                    "probe": name,
                    **scored(scorer, shifted(family, octaves).at(quality)),
                }
            )
            pd.concat([done, pd.DataFrame(rows)]).to_csv(path, index=False)
    frame = pd.concat([done, pd.DataFrame(rows)]) if rows else done
    return frame[frame["step"] == step]


def slope(fine: dict, coarse: dict, chosen: np.ndarray) -> float:
    """Log-probability gained per bpp spent, on the ``chosen`` images."""
    bits = 8 * (np.asarray(fine["bytes"])[chosen].sum() - np.asarray(coarse["bytes"])[chosen].sum())
    gain = np.asarray(fine["logprob"])[chosen].mean() - np.asarray(coarse["logprob"])[chosen].mean()
    return gain / (bits / np.asarray(fine["pixels"])[chosen].sum())


def ratios(frame: pd.DataFrame, quality: int) -> pd.DataFrame:
    """Each band's slope over the whole table's, with a paired bootstrap interval."""
    figures = {
        row["probe"]: json.loads(row["per_image"])
        for _, row in frame[frame["quality"] == quality].iterrows()
    }
    count = len(figures["whole finer"]["bytes"])
    rng = np.random.default_rng(0)
    draws = [np.arange(count)] + [rng.integers(0, count, count) for _ in range(SAMPLES)]
    whole = np.array(
        [slope(figures["whole finer"], figures["whole coarser"], chosen) for chosen in draws]
    )
    rows = []
    for plane in TABLE_NAMES:
        for band in range(len(BANDS)):
            fine, coarse = figures[f"{plane} {band} finer"], figures[f"{plane} {band} coarser"]
            values = np.array([slope(fine, coarse, chosen) for chosen in draws]) / whole
            share = (np.sum(fine["bytes"]) - np.sum(coarse["bytes"])) / (
                np.sum(figures["whole finer"]["bytes"]) - np.sum(figures["whole coarser"]["bytes"])
            )
            rows.append(
                {
                    "quality": quality,
                    "plane": plane,
                    "band": band,
                    "bits share": share,
                    "ratio": values[0],
                    "low": np.percentile(values[1:], 2.5),
                    "high": np.percentile(values[1:], 97.5),
                }
            )
    return pd.DataFrame(rows)


def equalised(family: TableFamily, table: pd.DataFrame, step: int) -> TableFamily:
    """``family``'s bases moved half-way (in log terms) towards equal slopes: the slopes searcher's move."""
    ratios, shares = (
        table.pivot_table(index="quality", columns=["plane", "band"], values=column, dropna=False)
        .reindex(columns=pd.MultiIndex.from_product([TABLE_NAMES, range(len(BANDS))]))
        .to_numpy()
        for column in ("ratio", "bits share")
    )
    moved = shifted(family, band_moves(ratios, shares).reshape(2, len(BANDS)))
    return TableFamily(
        "equal-slope" + (f"-{step}" if step > 1 else ""),  # bases a table file can hold
        np.minimum(moved.luma, 255),
        np.minimum(moved.chroma, 255),
    )


def against_ijg(split: str, family: TableFamily, metric: str) -> str:
    """The family's quality sweep on ``split`` against the IJG curve, BD-rate in ``metric``."""
    curve = cached_frame(
        RESULTS / f"{family.name}_{split}.csv",
        lambda: sweep(evaluator("input", split), family),
    )
    return with_interval(curve_summary(curve, reference_curve("input", split), metric, "bpp"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qualities", type=int, nargs="+", default=[25, 50, 85])
    parser.add_argument("--steps", type=int, default=1, help="rounds of measuring and moving")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    scorer, family, sweeps = evaluator("input", "search"), IJG, []
    for step in range(1, args.steps + 1):
        frame = measurements(scorer, family, step, args.qualities)
        table = pd.concat([ratios(frame, q) for q in args.qualities])
        if step == 1:
            first = table
        family = equalised(family, table, step)
        base = RESULTS / f"{family.name}.txt"
        QTable(family.luma, family.chroma).save(
            base, f"IJG bases after {step} step(s) towards equal band slopes"
        )
        sweeps += [
            f"| {step} (`{base.relative_to(ROOT)}`) | {split} | {against_ijg(split, family, 'top1')} | "
            f"{against_ijg(split, family, 'logprob')} |"
            for split in ("search", "test")
        ]
    first.to_csv(RESULTS / "ratios.csv", index=False)
    rows = [
        f"| {plane} | {band} | "
        + " | ".join(
            f"{r['ratio']:.2f} [{r['low']:.2f}, {r['high']:.2f}] ({100 * r['bits share']:.0f}%)"
            for _, r in first[(first["plane"] == plane) & (first["band"] == band)].iterrows()
        )
        + " |"
        for plane in TABLE_NAMES
        for band in range(len(BANDS))
    ]
    record(
        "Band slopes: accuracy per bit, band by band, against the whole table's (input scenario, search split)",
        f"Each band's steps (zigzag bands of the bands space: {[len(b) for b in BANDS]} coefficients) made "
        f"{STEP} octave finer and coarser in the IJG bases; ratio = its d(mean log-probability)/d(bpp) over the "
        "whole table's (1: the tables spend bits there as well as anywhere; > 1: too few; < 1: too many) "
        "[95% paired bootstrap over images] (its share of the whole table's bits change).\n\n"
        "| plane | band | "
        + " | ".join(f"q{q}" for q in args.qualities)
        + " |\n|---|---|"
        + "---|" * len(args.qualities)
        + "\n"
        + "\n".join(rows)
        + "\n\nSteps towards equal slopes (each measures the slopes around the previous step's bases on the "
        "search split and moves each band by -log2(ratio)/2 octaves, ratios averaged over qualities), each "
        "swept over quality 5..95 like the IJG curve, BD-rate % vs IJG:\n\n"
        "| step | split | top-1 | log-probability |\n|---|---|---|---|\n"
        + "\n".join(sweeps)
        + f"\n\nCommand: `python benchmarks/band_slopes.py --steps {args.steps}`",
    )


if __name__ == "__main__":
    with unpacked(RESULTS), unpacked(REFERENCE):  # its own folders only: others may be running
        main()
