"""One conformance suite, run against every registered searcher with the real fidelity evaluator."""
import numpy as np
import pytest

from qsearch.evaluators import FidelityEvaluator
from qsearch.images import load_images
from qsearch.searchers import SEARCHERS, make_searcher
from qsearch.study import Study
from qsearch.trial import Objective

from realdata import IMAGENET_SAMPLE, SPLITS

NAMES = [name for name, _ in SEARCHERS.items()]
OBJECTIVE = Objective(metric="psnr", floor=30.0, relative=False)


@pytest.fixture(scope="module")
def network(classifier):
    """What gradient-based searchers learn from: the real network and 8 real images."""
    return {"classifier": classifier, "images": load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=8)}


@pytest.fixture
def options(request, network):
    def for_searcher(name):
        if name in ("ga", "de", "nsga2"):
            return {"pop_size": 6}
        if SEARCHERS[name].needs_model:
            return {**network, "batch": 4, **({"steps": 1} if name == "gradient" else {"images_used": 8})}
        return {}
    return for_searcher


@pytest.fixture(scope="module")
def evaluator():
    images = load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=3)
    return FidelityEvaluator(images)


def run(evaluator, options, name, budget, seed=3, directory=None):
    study = Study(evaluator, make_searcher(name, seed=seed, **options(name)), OBJECTIVE, directory)
    study.optimize(budget)
    study.close()
    return study


def keys(study):
    return [t.qtable.key for t in study.trials]


def test_every_searcher_is_registered():
    assert set(NAMES) >= {"random", "sorted", "quality", "mcmc", "ga", "de", "bayes", "nsga2", "slopes",
                          "gradient", "sensitivity"}


@pytest.mark.parametrize("name", NAMES)
def test_proposals_are_valid_tables_inside_the_space(name, options):
    searcher = make_searcher(name, seed=0, **options(name))
    tables = searcher.ask(5)
    assert 1 <= len(tables) <= 5
    for table in tables:
        assert searcher.space.contains(table)
        assert table.to_vector().dtype.kind == "i"


@pytest.mark.parametrize("name", NAMES)
def test_seeded_runs_are_reproducible_and_distinct(evaluator, options, name):
    first, second = run(evaluator, options, name, 14), run(evaluator, options, name, 14)
    assert keys(first) == keys(second)
    assert len(set(keys(first))) == 14  # repeated tables are never counted twice


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trips(evaluator, options, name):
    searcher = run(evaluator, options, name, 9).searcher
    clone = make_searcher(name, seed=99, **options(name))
    clone.load_state_dict(searcher.state_dict())
    assert [t.key for t in clone.ask(4)] == [t.key for t in searcher.ask(4)]


@pytest.mark.parametrize("name", NAMES)
def test_resumed_run_equals_uninterrupted(evaluator, options, name, tmp_path):
    uninterrupted = run(evaluator, options, name, 16)
    run(evaluator, options, name, 7, directory=tmp_path)
    resumed = run(evaluator, options, name, 16, directory=tmp_path)
    assert keys(resumed) == keys(uninterrupted)
    assert [t.number for t in resumed.trials] == list(range(16))


@pytest.mark.parametrize("name", NAMES)
def test_multi_objective_capability_is_as_declared(evaluator, options, name):
    searcher = make_searcher(name, seed=0, **options(name))
    assert searcher.multi_objective == (name in ("nsga2", "slopes"))
    if hasattr(searcher, "algorithm"):
        run_study = Study(evaluator, searcher, OBJECTIVE)
        run_study.optimize(18)
        assert searcher.algorithm.pop.get("F").shape[1] == (2 if searcher.multi_objective else 1)


def test_single_objective_searchers_improve_on_their_start(evaluator, options):
    for name in ("mcmc", "ga", "bayes"):
        study = run(evaluator, options, name, 30)
        values = [t.value for t in study.trials]
        assert min(values[10:]) <= min(values[:5]), name


def test_unknown_searcher_is_a_clear_error():
    from qsearch import QSearchError

    with pytest.raises(QSearchError, match="unknown searcher 'anneal'; choose from"):
        make_searcher("anneal")


def test_band_moves_halve_the_log_ratio_weighted_by_bits_moved():
    from qsearch.searchers.slopes import band_moves

    ratios = np.array([[2.0, 0.5, 4.0, np.nan], [8.0, 0.5, 100.0, 3.0]])
    shares = np.array([[0.3, 0.2, 0.1, 0.0], [0.1, 0.2, 0.0, 0.0]])
    moves = band_moves(ratios, shares)
    assert moves[0] == pytest.approx(-0.5 * np.log2((2.0 * 0.3 + 8.0 * 0.1) / 0.4))  # finer: too few bits
    assert moves[1] == pytest.approx(0.5)  # coarser: too many bits
    assert moves[2] == pytest.approx(-1.0)  # a band that moved no bits at an anchor is not read there
    assert moves[3] == 0.0


def test_slopes_flatten_the_tables_for_psnr(evaluator):
    """Under mean squared error every coefficient buys the same per bit at equal steps, so one
    round of equal-slope descent must make the IJG luma table (steps 10..121) flatter."""
    searcher = make_searcher("slopes", seed=0)
    Study(evaluator, searcher, OBJECTIVE).optimize(searcher.batch_size)
    start, moved = searcher.space.to_qtable(np.zeros(searcher.space.dim)), searcher.space.to_qtable(searcher.center)
    assert moved.luma.max() / moved.luma.min() < 0.7 * start.luma.max() / start.luma.min()
    assert moved.luma[0, 0] > start.luma[0, 0] and moved.luma[7, 7] < start.luma[7, 7]


def test_slopes_need_the_bands_space():
    from qsearch import QSearchError

    with pytest.raises(QSearchError, match="needs the bands space"):
        make_searcher("slopes", space="full")
