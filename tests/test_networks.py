"""Several networks judging one table: EfficientNet-Lite0 and Lite1 (each with its own input
size) on real photographs, against each network judged alone."""

import numpy as np
import pytest

from qsearch import QSearchError
from qsearch.cli import main
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.evaluators.networks import NetworksEvaluator
from qsearch.images import load_images
from qsearch.models import load_classifier
from qsearch.tables.qtable import QTable
from realdata import photos

METRICS = ("agreement", "similarity", "kl")


@pytest.fixture(scope="module")
def members():
    found = {}
    for name in ("efficientnet_lite0", "efficientnet_lite1"):
        network = load_classifier(name, device="cpu")
        images = load_images(photos(4), preprocessing=network.preprocessing)
        found[name] = ClassifierEvaluator(images, network, forward="fp32")
    yield found
    for member in found.values():
        member.close()


@pytest.mark.parametrize("combine", ["worst", "mean"])
def test_figures_combine_each_networks_own_against_its_own_uncompressed(members, combine):
    judge = NetworksEvaluator(members, combine)
    table = QTable.from_quality(15)
    alone = {name: member.evaluate(table) for name, member in members.items()}
    together = judge.evaluate(table, per_image=True)
    assert set(METRICS) <= set(judge.accuracy_metrics)
    assert "top1" not in judge.accuracy_metrics  # the photographs carry no labels
    for metric in METRICS:
        sign = -1 if metric == "kl" else 1
        losses = [sign * (members[n].reference[metric] - alone[n][metric]) for n in members]
        uncompressed = np.mean([members[n].reference[metric] for n in members])
        loss = max(losses) if combine == "worst" else np.mean(losses)
        assert together[metric] == pytest.approx(uncompressed - sign * loss)
        assert judge.reference[metric] == pytest.approx(uncompressed)
        for name in members:
            assert together[f"{metric}@{name}"] == alone[name][metric]
        # the per-image figures average to the combined one (paired bootstraps stay consistent)
        assert np.mean(together.per_image[metric]) == pytest.approx(together[metric], abs=1e-6)
    # bits are counted on the first network's inputs (224 px), not the second's (240 px)
    assert together["bpp"] == alone["efficientnet_lite0"]["bpp"]
    assert together["bpp@efficientnet_lite1"] == alone["efficientnet_lite1"]["bpp"]


def test_the_worst_network_decides_and_coarser_tables_keep_less(members):
    judge = NetworksEvaluator(members, "worst")
    fine, coarse = judge.evaluate(QTable.from_quality(90)), judge.evaluate(QTable.from_quality(10))
    assert coarse["similarity"] < fine["similarity"] <= judge.reference["similarity"]
    for figures in (fine, coarse):
        worst = min(
            figures[f"similarity@{n}"] - members[n].reference["similarity"] for n in members
        )
        assert figures["similarity"] == pytest.approx(judge.reference["similarity"] + worst)


def test_identity_names_every_network(members):
    identity = NetworksEvaluator(members, "mean").identity()
    assert identity["evaluator"] == "networks" and identity["combine"] == "mean"
    assert {key.split("@")[1] for key in identity if "@" in key} == set(members)


def test_networks_are_refused_with_options_that_belong_to_one_network(capsys, tmp_path):
    lite = ["--networks", "efficientnet_lite0,efficientnet_lite1"]
    for extra, named in (
        (["--model", "efficientnet_lite2"], "--model does not go with --networks"),
        (["--mean", "0.5,0.5,0.5"], "--mean does not go with --networks"),
        (["--early-rejection"], "--early-rejection does not go with --networks"),
    ):
        out = tmp_path / named.split()[0].strip("-")
        assert main(["run", *lite, *extra, "--budget", "2", "--out", str(out)]) == 2
        assert named in capsys.readouterr().err
    assert main(["run", "--networks", "efficientnet_lite0", "--budget", "2"]) == 2
    assert "is not two or more distinct names" in capsys.readouterr().err
    assert main(["run", "--evaluator", "networks", "--budget", "2"]) == 2
    assert "--evaluator networks needs --networks" in capsys.readouterr().err


def test_a_mismatched_image_set_is_refused(members):
    lite0 = members["efficientnet_lite0"]
    other = ClassifierEvaluator(
        load_images(photos(3), preprocessing=lite0.classifier.preprocessing),
        lite0.classifier,
        forward="fp32",
    )
    with pytest.raises(QSearchError, match="different images"):
        NetworksEvaluator({"a": lite0, "b": other})
    other.close()
