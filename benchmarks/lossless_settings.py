"""What lossless encoder settings add, reported apart from table gains: optimised Huffman
tables, progressive scans, and the smaller of the two per image (``smallest``), against standard Huffman
with the same tables (the decoded pixels, hence the network's answers, are identical: checked
here on every image). Then the whole encoding (the best front's tables with the best lossless
setting) against libjpeg's defaults (IJG tables, standard Huffman). Apart again: abbreviated
files (ITU T.81 B.4) that leave out the quantization tables a receiver already holds, as a
deployment with one fixed table can. Apart too: arithmetic coding (ITU T.81 Annex D;
libjpeg-turbo's ``jpegtran -arithmetic`` recodes the optimised file losslessly), which
libjpeg-turbo, hence Pillow and simplejpeg, decode but web browsers do not. Test split, input
scenario; BD-rate with a paired bootstrap 95% interval over images. Needs the search-quality reference
curve (benchmarks/search_quality.py --baselines) and the cross-fitted best front
(benchmarks/cross_fit.py --export), whose tables it scores on the test split once.

    python benchmarks/lossless_settings.py
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd

from common import ROOT, record, upstream_frame
from qsearch.codecs.codec import EncoderSettings, decode, encode
from qsearch.report.curves import rescore
from qsearch.report.pareto import bd_rate, bootstrap_bd_rate
from qsearch.tables.qtable import IJG, QTable
from search_quality import METRIC, RESULTS, evaluator

BEST_FRONT = ROOT / "benchmarks" / "results" / "best_front"
"""The cross-fitted front (``python benchmarks/cross_fit.py --export``)."""
FRONT_SCORES = RESULTS / "input" / "best_front_test_scores.csv"
"""Its tables' per-image figures on the test split (not in git: this command writes them)."""

SETTINGS = {
    "optimize": EncoderSettings(optimize=True),
    "progressive": EncoderSettings(progressive=True),
    "smallest": EncoderSettings(smallest=True),
}
JPEGTRAN = shutil.which("jpegtran")


def split_dqt(data: bytes) -> tuple[bytes, bytes]:
    """(the file without its DQT segments, the DQT segments), by walking the markers to SOS."""
    kept, tables, position = [data[:2]], [], 2
    while data[position + 1] != 0xDA:
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        (tables if data[position + 1] == 0xDB else kept).append(data[position:end])
        position = end
    kept.append(data[position:])
    return b"".join(kept), b"".join(tables)


def abbreviated_size(data: bytes) -> int:
    """Bytes of the file without its DQT; checked to decode identically once the tables are restored."""
    abbreviated, tables = split_dqt(data)
    assert np.array_equal(decode(abbreviated[:2] + tables + abbreviated[2:]), decode(data))
    return len(abbreviated)


def arithmetic_size(data: bytes) -> int:
    """Bytes of the file recoded with arithmetic coding; checked to decode identically."""
    recoded = subprocess.run(
        [JPEGTRAN, "-arithmetic"], input=data, capture_output=True, check=True
    ).stdout
    assert np.array_equal(decode(recoded), decode(data))
    return len(recoded)


def sizes(images, table: QTable) -> dict[str, np.ndarray]:
    """Per-image bytes under each setting, the ``smallest`` files abbreviated and, where
    jpegtran is installed, the optimised files recoded with arithmetic coding."""
    files = {
        name: [encode(image, table, settings) for image in images]
        for name, settings in SETTINGS.items()
    }
    result = {name: np.array([len(data) for data in group]) for name, group in files.items()}
    result["smallest, abbreviated"] = np.array(
        [abbreviated_size(data) for data in files["smallest"]]
    )
    if JPEGTRAN:
        result["arithmetic"] = np.array([arithmetic_size(data) for data in files["optimize"]])
    return result


def same_pixels(images, table: QTable) -> bool:
    return all(
        np.array_equal(decode(encode(image, table)), decode(encode(image, table, settings)))
        for image in images
        for settings in SETTINGS.values()
    )


def points(per_image: list[dict], byte_counts: list[np.ndarray] | None = None) -> list[dict]:
    """Bootstrap curve points: per-image accuracy with the recorded or the given bytes."""
    return [
        {
            "accuracy": figures[METRIC],
            "pixels": figures["pixels"],
            "bytes": figures["bytes"] if byte_counts is None else byte_counts[i].tolist(),
        }
        for i, figures in enumerate(per_image)
    ]


def compare(reference: list[dict], test: list[dict]) -> str:
    def curve(pts):
        pixels = np.sum(pts[0]["pixels"])
        return [8 * np.sum(p["bytes"]) / pixels for p in pts], [np.mean(p["accuracy"]) for p in pts]

    rate = bd_rate(*curve(reference), *curve(test))
    low, high = bootstrap_bd_rate(reference, test)
    return f"{rate:+.2f} [{low:+.1f}, {high:+.1f}]"


def main() -> None:
    scorer = evaluator("input", "test")
    images = scorer.images.images
    ijg = upstream_frame(RESULTS / "input" / "reference" / "ijg_test.csv")
    ijg_figures = [json.loads(text) for text in ijg["per_image"]]
    ijg_tables = [IJG.at(int(q)) for q in ijg["quality"]]
    checked = all(same_pixels(images, IJG.at(q)) for q in (10, 50, 90))
    ijg_sizes = [sizes(images, table) for table in ijg_tables]
    baseline = points(ijg_figures)
    rows = [
        f"| IJG tables + {name} | IJG tables, standard Huffman | "
        f"{compare(baseline, points(ijg_figures, [s[name] for s in ijg_sizes]))} |"
        for name in ijg_sizes[0]
    ]

    front = pd.read_csv(BEST_FRONT / "front.csv")
    front_tables = [QTable.load(BEST_FRONT / path) for path in front["table"]]
    scores = rescore(scorer, {t.key: t for t in front_tables}, FRONT_SCORES).set_index("key")
    front_figures = [json.loads(scores.loc[t.key, "per_image"]) for t in front_tables]
    front_sizes = [sizes(images, table) for table in front_tables]
    rows.append(
        f"| best front's tables, standard Huffman | IJG tables, standard Huffman | "
        f"{compare(baseline, points(front_figures))} |"
    )
    best = "smallest"
    same_settings = compare(
        points(ijg_figures, [s[best] for s in ijg_sizes]),
        points(front_figures, [s[best] for s in front_sizes]),
    )
    rows.append(f"| best front's tables + {best} | IJG tables + {best} | {same_settings} |")
    for name in (best, f"{best}, abbreviated", *(["arithmetic"] if JPEGTRAN else [])):
        rows.append(
            f"| **whole encoding: best front's tables + {name}** | IJG tables, standard Huffman "
            f"(libjpeg's defaults) | {compare(baseline, points(front_figures, [s[name] for s in front_sizes]))} |"
        )
    record(
        "Lossless settings and the whole encoding (input scenario, test split 400 images, 4:2:0)",
        f"Decoded pixels identical to standard Huffman for every image at IJG q10/50/90: {checked}. "
        f"Best front: the cross-fitted front of benchmarks/results/best_front ({len(front)} tables). "
        "BD-rate % of top-1 vs "
        "bpp [95% paired bootstrap interval over images]; negative is better.\n\n"
        "| encoding | against | BD-rate |\n|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nCommand: `python benchmarks/lossless_settings.py`",
    )


if __name__ == "__main__":
    main()
