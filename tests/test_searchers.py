"""One conformance suite, run against every registered searcher with real evaluators on real
photographs (the ones scikit-image ships, so it runs in every clone): the fidelity evaluator,
or for searchers that learn from a network, the classifier evaluator."""

import numpy as np
import pytest

from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.search.searcher import SEARCHERS, make_searcher
from qsearch.search.space import SPACES
from qsearch.search.study import Study
from qsearch.search.trial import Objective
from qsearch.testing import PSNR, SearcherSetting, SearcherSuite, photographs_evaluator
from realdata import BUILT_IN_SEARCHERS, photos

NAMES = [name for name, _ in SEARCHERS.items()]
PSNR_TARGETS = {
    "targets": (36.0, 31.0),
    "metric": "psnr",
    "signal": "psnr",
    "relative": False,
    "families": ("ijg", "mozjpeg-3"),
    "qualities": (30, 60, 90),
}
"""The targets searcher on the fidelity evaluator: absolute PSNR targets, a short sweep."""
SIMILARITY = Objective(metric="similarity", floor=0.9)


@pytest.fixture(scope="module")
def fidelity():
    return photographs_evaluator()


@pytest.fixture(scope="module")
def network(classifier):
    """What gradient-based searchers learn from: the real network and 8 real photographs."""
    return ClassifierEvaluator(
        load_images(photos(8), preprocessing=classifier.preprocessing), classifier
    )


@pytest.fixture
def setting(network):
    """name -> the suite's setting for a built-in searcher: small options, the network where it
    learns from one, else the fidelity evaluator on three photographs."""

    def for_searcher(name):
        options = {"pop_size": 6} if name in ("ga", "de", "nsga2") else {}
        if name == "targets":
            options = PSNR_TARGETS
        if SEARCHERS[name].needs_network:
            options = {"batch": 4, **({"steps": 1} if name == "gradient" else {"images_used": 8})}
            return SearcherSetting(lambda: make_searcher(name, **options), network, SIMILARITY)
        return SearcherSetting(lambda: make_searcher(name, **options), photographs_evaluator())

    return for_searcher


class TestEveryRegisteredSearcher(SearcherSuite):
    """The plugin authors' suite (qsearch.testing), on every searcher qsearch registers."""

    @pytest.fixture(params=NAMES)
    def searcher_setting(self, request, setting):
        return setting(request.param)


run, bound = SearcherSuite.run, SearcherSuite.bound


def test_every_searcher_is_registered():
    assert set(NAMES) >= set(BUILT_IN_SEARCHERS)


@pytest.mark.parametrize("name", NAMES)
def test_multi_objective_capability_is_as_declared(setting, name):
    searcher = bound(setting(name), 0)
    assert searcher.multi_objective == (name in ("nsga2", "slopes", "targets"))
    if hasattr(searcher, "algorithm"):
        chosen = setting(name)
        run_study = Study(chosen.evaluator, chosen.make(), chosen.objective)
        run_study.optimize(18)
        assert run_study.searcher.algorithm.pop.get("F").shape[1] == (
            2 if searcher.multi_objective else 1
        )


def test_single_objective_searchers_beat_random_tables_and_their_own_start(setting):
    """Each learns: its best of 30 is better than its first five and than the best of 30
    uniform random tables of the same space (a random stub fails one or the other)."""
    random_best = min(t.value for t in run(setting("random"), 30).trials)
    for name in ("mcmc", "ga", "bayes"):
        values = [t.value for t in run(setting(name), 30).trials]
        assert min(values[10:]) < min(values[:5]), name
        assert min(values) < random_best, name


def test_unknown_searcher_and_option_are_clear_errors():
    from qsearch import QSearchError

    with pytest.raises(QSearchError, match="unknown searcher 'anneal'; choose from"):
        make_searcher("anneal")
    with pytest.raises(
        QSearchError, match="searcher ga has no option 'popsize' \\(options: pop_size, seed_ijg\\)"
    ):
        make_searcher("ga", popsize=4)
    with pytest.raises(QSearchError, match="option pop_size=0 must be at least 4"):
        make_searcher("nsga2", pop_size=0)


