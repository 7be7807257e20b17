"""Relative floors mean what the reports' operating points mean, for every kind of metric."""

import math

import pytest

from qsearch.search.metrics import operating_target
from qsearch.search.trial import Objective

REFERENCE = {"top1": 0.88, "logprob": -0.52, "kl": 0.0, "bpp": 24.0}


@pytest.mark.parametrize("metric", ["top1", "logprob", "kl"])
def test_the_uncompressed_figures_meet_their_own_relative_floor(metric):
    objective = Objective(metric=metric, floor=0.95)
    assert objective.scalar({**REFERENCE, "bpp": 1.0}, REFERENCE) == 1.0


@pytest.mark.parametrize(
    ("metric", "inside", "outside"),
    [
        ("top1", 0.8361, 0.8359),  # 0.95 x 0.88 = 0.836
        ("logprob", -0.52 + math.log(0.95) + 1e-4, -0.52 + math.log(0.95) - 1e-4),
        ("kl", -math.log(0.95) - 1e-4, -math.log(0.95) + 1e-4),
    ],
)
def test_a_table_just_past_the_floor_is_penalised_and_one_just_inside_is_not(
    metric, inside, outside
):
    objective = Objective(metric=metric, floor=0.95)
    assert objective.scalar({metric: inside, "bpp": 1.0}, REFERENCE) == 1.0
    assert objective.scalar({metric: outside, "bpp": 1.0}, REFERENCE) > 1.0


def test_a_log_probability_floor_lies_below_the_uncompressed_value():
    """0.95 x a negative log-probability would lie above it: a floor no table could reach."""
    floor = Objective(metric="logprob", floor=0.95).absolute_floor(REFERENCE)
    assert floor < REFERENCE["logprob"]
    assert math.exp(floor - REFERENCE["logprob"]) == pytest.approx(0.95)


def test_the_floor_and_the_reports_share_one_target():
    """90% of top-1 is 0.9 x 0.88; 90% of the likelihood is log-probability -0.52 + ln 0.9."""
    expected = {"top1": 0.9 * 0.88, "logprob": -0.52 + math.log(0.9)}
    for metric, value in expected.items():
        assert Objective(metric=metric, floor=0.9).absolute_floor(REFERENCE) == pytest.approx(value)
        assert operating_target(metric, REFERENCE[metric], 0.9) == pytest.approx(value)
