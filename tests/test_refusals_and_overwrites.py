"""Refusals before any work and outputs that never overwrite, on real files and real networks
(broken networks are built with torch here): no command writes before its arguments are
checked, no figure comes from a broken network, record or cache entry, no output overwrites a
user's files."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from qsearch import QSearchError, QTable
from qsearch.cli import main
from qsearch.images import load_images
from qsearch.images.cache import ImageCache
from qsearch.models.classifier import checked_logits
from realdata import PSNR_RUN, photos


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(capsys) -> str:
    lines = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.strip() and not line.startswith("qsearch: note: ")
    ]
    assert len(lines) == 1 and lines[0].startswith("qsearch: error: "), lines
    return lines[0]


@pytest.fixture
def classes(tmp_path):
    """An ImageFolder of real photographs in two class folders that are not ImageNet synsets."""
    for index, path in enumerate(photos(6)):
        folder = tmp_path / "data" / ("cats" if index % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    return tmp_path / "data"


# -- outputs never overwrite a user's files ------------------------------------------------------
def test_a_run_never_writes_into_a_folder_of_the_users_files(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "tables").mkdir(parents=True)
    for name in ("summary.json", "front.csv", "trials.csv", "tables/trial-0000.txt"):
        (out / name).write_text(f"the user's own {name}\n")
    before = snapshot(out)
    assert main([*PSNR_RUN, "--budget", "2", "--out", str(out)]) == 2
    assert "holds files but no qsearch run" in one_error_line(capsys)
    assert snapshot(out) == before


# -- a network's outputs are checked before any figure ------------------------------------------
class Broken(torch.nn.Module):
    """A real (tiny) convolutional network whose output is made broken in one way."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how
        self.features = torch.nn.Conv2d(3, 4, 3, stride=4)

    def forward(self, x: torch.Tensor):
        logits = self.features(x).mean((2, 3))
        if self.how == "nan":
            return logits * float("nan")
        if self.how == "probabilities":
            return torch.softmax(logits, 1)
        if self.how == "tuple":
            return logits, logits.detach() * 0
        if self.how == "dict":
            return {"logits": logits, "features": logits}
        return logits


def scripted(tmp_path, how: str, weights: dict | None = None):
    """The network saved as TorchScript, its inputs declared beside it."""
    module = Broken(how).eval()
    if weights is not None:
        module.load_state_dict(weights)
    path = tmp_path / f"{how}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracing is deprecated, TorchScript files are common
        traced = torch.jit.trace(module, torch.zeros(2, 3, 224, 224), strict=False)
    traced.save(str(path))
    (tmp_path / f"{how}.pt.json").write_text(json.dumps({"mean": [0.5] * 3, "std": [0.5] * 3}))
    return path


@pytest.mark.parametrize(
    "how, message",
    [
        ("nan", "the network output NaN or infinite values"),
        ("probabilities", "outputs probabilities (each row sums to 1), not logits"),
        ("dict", "returned a dict of 2 outputs (logits, features)"),
    ],
)
def test_a_broken_network_is_one_line_naming_it_and_no_figure(tmp_path, capsys, how, message):
    model = scripted(tmp_path, how)
    arguments = ["evaluate", "--model", str(model), "--quality", "50", "--labels", "none"]
    assert main([*arguments, "--data", str(photos(3)[0].parent), "--limit", "3"]) == 2
    line = one_error_line(capsys)
    assert message in line and str(model) in line
    assert "top1" not in capsys.readouterr().out


def test_a_network_returning_a_tuple_is_scored_by_its_first_output(tmp_path, capsys):
    weights = Broken("plain").state_dict()
    plain, paired = scripted(tmp_path, "plain", weights), scripted(tmp_path, "tuple", weights)
    figures = []
    for model in (plain, paired):
        arguments = ["evaluate", "--model", str(model), "--quality", "30", "--labels", "none"]
        assert main([*arguments, "--data", str(photos(3)[0].parent), "--limit", "3", "--json"]) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[0]["kl"] == figures[1]["kl"] and figures[0]["kl"] > 0


def test_finite_logits_pass_the_checks_unchanged():
    logits = torch.randn(4, 10)
    assert checked_logits("m", logits) is logits
    assert checked_logits("m", (logits, logits)) is logits
    with pytest.raises(QSearchError, match="not \\(batch, classes\\)"):
        checked_logits("m", torch.zeros(2, 3, 4))


# -- labels that cannot mean what the network predicts -------------------------------------------
def test_class_folders_by_sorted_position_are_refused_for_the_imagenet_network(classes, capsys):
    assert main(["evaluate", "--data", str(classes), "--quality", "50"]) == 2
    assert "numbered by sorted position, but the network has 1000 outputs" in one_error_line(capsys)


def test_a_network_at_chance_on_uncompressed_images_is_warned_about(tmp_path, capsys):
    synsets = ["n01440764", "n01443537"]  # tench, goldfish: no photograph here is either
    for index, path in enumerate(photos(4)):
        folder = tmp_path / synsets[index % 2]
        folder.mkdir(exist_ok=True)
        shutil.copy(path, folder / path.name)
    assert main(["evaluate", "--data", str(tmp_path), "--quality", "50", "--json"]) == 0
    assert "at or below chance" in capsys.readouterr().err


def test_train_and_val_holding_the_same_classes_are_a_split_layout_not_classes(classes, capsys):
    root = classes.parent / "layout"
    for split in ("train", "val"):
        shutil.copytree(classes, root / split)
    assert main(["evaluate", "--data", str(root), "--quality", "50"]) == 2
    assert "a split layout, not classes" in one_error_line(capsys)


