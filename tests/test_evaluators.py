"""The evaluators against an independent implementation of the same pipeline."""

import io

import pytest
import torch
from PIL import Image
from torchvision import transforms

from qsearch import EncoderSettings, QTable
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.evaluators.fidelity import FidelityEvaluator
from qsearch.images import load_images
from qsearch.testing import EvaluatorSuite, photographs_evaluator
from realdata import IMAGENET_SAMPLE, SPLITS, photos, split_names

COUNT = 60


@pytest.fixture(scope="module")
def test_images():
    return load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="test", limit=COUNT)


@pytest.fixture(scope="module")
def evaluator(test_images, classifier):
    return ClassifierEvaluator(test_images, classifier, batch_size=25)


def independent_top1_and_bpp(classifier, quality: int):
    """Pillow resize/crop via torchvision, Pillow's own quality=Q encoder and decoder."""
    crop = transforms.Compose(
        [transforms.Resize(256, transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(224)]
    )
    normalise = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)]
    )
    correct, total_bytes = 0, 0
    from qsearch.images import imagenet_synsets

    for name in split_names("test", COUNT):
        buffer = io.BytesIO()
        crop(Image.open(IMAGENET_SAMPLE / name).convert("RGB")).save(
            buffer, "JPEG", quality=quality
        )
        total_bytes += buffer.tell()
        x = normalise(Image.open(buffer).convert("RGB"))[None]
        with torch.no_grad():
            predicted = classifier.module(x).argmax(1).item()
        correct += predicted == imagenet_synsets().index(name.split("_")[0])
    return correct / COUNT, 8 * total_bytes / (COUNT * 224 * 224)


@pytest.mark.imagenet
def test_matches_an_independent_pipeline(evaluator, classifier):
    metrics = evaluator.evaluate(QTable.from_quality(50))
    top1, bpp = independent_top1_and_bpp(classifier, 50)
    assert abs(metrics["top1"] - top1) <= 0.01
    assert abs(metrics["bpp"] - bpp) / bpp <= 0.02
    assert metrics["images"] == COUNT and metrics["bytes"] * 8 / (
        COUNT * 224 * 224
    ) == pytest.approx(metrics["bpp"])


@pytest.mark.imagenet
def test_coarser_tables_cost_accuracy_and_save_bits(evaluator):
    coarse, fine = (
        evaluator.evaluate(QTable.from_quality(5)),
        evaluator.evaluate(QTable.from_quality(90)),
    )
    assert coarse["bpp"] < fine["bpp"]
    assert coarse["kl"] > fine["kl"] and coarse["logprob"] < fine["logprob"]
    assert coarse["agreement"] < fine["agreement"] <= 1.0
    assert evaluator.reference["agreement"] == 1.0 and evaluator.reference["kl"] == pytest.approx(
        0, abs=1e-6
    )
    assert fine["ratio"] == pytest.approx(3 * COUNT * 224 * 224 / fine["bytes"])


@pytest.mark.imagenet
def test_results_are_deterministic(evaluator):
    table = QTable.from_quality(35)
    first, second = dict(evaluator.evaluate(table)), dict(evaluator.evaluate(table))
    for timing in ("seconds", "encode_ms_per_image"):
        first.pop(timing), second.pop(timing)
    assert first == second


@pytest.mark.imagenet
def test_source_mode_counts_stored_pixels_and_source_bytes(classifier):
    images = load_images(
        IMAGENET_SAMPLE, split_file=SPLITS, split="test", limit=6, compress_at="source"
    )
    metrics = ClassifierEvaluator(images, classifier).evaluate(QTable.from_quality(50))
    stored_pixels = sum(
        Image.open(IMAGENET_SAMPLE / name).size[0] * Image.open(IMAGENET_SAMPLE / name).size[1]
        for name in images.names
    )
    assert metrics["bpp"] == pytest.approx(8 * metrics["bytes"] / stored_pixels)
    assert metrics["source_ratio"] == pytest.approx(images.source_bytes.sum() / metrics["bytes"])


@pytest.mark.imagenet
def test_fidelity_evaluator_rises_with_quality(test_images):
    evaluator = FidelityEvaluator(test_images.subset(range(8)), EncoderSettings("4:4:4"))
    low, high = (
        evaluator.evaluate(QTable.from_quality(10)),
        evaluator.evaluate(QTable.from_quality(90)),
    )
    assert low["psnr"] < high["psnr"] and low["ssim"] < high["ssim"] <= 1.0
    assert low["bpp"] < high["bpp"]


def test_encoding_in_processes_gives_identical_files_and_figures(classifier):
    """The many-core path (encode and decode in worker processes over shared memory) changes
    nothing but the speed."""
    from realdata import photos

    images = load_images(photos(6), preprocessing=classifier.preprocessing)
    on_threads = ClassifierEvaluator(
        images, classifier, forward="fp32", encoder_processes=0, batch_size=4
    )
    in_processes = ClassifierEvaluator(
        images, classifier, forward="fp32", encoder_processes=2, batch_size=4
    )
    table = QTable.from_quality(40)
    assert in_processes.encode_all(table) == on_threads.encode_all(table)
    threads, processes = (
        on_threads.evaluate(table, per_image=True),
        in_processes.evaluate(table, per_image=True),
    )
    assert processes.per_image == threads.per_image
    in_processes.close()


class TestTheFidelityEvaluatorPassesTheSuite(EvaluatorSuite):
    @pytest.fixture
    def evaluator(self):
        return photographs_evaluator()


class TestTheClassifierEvaluatorPassesTheSuite(EvaluatorSuite):
    @pytest.fixture
    def evaluator(self, classifier):
        return ClassifierEvaluator(
            load_images(photos(6), preprocessing=classifier.preprocessing), classifier
        )
