"""Operating points: the table named for a target is chosen on the searched images, its figures
are its own on the judged images, and the envelope crossing is a separate, named figure."""

import numpy as np
import pandas as pd
import pytest

from qsearch.report.operating import Curve, ImageSide, describe, operating_points
from qsearch.search.metrics import operating_target, share_of_uncompressed

PIXELS = 100 * 100
IMAGES = 400


def curve(points: list[tuple[float, np.ndarray]], names: list[str] | None = None) -> Curve:
    """A curve of (bpp, per-image top-1) points on IMAGES images of PIXELS pixels each."""
    figures = [
        {
            "top1": list(map(float, acc)),
            "bytes": [bpp * PIXELS / 8] * IMAGES,
            "pixels": [PIXELS] * IMAGES,
        }
        for bpp, acc in points
    ]
    frame = pd.DataFrame(
        {"bpp": [p[0] for p in points], "top1": [float(np.mean(p[1])) for p in points]}
    )
    if names is not None:
        frame = frame.assign(
            key=names, table=[f"tables/{n}.txt" for n in names], number=range(len(names))
        )
    return Curve(frame, figures)


def ones(share: float, seed: int = 0) -> np.ndarray:
    """Per-image top-1 (0 or 1) with exactly ``share`` of the images right, shuffled."""
    values = np.zeros(IMAGES)
    values[: round(share * IMAGES)] = 1
    return np.random.default_rng(seed).permutation(values)


IJG = curve([(0.5, ones(0.6)), (1.0, ones(0.75)), (2.0, ones(0.84)), (4.0, ones(0.88))])
UNCOMPRESSED = {"top1": 0.9}


def side(front: Curve, per_image=None) -> ImageSide:
    return ImageSide(front, IJG, UNCOMPRESSED, per_image)


def test_share_of_uncompressed_inverts_the_operating_target():
    for metric, uncompressed in (("top1", 0.9), ("logprob", -0.7), ("kl", 0.0), ("psnr", 40.0)):
        for fraction in (0.9, 0.98):
            target = operating_target(metric, uncompressed, fraction)
            assert share_of_uncompressed(metric, target, uncompressed) == pytest.approx(fraction)


def test_a_uniform_saving_is_the_named_tables_own_and_the_crossings():
    front = curve(
        [(0.8 * b, ones(a)) for b, a in zip([0.5, 1, 2, 4], [0.6, 0.75, 0.84, 0.88])], list("abcd")
    )
    points = {
        p["fraction"]: p for p in operating_points("top1", side(front), side(front), "search")
    }
    at95 = points[0.95]  # target 0.855: table d (0.88) is the first reaching it
    assert at95["table"]["file"] == "tables/d.txt" and at95["table"]["bpp"] == pytest.approx(3.2)
    assert at95["table"]["bits_vs_ijg_percent"] == pytest.approx(-20.0)
    assert at95["front_crossing_bits_vs_ijg_percent"] == pytest.approx(-20.0)
    assert at95["table"]["share"] == pytest.approx(0.88 / 0.9, abs=1e-4)
    assert points[0.99]["table"] is None  # 0.891 is beyond every table


def test_the_saving_beside_a_table_is_that_tables_not_the_envelopes():
    """A table well above the target: its own saving (at its own accuracy) is not the
    envelope's interpolated crossing of the target, and both are reported under their names."""
    front = curve([(0.4, ones(0.6)), (3.0, ones(0.88))], ["cheap", "rich"])
    (point,) = operating_points("top1", side(front), side(front), "search", fractions=(0.95,))
    assert point["table"]["file"] == "tables/rich.txt"
    assert point["table"]["bits_vs_ijg_percent"] == pytest.approx(-25.0)  # IJG needs 4.0 at 0.88
    assert point["front_crossing_bits_vs_ijg_percent"] == pytest.approx(-3.4, abs=0.1)
    line = describe(point)
    assert (
        "rich.txt" in line and "-25.0% bits vs IJG at its own top1" in line and "-3.4" not in line
    )


def test_the_table_is_chosen_on_the_searched_images_and_judged_on_the_held_out_ones():
    """On the held-out images the cheaper table happens to reach the target; the table named is
    still the one that reached it on the searched images, with its held-out figures."""
    searched = curve([(1.0, ones(0.80)), (2.5, ones(0.87))], ["lucky", "steady"])
    held_out = curve([(1.0, ones(0.86)), (2.5, ones(0.85))], ["lucky", "steady"])
    (point,) = operating_points("top1", side(searched), side(held_out), "test", fractions=(0.95,))
    table = point["table"]
    assert table["file"] == "tables/steady.txt" and point["judged_on"] == "test"
    assert table["searched_top1"] == pytest.approx(0.87) and table["top1"] == pytest.approx(0.85)
    assert (
        table["share"] == pytest.approx(0.85 / 0.9, abs=1e-4) and table["reaches_target"] is False
    )
    assert table["share_ci95_low"] < table["share"] < table["share_ci95_high"]


def test_the_confident_table_reaches_the_target_by_its_lower_bound():
    """Just above the target on the searched images is not enough for the confident choice."""
    reference = {"top1": list(ones(0.9, seed=1))}
    front = curve(
        [(1.0, ones(0.86)), (2.0, ones(0.90)), (3.0, ones(0.92))], ["edge", "sure", "rich"]
    )
    (point,) = operating_points(
        "top1", side(front, reference), side(front, reference), "search", fractions=(0.95,)
    )
    assert point["table"]["file"] == "tables/edge.txt"  # 0.86 >= 0.855, by a hair
    assert point["confident_table"]["file"] == "tables/sure.txt"