def test_band_moves_halve_the_log_ratio_weighted_by_bits_moved():
    from qsearch.searchers.slopes import band_moves

    ratios = np.array([[2.0, 0.5, 4.0, np.nan], [8.0, 0.5, 100.0, 3.0]])
    shares = np.array([[0.3, 0.2, 0.1, 0.0], [0.1, 0.2, 0.0, 0.0]])
    moves = band_moves(ratios, shares)
    assert moves[0] == pytest.approx(
        -0.5 * np.log2((2.0 * 0.3 + 8.0 * 0.1) / 0.4)
    )  # finer: too few bits
    assert moves[1] == pytest.approx(0.5)  # coarser: too many bits
    assert moves[2] == pytest.approx(
        -1.0
    )  # a band that moved no bits at an anchor is not read there
    assert moves[3] == 0.0


def test_slopes_flatten_the_tables_for_psnr(fidelity):
    """Under mean squared error every coefficient buys the same per bit at equal steps, so one
    round of equal-slope descent must make the IJG luma table (steps 10..121) flatter."""
    study = Study(fidelity, make_searcher("slopes"), PSNR)
    searcher = study.searcher
    study.optimize(searcher.batch_size)
    start, moved = (
        searcher.space.to_qtable(np.zeros(searcher.space.dim)),
        searcher.space.to_qtable(searcher.center),
    )
    assert moved.luma.max() / moved.luma.min() < 0.7 * start.luma.max() / start.luma.min()
    assert moved.luma[0, 0] > start.luma[0, 0] and moved.luma[7, 7] < start.luma[7, 7]


def test_slopes_need_the_bands_space(fidelity):
    from qsearch import QSearchError

    with pytest.raises(QSearchError, match="needs the bands space"):
        Study(fidelity, make_searcher("slopes"), PSNR, space="full")


def test_reach_interpolates_where_the_running_best_first_meets_the_target():
    from qsearch.searchers.targets import reach

    qualities, rates = [90, 50, 70], [4.0, 1.0, 2.0]
    values = [0.9, 0.5, 0.45]  # noisy: 70 scored below 50; the running best is 0.5, 0.5, 0.9
    quality, rate = reach(qualities, rates, values, 0.7)
    assert quality == pytest.approx(80.0)  # halfway from 0.5 (q70) to 0.9 (q90)
    assert rate == pytest.approx(np.sqrt(2.0 * 4.0))  # halfway in log-rate
    assert reach(qualities, rates, values, 0.3) == (50.0, 1.0)
    assert reach(qualities, rates, values, 0.95) is None


def test_equal_slope_step_moves_bands_by_their_slope_and_holds_the_target():
    from qsearch.searchers.targets import LEVELS_PER_OCTAVE, equal_slope_step

    # rows: band 0 (buys 4x the whole table's signal per bit), band 1 (1/4), band 2 (as much),
    # band 3 (moves no bits), the whole table last (0.1 signal per bit); (rate, signal)
    finer = np.array([[1.3, 0.12], [1.3, 0.0075], [1.3, 0.03], [1.0, 0.5], [3.0, 0.2]])
    coarser = np.array([[0.7, -0.12], [0.7, -0.0075], [0.7, -0.03], [1.0, -0.5], [0.0, -0.1]])
    on_target = equal_slope_step((1.0, 0.0), finer, coarser, target=0.0, probe=4, damping=0.5)
    share = 0.6 / 3.0  # of the whole table's bits, so log2(4) = 2 is shrunk by 0.2 / 0.25
    band_move = np.rint(-0.5 * 2.0 * share / (share + 0.05) * LEVELS_PER_OCTAVE)
    shift = on_target[2]  # a balanced band moves only with the whole table
    assert on_target[3] == shift  # so does a band whose probe moved no bits
    assert on_target[0] - shift == band_move < 0  # finer: it buys more per bit
    assert on_target[1] - shift == -band_move  # coarser, as far
    assert shift > 0  # band 0 gains more than band 1 loses: the rest gives it back
    # a centre below its target by 4 levels of the whole table (0.3 over 8 levels)
    below = equal_slope_step((1.0, -0.15), finer, coarser, target=0.0, probe=4, damping=0.5)
    assert np.array_equal(below - on_target, np.full(4, -4))


