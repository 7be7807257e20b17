"""Forward paths, early rejection and worker processes, with the real network and codec."""

import numpy as np
import pytest

from qsearch import QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.images import load_images
from qsearch.search.pruning import Pruner, Rejection
from qsearch.search.searcher import make_searcher
from qsearch.search.study import Study
from qsearch.search.trial import Objective
from qsearch.search.workers import process_pool, worker_name
from realdata import IMAGENET_SAMPLE, SPLITS


@pytest.fixture(scope="module")
def images():
    return load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=100)


def test_rejection_only_against_front_tables_of_no_greater_rate():
    rival = tuple([1.0] * 80 + [0.0] * 20)
    rejection = Rejection("top1", front=((1.0, 0.8, rival),))
    weak = np.array([0.0] * 60)  # wrong on the first 60 images, where the rival was right
    assert rejection.hopeless(1.5, weak, 100)
    assert not rejection.hopeless(
        0.5, weak, 100
    )  # fewer bits than the rival: it is on the front anyway


def test_paired_bound_is_tighter_than_unpaired_and_needs_evidence():
    rng = np.random.default_rng(0)
    rival = (rng.random(400) < 0.8).astype(float)
    candidate = rival.copy()
    flips = rng.choice(400, 30, replace=False)
    candidate[flips] = 0.0  # the same images right, minus 30: about 7 points worse
    paired = Rejection("top1", front=((1.0, rival.mean(), tuple(rival)),))
    assert paired.hopeless(2.0, candidate[:100], 400)
    assert not paired.hopeless(2.0, candidate[:20], 400)  # too few images to judge
    assert not paired.hopeless(2.0, rival[:100], 400)  # as good as the rival so far: keep going
    floor = Rejection("top1", front=((1.0, rival.mean(), tuple(rival)),), floor=0.5)
    assert not floor.hopeless(2.0, candidate[:100], 400)  # it can still reach the floor


@pytest.mark.imagenet
@pytest.mark.slow
@pytest.mark.parametrize("path", ["onnx", "bf16"])
def test_fast_forward_paths_stay_within_half_a_point_of_fp32(images, classifier, path):
    exact = ClassifierEvaluator(images, classifier, forward="fp32").evaluate(
        QTable.from_quality(50)
    )
    fast = ClassifierEvaluator(images, classifier, forward=path).evaluate(QTable.from_quality(50))
    assert abs(fast["top1"] - exact["top1"]) <= 0.02  # 100 images: two images at most
    assert fast["bytes"] == exact["bytes"]


@pytest.mark.imagenet
def test_auto_forward_is_checked_against_fp32(images, classifier):
    evaluator = ClassifierEvaluator(images, classifier)
    assert evaluator.classifier.forward in ("onnx", "bf16", "fp32")
    reference = ClassifierEvaluator(images, classifier, forward="fp32").reference
    assert abs(evaluator.reference["top1"] - reference["top1"]) <= 0.005


@pytest.mark.imagenet
def test_hopeless_tables_stop_early_and_good_ones_do_not(images, classifier):
    evaluator = ClassifierEvaluator(images, classifier, batch_size=25)
    perfect = tuple([1.0] * 100)  # an impossible front: every image right at 0.2 bpp
    hopeless = evaluator.evaluate(
        QTable.from_quality(10), Rejection("top1", front=((0.2, 1.0, perfect),))
    )
    assert hopeless.pruned and hopeless["images"] < 100 and hopeless["bytes"] > 0
    full = evaluator.evaluate(QTable.from_quality(10))
    assert hopeless["bpp"] == full["bpp"] and not full.pruned and full["images"] == 100
    poor = tuple([1.0] * 30 + [0.0] * 70)
    promising = evaluator.evaluate(
        QTable.from_quality(90), Rejection("top1", front=((0.2, 0.3, poor),))
    )
    assert not promising.pruned and promising["images"] == 100


@pytest.mark.imagenet
def test_pruned_trials_are_recorded_but_never_on_the_front(images, classifier, tmp_path):
    evaluator = ClassifierEvaluator(images, classifier)
    wasteful = QTable(np.full(64, 200), np.ones(64))  # many chroma bits, almost no luma detail
    study = Study(
        evaluator, make_searcher("random"), Objective(metric="top1"), tmp_path, pruner=Pruner()
    )
    (good,) = study.evaluate_batch([QTable.from_quality(50)])
    (bad,) = study.evaluate_batch([wasteful])
    study.close()
    assert good.state == "complete" and good.metrics["images"] == 100
    assert (
        bad.state == "pruned"
        and bad.metrics["images"] < 100
        and bad.metrics["bpp"] > good.metrics["bpp"]
    )
    assert study.front() == [good]
    resumed = Study(
        evaluator, make_searcher("random"), Objective(metric="top1"), tmp_path, pruner=Pruner()
    )
    assert [t.state for t in resumed.trials] == ["complete", "pruned"]


@pytest.mark.imagenet
def test_the_ijg_curve_as_rivals_prunes_from_the_first_table(images, classifier, tmp_path):
    from qsearch.report.curves import rival_points, sweep

    evaluator = ClassifierEvaluator(images, classifier)
    rivals = rival_points(sweep(evaluator, qualities=(30, 60, 90)), "top1", "bpp")
    assert [point[0] for point in rivals] == sorted(point[0] for point in rivals) and len(
        rivals[0][2]
    ) == 100
    study = Study(
        evaluator,
        make_searcher("random"),
        Objective(metric="top1"),
        tmp_path,
        pruner=Pruner(),
    )
    (wasteful,) = study.evaluate_batch([QTable(np.full(64, 200), np.ones(64))], rivals=rivals)
    (standard,) = study.evaluate_batch([QTable.from_quality(75)], rivals=rivals)
    study.close()
    assert (
        wasteful.state == "pruned" and wasteful.metrics["images"] < 100
    )  # pruned with no front of its own yet
    assert standard.state == "complete" and standard.metrics["images"] == 100


def fidelity_factory():
    """The picklable evaluator factory the CLI hands to worker processes."""
    from qsearch.cli import build_parser
    from qsearch.cli.build import evaluator_factory

    return evaluator_factory(
        build_parser().parse_args(["run", "--evaluator", "fidelity", "--limit", "6"])
    )


@pytest.mark.slow
def test_worker_processes_give_the_same_trials_as_one_process():
    objective = Objective(metric="psnr", floor=30.0, relative=False)
    factory = fidelity_factory()
    serial = Study(factory(), make_searcher("ga", pop_size=6), objective, seed=4)
    serial.optimize(budget=18)
    with process_pool(factory, 2) as pool:
        parallel = Study(factory(), make_searcher("ga", pop_size=6), objective, seed=4, pool=pool)
        parallel.optimize(budget=18)
    assert [t.qtable.key for t in parallel.trials] == [t.qtable.key for t in serial.trials]
    assert [t.metrics["psnr"] for t in parallel.trials] == [
        t.metrics["psnr"] for t in serial.trials
    ]
    workers = {t.worker for t in parallel.trials}
    assert worker_name() not in workers and 1 <= len(workers) <= 2


def test_sequential_searchers_ask_for_one_table_per_worker():
    factory = fidelity_factory()
    objective = Objective(metric="psnr", floor=30.0, relative=False)
    with process_pool(factory, 2) as pool:
        study = Study(factory(), make_searcher("bayes"), objective, seed=1, pool=pool)
        asked = []
        original = study.searcher.ask
        study.searcher.ask = lambda n: asked.append(n) or original(n)
        study.optimize(budget=6)
    assert pool.size == 2 and set(asked) == {2} and len(study.trials) == 6
