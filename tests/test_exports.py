"""From a chosen table to a deployed one: every export format read back, value by value, by
the real consumer it is for (cjpeg, ImageMagick, Pillow, libjpeg-turbo, a C compiler, numpy);
the tables of a user's own JPEG files; the PyTorch transform."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import subprocess

import numpy as np
import pytest
import simplejpeg
import torch
from PIL import Image

from qsearch import QTable
from qsearch.cli import main
from qsearch.images import read_rgb
from qsearch.tables.exports import FORMATS, export
from qsearch.tables.families import make_family
from qsearch.tables.inspection import nearest_quality
from qsearch.tables.qtable import to_zigzag
from qsearch.transforms import JPEG
from realdata import IMAGENET_SAMPLE, PSNR_RUN, photos, sample_args, split_names

TABLE = QTable(np.arange(1, 65).reshape(8, 8), np.clip(np.arange(130, 194), 1, 255).reshape(8, 8))
"""No IJG table: every value different, so an order or slot mix-up cannot pass."""
NOTE = "qsearch test run, trial 7, chosen for 98% of top1"


def written(format: str, tmp_path) -> tuple:
    path = export(TABLE, format, tmp_path / f"t{FORMATS[format][1]}", NOTE)
    Image.fromarray(read_rgb(photos(1)[0])[:64, :64]).save(tmp_path / "in.ppm")
    Image.open(tmp_path / "in.ppm").save(tmp_path / "in.png")
    return path


def jpeg_tables(data: bytes) -> QTable:
    return QTable.from_pillow(Image.open(io.BytesIO(data)).quantization)


@pytest.mark.skipif(
    shutil.which("cjpeg") is None, reason="cjpeg (libjpeg-turbo-progs) not installed"
)
def test_cjpeg_writes_the_exported_tables(tmp_path):
    path = written("cjpeg", tmp_path)
    assert NOTE in path.read_text()
    out = subprocess.run(
        ["cjpeg", "-qtables", str(path), str(tmp_path / "in.ppm")], capture_output=True, check=True
    )
    assert jpeg_tables(out.stdout) == TABLE


def imagemagick() -> bool:
    found = shutil.which("convert")
    version = (
        subprocess.run([found, "-version"], capture_output=True, text=True).stdout if found else ""
    )
    return "ImageMagick" in version


@pytest.mark.skipif(
    not imagemagick(), reason="ImageMagick not installed (apt-get install imagemagick)"
)
def test_imagemagick_writes_the_exported_tables(tmp_path):
    path = written("imagemagick", tmp_path)
    out = tmp_path / "out.jpg"
    subprocess.run(
        [
            "convert",
            str(tmp_path / "in.png"),
            "-quality",
            "50",
            "-define",
            f"jpeg:q-table={path}",
            str(out),
        ],
        check=True,
    )
    assert jpeg_tables(out.read_bytes()) == TABLE


def test_pillow_takes_the_exported_literal(tmp_path):
    path = written("pillow", tmp_path)
    namespace: dict = {}
    exec(path.read_text(), namespace)
    buffer = io.BytesIO()
    Image.open(tmp_path / "in.png").save(buffer, "JPEG", qtables=namespace["qtables"])
    assert jpeg_tables(buffer.getvalue()) == TABLE and NOTE in path.read_text()


def test_libjpeg_turbo_reads_the_tables_of_the_dqt_file(tmp_path):
    data = written("dqt", tmp_path).read_bytes()
    assert simplejpeg.decode_jpeg(data).shape == (16, 16, 3)  # a complete, valid JPEG
    with Image.open(io.BytesIO(data)) as opened:
        assert (
            QTable.from_pillow(opened.quantization) == TABLE
            and opened.info["comment"] == NOTE.encode()
        )
    if shutil.which("djpeg"):
        subprocess.run(["djpeg", str(tmp_path / "t.jpg")], capture_output=True, check=True)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler")
def test_a_c_program_gets_both_orders_from_the_header(tmp_path):
    header = written("c", tmp_path)
    program = tmp_path / "print.c"
    program.write_text(
        f'#include <stdio.h>\n#include "{header}"\n'
        'static void show(const unsigned int *t) { for (int i = 0; i < 64; i++) printf("%u ", t[i]); printf("\\n"); }\n'
        "int main(void) { show(QSEARCH_LUMA_NATURAL); show(QSEARCH_CHROMA_NATURAL);"
        " show(QSEARCH_LUMA_ZIGZAG); show(QSEARCH_CHROMA_ZIGZAG); return 0; }\n"
    )
    subprocess.run(["gcc", "-o", str(tmp_path / "print"), str(program)], check=True)
    rows = subprocess.run(
        [str(tmp_path / "print")], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    values = [list(map(int, row.split())) for row in rows if row.strip()]
    assert values[0] == TABLE.luma.ravel().tolist() and values[1] == TABLE.chroma.ravel().tolist()
    assert (
        values[2] == to_zigzag(TABLE.luma).tolist()
        and values[3] == to_zigzag(TABLE.chroma).tolist()
    )
    assert "jpeg_add_quant_table" in header.read_text() and "NATURAL" in header.read_text()


def test_numpy_and_json_read_back(tmp_path):
    pair = np.load(written("numpy", tmp_path))
    assert pair.shape == (2, 8, 8) and QTable(pair[0], pair[1]) == TABLE
    path = written("json", tmp_path)
    assert QTable.load(path) == TABLE and json.loads(path.read_text())["note"] == NOTE


def test_export_of_a_run_names_the_chosen_table_and_its_figures(tmp_path, capsys):
    run = tmp_path / "run"
    arguments = ["run", "--metric", "similarity", "--limit", "6", "--searcher", "quality"]
    assert main([*arguments, "--budget", "6", "--quiet", "--out", str(run)]) == 0
    assert main(["export", str(run), "--format", "c", "--out", str(tmp_path / "t.h")]) == 2
    assert "give --target" in capsys.readouterr().err
    out = tmp_path / "t.txt"
    assert (
        main(["export", str(run), "--target", "0.5", "--format", "cjpeg", "--out", str(out)]) == 0
    )
    from qsearch.report.runs import Run

    named = Run(run).operating_point(0.5)["table"]
    text = out.read_text()
    assert "chosen for 50% of the IJG quality 95 similarity" in text and str(run.resolve()) in text
    assert "bits vs IJG at its own similarity" in text
    assert QTable.load(out) == QTable.load(run / named["file"])


def test_inspect_groups_a_folder_by_table_with_the_nearest_quality(tmp_path, capsys):
    camera = tmp_path / "camera"
    (camera / "day2").mkdir(parents=True)
    photo = Image.fromarray(read_rgb(photos(1)[0])[:96, :96])
    for name in ("a.jpg", "b.jpg", "day2/c.jpg"):
        photo.save(camera / name, quality=85)
    photo.save(camera / "d.jpg", qtables=TABLE.to_pillow())
    assert main(["inspect", str(camera)]) == 0
    out = capsys.readouterr().out
    assert "4 JPEG file(s), 2 distinct set(s) of tables" in out
    assert "3 file(s), 2 tables" in out and "exactly IJG quality 85" in out
    assert "nearest IJG quality" in out  # the custom table: an estimate with its error
    estimate = nearest_quality(TABLE)
    assert estimate.max_octaves > 0 and 1 <= estimate.quality <= 100


def test_a_search_starts_from_the_tables_of_a_users_jpeg(tmp_path):
    camera = tmp_path / "cam.jpg"
    Image.fromarray(read_rgb(photos(1)[0])).save(camera, qtables=TABLE.to_pillow())
    assert make_family(str(camera)).at(50) == QTable.from_jpeg(camera) == TABLE  # quality 50: as is
    out = tmp_path / "run"
    arguments = [*PSNR_RUN, "--base", str(camera), "--searcher", "quality", "--budget", "3"]
    assert main([*arguments, "--quiet", "--out", str(out)]) == 0
    identity = json.loads((out / "summary.json").read_text())["identity"]
    assert "family=cam" in identity["space"]


def test_the_transform_is_the_encoder_qsearch_scores_with_in_every_layout():
    photo = read_rgb(photos(1)[0])[:80, :120]
    transform = JPEG(TABLE)
    from qsearch.codecs.codec import decode, encode

    expected = decode(encode(photo, TABLE))
    assert np.array_equal(transform(photo), expected)
    assert np.array_equal(np.asarray(transform(Image.fromarray(photo))), expected)
    tensor = transform(torch.from_numpy(photo.copy()).permute(2, 0, 1))
    assert tensor.shape == (3, 80, 120) and np.array_equal(
        tensor.permute(1, 2, 0).numpy(), expected
    )
    clone = pickle.loads(pickle.dumps(transform))  # DataLoader workers
    assert np.array_equal(clone(photo), expected)
    from torchvision.transforms import v2

    pipeline = v2.Compose([v2.PILToTensor(), transform, v2.ToDtype(torch.float32, scale=True)])
    assert pipeline(Image.fromarray(photo)).shape == (3, 80, 120)


@pytest.mark.imagenet
def test_a_dataset_through_the_transform_scores_what_evaluate_reports(tmp_path, classifier, capsys):
    """The same images, prepared as qsearch prepares them, through JPEG(table), classified:
    the same top-1 as `qsearch evaluate --qtable` on them."""
    TABLE.save(tmp_path / "t.txt")
    arguments = ["evaluate", *sample_args("test", 40), "--qtable", str(tmp_path / "t.txt")]
    assert main([*arguments, "--forward", "fp32", "--json"]) == 0
    reported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    from qsearch.images import imagenet_synsets

    transform, exact = JPEG(TABLE), classifier.with_forward("fp32")
    names = split_names("test", 40)
    batch = np.stack(
        [transform(classifier.preprocessing(read_rgb(IMAGENET_SAMPLE / n))) for n in names]
    )
    labels = np.array([imagenet_synsets().index(n.split("_")[0]) for n in names])
    top1 = float((exact.log_probs(batch).argmax(1).numpy() == labels).mean())
    assert top1 == pytest.approx(reported["top1"], abs=1e-6)  # float32 mean; 1/40 apart otherwise