def test_an_empty_class_folder_is_refused_instead_of_shifting_the_labels(classes, capsys):
    (classes / "aardvarks").mkdir()
    with pytest.raises(QSearchError, match="aardvarks: a class folder with no images"):
        load_images(classes, labels="folders")


# -- a damaged record is never used silently ----------------------------------------------------
@pytest.fixture
def finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*PSNR_RUN, "--budget", "4", "--out", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line.replace('"psnr":', '"psnr":NaN,"was":', 1),
        lambda line: re.sub(r'"table":\[\d+', '"table":[0', line, count=1),
        lambda line: re.sub(r'"table":\[\d+', '"table":[300', line, count=1),
    ],
)
def test_a_trial_with_invalid_figures_or_table_is_a_damaged_line_repair_drops(
    finished_run, capsys, damage
):
    journal = finished_run / "study.journal"
    lines = journal.read_text().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if '"op_code":4' in line)
    lines[target] = damage(lines[target])
    journal.write_text("".join(lines))
    assert main(["front", str(finished_run)]) == 2
    assert f"line {target + 1} is damaged" in one_error_line(capsys)
    assert main(["repair", str(finished_run)]) == 0
    assert "dropped 1 damaged line(s), kept 3 trial(s)" in capsys.readouterr().out
    assert main(["front", str(finished_run)]) == 0


# -- a cache entry is what its index says -------------------------------------------------------
def test_a_cache_entry_with_other_contents_is_never_used(tmp_path, caplog):
    cache = ImageCache(tmp_path / "cache")
    first = load_images(photos(3), cache=cache)
    other = load_images(photos(4)[1:], cache=cache)
    keys = {tuple(e.index["names"]): e.key for e in cache.entries()}
    path = {names: tmp_path / "cache" / f"images-{key}.npz" for names, key in keys.items()}
    path[tuple(first.names)].write_bytes(path[tuple(other.names)].read_bytes())  # other arrays
    again = load_images(photos(3), cache=cache)
    assert np.array_equal(again.images, first.images)
    assert not np.array_equal(again.images, other.images)
    assert "damaged cache entry" in caplog.text


def test_a_class_map_is_part_of_the_cache_key(classes, tmp_path):
    cache = ImageCache(tmp_path / "cache")
    by_position = load_images(classes, labels="folders", cache=cache)
    # the same values as sorted position, another rule: never served from the first entry
    mapped = load_images(classes, labels="folders", class_map={"cats": 0, "dogs": 1}, cache=cache)
    assert by_position.label_rule == "folders (sorted position)"
    assert mapped.label_rule == "folders (class map)"
    assert list(mapped.labels) == list(by_position.labels)


def test_a_bad_cache_limit_falls_back_to_the_default(monkeypatch, caplog):
    from qsearch.images.cache import DEFAULT_LIMIT, default_limit

    for text in ("0", "-5G", "lots"):
        monkeypatch.setenv("QSEARCH_CACHE_LIMIT", text)
        assert default_limit() == DEFAULT_LIMIT
    assert caplog.text.count("not a positive size") == 3


# -- a table file given as a JPEG ----------------------------------------------------------------
def test_qtable_takes_a_jpeg_files_tables(tmp_path, capsys):
    table = QTable.from_quality(37)
    Image.open(photos(1)[0]).convert("RGB").save(tmp_path / "a.jpg", qtables=table.to_pillow())
    arguments = ["evaluate", "--evaluator", "fidelity", "--limit", "2", "--json"]
    assert main([*arguments, "--qtable", str(tmp_path / "a.jpg")]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main([*arguments, "--quality", "37"]) == 0
    assert json.loads(capsys.readouterr().out)["bytes"] == from_file["bytes"]


# -- a full disk or a read-only folder ----------------------------------------------------------
def test_a_full_disk_during_the_exports_is_one_line_and_the_run_resumes(
    finished_run, capsys, monkeypatch
):
    """The disk fills while a run writes its exports: one line, the journal and the files
    written before it intact, and the same command finishes the run once there is room."""
    import errno

    from qsearch import atomic

    journal = (finished_run / "study.journal").read_bytes()
    real = atomic.os.fsync

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device", str(finished_run / "front.csv"))

    monkeypatch.setattr(atomic.os, "fsync", full)
    assert main(["front", str(finished_run)]) == 2
    line = one_error_line(capsys)
    assert "front.csv: cannot be written or read (No space left on device)" in line
    assert (finished_run / "study.journal").read_bytes() == journal
    assert not list(finished_run.glob("*.tmp*"))
    monkeypatch.setattr(atomic.os, "fsync", real)
    assert main([*PSNR_RUN, "--budget", "5", "--out", str(finished_run)]) == 0


def test_an_export_into_a_folder_that_refuses_writes_is_one_line(tmp_path, capsys):
    QTable.from_quality(50).save(tmp_path / "t.txt")
    target = "/sys/qsearch-table.txt"
    try:
        open(target, "w").close()
        pytest.skip("/sys is writable here: no read-only folder to write into")
    except OSError:
        pass
    arguments = ["export", str(tmp_path / "t.txt"), "--format", "cjpeg", "--out", target]
    assert main(arguments) == 2
    assert "cannot be written or read" in one_error_line(capsys)


def test_a_runs_plot_says_what_its_marks_and_panels_are(finished_run):
    from qsearch import Run

    figure = Run(finished_run).plot()
    whole, zoom = figure.axes
    for axes in (whole, zoom):
        assert axes.get_ylabel() == "psnr"
        labels = [text.get_text() for text in axes.get_legend().get_texts()]
        assert "front" in labels and "IJG quality" in labels
    title = figure._suptitle.get_text()
    assert "space around ijg tables" in title and "Space(" not in title and "((" not in title
