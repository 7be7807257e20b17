"""``RUN/report.html``: written by ``qsearch run`` and ``qsearch report``, one file that opens
offline, whose figures are the summary's, whose crops come from the images the tables are
judged on (the held-out ones where there are some) and are refused for other images; the
detector's boxes are drawn; a real headless browser renders the plot and every crop."""

from __future__ import annotations

import io
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from browser import needs_browser, rendered_dom
from PIL import Image
from test_segmentation import wheel_segmenter
from tinydetector import write_tiny_detector

from qsearch.cli import main
from qsearch.codecs.codec import EncoderSettings, encode
from qsearch.report.crops import per_image_values, same_bits
from qsearch.report.html import CROP_TARGETS, REPORT
from qsearch.tables.qtable import QTable
from realdata import COCO128, SELFIE, SHARED_MODELS, YOLOX, declare, photos

CLASSIFY = ["run", "--searcher", "quality", "--budget", "20", "--metric", "similarity", "--quiet"]


@pytest.fixture(scope="module")
def classified(tmp_path_factory):
    """A search on five bundled photographs with the default network; its report."""
    out = tmp_path_factory.mktemp("classified") / "run"
    assert main([*CLASSIFY, "--limit", "5", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """A search on four photographs, its front judged on four others."""
    root = tmp_path_factory.mktemp("held")
    folder = root / "photos"
    folder.mkdir()
    for path in photos(8):
        shutil.copy(path, folder / path.name)
    names = sorted(p.name for p in folder.iterdir())
    splits = root / "splits.json"
    splits.write_text(json.dumps({"search": names[:4], "test": names[4:]}))
    data = ["--data", str(folder), "--split-file", str(splits), "--split", "search"]
    out = root / "run"
    assert main([*CLASSIFY, *data, "--test-split", "test", "--out", str(out)]) == 0
    return out, data, names[4:]


def page(run) -> str:
    return (run / REPORT).read_text()


def cells(text: str) -> dict[float, dict[str, float]]:
    """The operating-point table: fraction -> {key: the value the cell carries}."""
    found = {}
    for fraction, row in re.findall(r'<tr data-fraction="([0-9.]+)">(.*?)</tr>', text):
        pairs = re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', row)
        found[float(fraction)] = {k: float(v) for k, v in pairs}
    return found


def test_the_report_opens_offline_and_its_figures_are_the_summarys(classified):
    text = page(classified)
    summary = json.loads((classified / "summary.json").read_text())
    assert len(text.encode()) < 4_000_000
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from elsewhere
    shown = cells(text)
    points = summary["operating_points"]["similarity"]
    assert {p["fraction"] for p in points} == set(shown)
    for point in points:
        table = point["table"]
        if table is None:
            assert shown[point["fraction"]] == {}
            continue
        for key in ("bpp", "similarity", "share", "bits_vs_ijg_percent"):
            assert shown[point["fraction"]][key] == pytest.approx(table[key], abs=1e-9)
    bd = re.search(r'data-key="bd_rate_vs_ijg_percent" data-value="([^"]+)"', text).group(1)
    assert float(bd) == pytest.approx(summary["search"]["bd_rate_vs_ijg_percent"])
    assert text.count("<title>trial ") == summary["front_size"]  # every front table on hover


def test_the_crops_show_the_chosen_tables_of_each_target(classified):
    text = page(classified)
    summary = json.loads((classified / "summary.json").read_text())
    chosen = [
        p for p in summary["operating_points"]["similarity"]
        if p["fraction"] in CROP_TARGETS and p["table"] is not None
    ]  # fmt: skip
    assert chosen, "the quality sweep reaches 95% of the uncompressed similarity"
    crops = re.findall(r'<img class="crop" alt="([^"]+)"', text)
    assert len(crops) == 3 * 3 * len(chosen)  # three images a target, three versions an image
    assert crops[:3] == ["uncompressed", "chosen table", crops[2]] and crops[2].startswith(
        "IJG quality"
    )


def test_the_ijg_version_has_the_closest_size_of_any_quality():
    image = np.asarray(Image.open(photos(1)[0]).convert("RGB"))[:200, :200]
    settings = EncoderSettings()
    size = len(encode(image, QTable.from_quality(63), settings)) + 40
    quality, data = same_bits(image, size, settings)
    gaps = {
        q: abs(len(encode(image, QTable.from_quality(q), settings)) - size) for q in range(1, 101)
    }
    assert abs(len(data) - size) == min(gaps.values()) and gaps[quality] == min(gaps.values())


def test_a_pooled_figure_is_judged_image_by_image_on_each_image_alone():
    records = {"miou": [{"i": [3], "u": [4]}, {"i": [1], "u": [4]}]}
    assert per_image_values("miou", records).tolist() == [0.75, 0.25]


def test_crops_of_other_images_than_the_runs_are_refused(classified, capsys):
    assert main(["report", str(classified), "--limit", "3"]) == 2
    assert "are not those of the run's search images (images: '3 images" in capsys.readouterr().err
    assert main(["report", str(classified), "--limit", "5"]) == 0


def test_a_held_out_run_shows_crops_of_held_out_images(held_out, capsys):
    run, data, test_names = held_out
    names = re.findall(r'<div class="image"><p><code>([^<]+)</code>', page(run))
    assert names and set(names) <= set(test_names)
    spec = run / "spec.json"
    kept = spec.read_bytes()
    spec.unlink()  # a run written before runs recorded their spec
    try:
        assert main(["report", str(run), *data]) == 2  # the held-out images are not given
        assert "records no spec: give --test-split or --test-data" in capsys.readouterr().err
    finally:
        spec.write_bytes(kept)
    written = page(run)
    (run / REPORT).unlink()
    assert main(["report", str(run), "--no-crops"]) == 0
    assert "No crops" in page(run)
    (run / REPORT).write_text(written)


def test_a_run_is_reported_from_its_spec_alone_as_the_run_wrote_it(held_out, tmp_path,
                                                                    monkeypatch, capsys):  # fmt: skip
    """``qsearch report RUN`` and nothing else, from another folder: the run's images, splits
    and network from its spec, the very report the run wrote; a folder given again wins, and
    one with other images is refused by the run's identity."""
    run, data, _ = held_out
    written = page(run)
    monkeypatch.chdir(tmp_path)
    (run / REPORT).unlink()
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    assert "spec.json: --data, --split-file, --split, --test-split" in capsys.readouterr().err
    assert page(run) == written
    moved = tmp_path / "moved"
    shutil.copytree(data[1], moved)
    assert main(["report", str(run), "--data", str(moved)]) == 0
    assert page(run) == written
    other = tmp_path / "other"
    shutil.copytree(data[1], other)
    first = sorted(other.iterdir())[-1]
    Image.open(first).rotate(90).save(first)
    assert main(["report", str(run), "--data", str(other)]) == 2
    assert "are not those of the run's" in capsys.readouterr().err


def test_a_detectors_crops_carry_its_boxes(tmp_path):
    """Each version of a detector's crop is drawn with the boxes the network finds on it."""
    from qsearch.images import load_images
    from qsearch.report.crops import crop
    from qsearch.tasks.evaluation import task_evaluator

    detector = write_tiny_detector(tmp_path / "tiny.onnx")
    stored = load_images([str(p) for p in photos(2)], compress_at="source", labels="none")
    evaluator = task_evaluator("detect", detector, stored)
    shown = crop(evaluator, 0, QTable.from_quality(20), 0.0)
    counts = [int(v.caption.split()[0]) for v in shown.versions]
    assert [v.caption for v in shown.versions] == [f"{n} boxes above 0.3" for n in counts]
    assert counts[0] > 0
    drawn = Image.open(io.BytesIO(shown.versions[0].png))
    assert drawn.size == (min(224, stored.images[0].shape[1]), min(224, stored.images[0].shape[0]))
    reds = (np.asarray(drawn) == (255, 40, 40)).all(-1).sum()
    assert reds > 0, "the box outlines are drawn in the crop"
    evaluator.close()


@pytest.mark.skipif(
    wheel_segmenter() is None,
    reason="mediapipe==0.10.21 is not installed (make test installs it for its model file)",
)
def test_a_segmenters_crops_are_tinted_where_its_mask_is():
    """The uncompressed crop is tinted exactly where the segmenter's mask is, and its caption
    says what share of the pixels that is."""
    from qsearch.images import load_images
    from qsearch.report.crops import crop
    from qsearch.tasks.evaluation import task_evaluator

    astronaut = [p for p in photos() if p.stem == "astronaut"]
    stored = load_images([str(p) for p in astronaut], compress_at="source", labels="none")
    evaluator = task_evaluator("segment", wheel_segmenter(), stored, declared=SELFIE)
    try:
        shown = crop(evaluator, 0, QTable.from_quality(30), 0.0)
        (note,) = evaluator.annotate([stored.images[0]], [0])
    finally:
        evaluator.close()
    share = 100 * note.mask.mean()
    assert 1 < share < 99 and shown.versions[0].caption == f"{share:.1f}% of pixels segmented"
    drawn = np.asarray(Image.open(io.BytesIO(shown.versions[0].png))).astype(int)
    left, top, right, bottom = shown.window
    original = stored.images[0][top:bottom, left:right].astype(int)
    tinted = np.abs(drawn - original).sum(-1) > 0
    assert tinted.any() and (tinted == note.mask[top:bottom, left:right]).all()


@pytest.mark.slow
@pytest.mark.coco
def test_a_detection_run_reports_yolox_boxes_on_coco(tmp_path):
    out = tmp_path / "run"
    arguments = [
        "run", "--task", "detect", "--model", str(SHARED_MODELS / "yolox_nano.onnx"),
        *declare(YOLOX), "--data", str(COCO128 / "images" / "val2017"), "--limit", "16",
        "--annotations", str(COCO128 / "detection" / "labels" / "val2017"),
        "--searcher", "quality", "--budget", "20", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(arguments) == 0
    text = page(out)
    drawn = [int(n) for n in re.findall(r"<br>(\d+) boxes above 0.3</figcaption>", text)]
    assert drawn and all(n > 0 for n in drawn[::3]), "YOLOX's boxes on each uncompressed crop"
    shown = cells(text)
    summary = json.loads((out / "summary.json").read_text())
    for point in summary["operating_points"]["map"]:
        if point["table"] is not None:
            assert shown[point["fraction"]]["map"] == pytest.approx(point["table"]["map"])


@needs_browser
def test_a_real_browser_renders_the_plot_and_every_crop(classified, tmp_path):
    dom = rendered_dom(classified / REPORT, tmp_path)
    body = re.search(r"<body([^>]*)>", dom).group(1)
    shown = dict(re.findall(r'data-(crops-shown|chart-width|chart-points)="(\d+)"', body))
    crops = page(classified).count('<img class="crop"')
    assert int(shown["crops-shown"]) == crops > 0
    assert int(shown["chart-width"]) > 300
    assert int(shown["chart-points"]) == page(classified).count("<circle")


def test_the_chart_leaves_out_what_cannot_be_plotted_and_steps_the_right_way():
    """A table without a finite figure is left out; a lower-is-better front steps down to the
    lowest figure of no more bits, a higher-is-better one up to the highest."""
    from qsearch.report.svg import Point, Series, chart

    points = [
        Point(0.5, 0.3, "a"),
        Point(1.0, 0.1, "b"),
        Point(2.0, 0.2, "c"),
        Point(3.0, np.nan, "d"),
    ]
    lower = chart([Series("kl", points, steps=True, sign=-1)], "kl")
    assert lower.count("<circle") == 3 and "<title>d</title>" not in lower
    rising = [Point(0.5, 0.1, "a"), Point(1.0, 0.3, "b"), Point(2.0, 0.2, "c")]
    higher = chart([Series("top1", rising, steps=True)], "top1")

    def moves(svg: str) -> list[float]:
        path = re.search(r'<path d="([^"]+)"', svg).group(1)
        return [float(y) for y in re.findall(r"[ML][0-9.]+,([0-9.]+)", path)]

    assert moves(lower) == sorted(moves(lower))  # svg y grows downwards: steps to lower figures
    assert len(set(moves(higher))) == 2 and moves(higher) == sorted(moves(higher), reverse=True)
    assert len(set(moves(lower))) == 2


def test_a_declared_models_run_is_reported_from_its_spec_alone(tmp_path, monkeypatch, capsys):
    """A detector run given relative paths (its model, its declaration as ``@FILE``, images and
    splits) is reported from elsewhere with no flag, the page the run wrote, and resumed from
    elsewhere with a larger budget and no other flag."""
    from tinydetector import TINY

    work = tmp_path / "work"
    (work / "photos").mkdir(parents=True)
    for path in photos(6):
        shutil.copy(path, work / "photos" / path.name)
    names = sorted(p.name for p in (work / "photos").iterdir())
    (work / "splits.json").write_text(json.dumps({"search": names[:3], "test": names[3:]}))
    write_tiny_detector(work / "tiny.onnx").with_name("tiny.onnx.json").unlink()
    (work / "tiny.json").write_text(json.dumps(TINY))
    monkeypatch.chdir(work)
    arguments = ["run", "--task", "detect", "--model", "tiny.onnx", "--declare", "@tiny.json",
                 "--data", "photos", "--split-file", "splits.json", "--split", "search",
                 "--test-split", "test", "--searcher", "quality", "--budget", "4", "--quiet",
                 "--out", "run"]  # fmt: skip
    assert main(arguments) == 0
    written = page(work / "run")
    monkeypatch.chdir(tmp_path)
    (work / "run" / REPORT).unlink()
    assert main(["report", str(work / "run")]) == 0
    assert "--task, --declare, --model" in capsys.readouterr().err
    assert page(work / "run") == written
    assert main(["run", "--out", str(work / "run"), "--budget", "6", "--quiet"]) == 0
    assert "resuming" in capsys.readouterr().err
    trials = pd.read_csv(work / "run" / "trials.csv")
    assert len(trials) == 6 and trials["key"].nunique() == 6


def test_a_damaged_spec_is_refused_in_one_line_naming_it(held_out, tmp_path, capsys):
    run, _, _ = held_out
    spec = run / "spec.json"
    kept = spec.read_bytes()
    try:
        for damaged in ('{"options": ["--data"]}', '{"options": {"limit": "many"}}'):
            spec.write_text(damaged)
            assert main(["report", str(run)]) == 2
            error = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
            assert len(error) == 1 and f"{spec}: " in error[0] and "repair or remove" in error[0]
    finally:
        spec.write_bytes(kept)
