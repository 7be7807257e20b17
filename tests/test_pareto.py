import numpy as np
import pytest

from qsearch.report.pareto import bd_rate, bootstrap_bd_rate, hypervolume, upper_envelope
from qsearch.search.front import non_dominated


def test_non_dominated_keeps_only_points_nothing_beats():
    bpp, accuracy = [1.0, 2.0, 1.5, 0.5, 2.0], [0.5, 0.8, 0.4, 0.3, 0.7]
    assert non_dominated(bpp, accuracy).tolist() == [0, 1, 3]


def test_hypervolume_of_a_single_point_is_its_box():
    assert hypervolume([1.0], [0.5]) == pytest.approx(0.75 * 0.5)
    assert hypervolume([5.0], [0.9]) == 0.0  # beyond the reference point


def test_bd_rate_of_a_uniformly_cheaper_curve():
    bpp, accuracy = np.array([0.5, 1.0, 2.0, 4.0]), np.array([0.6, 0.7, 0.8, 0.85])
    assert bd_rate(bpp, accuracy, 0.9 * bpp, accuracy) == pytest.approx(-10.0)
    assert bd_rate(bpp, accuracy, bpp, accuracy) == pytest.approx(0.0)
    assert np.isnan(bd_rate(bpp, accuracy, bpp, accuracy - 1))  # no common accuracy range


def test_envelope_drops_points_that_do_not_raise_accuracy():
    bpp, accuracy = upper_envelope(np.array([1.0, 2.0, 3.0]), np.array([0.7, 0.6, 0.8]))
    assert bpp.tolist() == [1.0, 3.0] and accuracy.tolist() == [0.7, 0.8]


def curve(rng, scale, images=300):
    """Points of a quality-like sweep: accuracy rising with bytes, per image."""
    points = []
    base = rng.uniform(2000, 6000, images)
    skill = rng.uniform(0, 1, images)
    for level in (0.5, 1.0, 2.0, 4.0):
        accuracy = (skill < 0.4 + 0.1 * level).astype(float)
        points.append(
            {"accuracy": accuracy, "bytes": scale * base * level, "pixels": np.full(images, 50176)}
        )
    return points


def test_bootstrap_interval_is_paired_and_tight_for_a_uniform_gain():
    reference = curve(np.random.default_rng(0), 1.0)
    cheaper = [{**point, "bytes": 0.9 * point["bytes"]} for point in reference]
    low, high = bootstrap_bd_rate(reference, cheaper, samples=200)
    assert -10.5 < low <= high < -9.5  # paired: the same images, so no spread beyond rounding
    low, high = bootstrap_bd_rate(reference, reference, samples=200)
    assert low <= 0 <= high