def test_targets_land_near_their_targets_with_flatter_tables(fidelity):
    """PSNR is mean squared error: at equal bits it is best served by equal steps, so rounds of
    equal-slope moves must flatten the IJG-shaped start, and the whole-table shift must keep each
    table near its PSNR target."""
    from qsearch.searchers.targets import TargetSearcher

    searcher = make_searcher("targets", **PSNR_TARGETS)
    study = Study(fidelity, searcher, PSNR)
    sweep = len(searcher.families) * len(searcher.qualities)
    study.optimize(sweep + 3 * searcher.batch_size + len(searcher.targets))
    assert isinstance(searcher, TargetSearcher)
    for t, target in enumerate(searcher.targets):
        start, moved = searcher.table(t, np.zeros_like(searcher.levels[t])), searcher.table(t)
        assert moved.luma.max() / moved.luma.min() < 0.8 * start.luma.max() / start.luma.min()
        reached = next(s for s in reversed(study.trials) if s.qtable == moved)
        assert abs(reached.metrics["psnr"] - target) < 1.0, (target, reached.metrics["psnr"])


def test_targets_refuse_relative_targets_without_an_uncompressed_reference(fidelity):
    from qsearch import QSearchError

    with pytest.raises(QSearchError, match="relative targets need the uncompressed psnr"):
        Study(fidelity, make_searcher("targets", metric="psnr", signal="psnr"), PSNR)
    with pytest.raises(
        QSearchError,
        match=r"option signal='similarity' is not reported by the evaluator \(psnr, ssim\)",
    ):
        Study(
            fidelity,
            make_searcher(
                "targets", metric="psnr", signal="similarity", relative=False, targets=[30]
            ),
            PSNR,
        )


def test_targets_read_similarity_where_there_are_no_labels(network):
    """Photographs without labels: targets at shares of the uncompressed similarity (1.0)."""
    searcher = make_searcher("targets").setup(SPACES["full"](), network, 0)
    assert (searcher._metric, searcher._signal) == ("similarity", "similarity")
    assert searcher._goals == pytest.approx([0.99, 0.98, 0.95, 0.9])


def test_targets_start_from_the_family_cheapest_at_the_signal_level_the_families_agree_on(network):
    """Two families swept at three qualities, (rate, top-1, log-probability) each: the top-1
    target 0.8 is reached at log-probability -1.0 by one family and -0.8 by the other (median
    -0.9); the start is the family reaching -0.9 with fewer bits, at the quality where it does."""
    searcher = make_searcher(
        "targets", targets=[0.8], relative=False, metric="agreement", signal="similarity",
        families=["ijg", "mozjpeg-3"], qualities=[50, 70, 90],
    )  # fmt: skip
    searcher.setup(SPACES["full"](), network, 0)
    sweep = np.array(
        [
            [[1.0, 0.6, -1.2], [2.0, 0.8, -1.0], [4.0, 0.9, -0.6]],  # reaches 0.8 at -1.0
            [[1.5, 0.7, -1.0], [2.5, 0.9, -0.8], [3.0, 0.95, -0.7]],  # at -0.9 (halfway, 0.75)
        ]
    )
    searcher._start(sweep)
    assert searcher.signal_targets[0] == pytest.approx(-0.95)  # median of -1.0 and -0.9
    # -0.95 is reached by family 0 at q70 + 0.125 x 20 (2.0 -> 4.0 bpp: 2.19) and by family 1
    # at q50 + 0.25 x 20 (1.5 -> 2.5 bpp: 1.70): family 1 (mozjpeg-3) at quality 55
    start = searcher.table(0, np.zeros_like(searcher.levels[0]))
    from qsearch.tables.families import mozjpeg

    assert start == mozjpeg(3).at(55)
