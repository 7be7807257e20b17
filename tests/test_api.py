"""Every command is a library function first: ``qsearch.baseline`` and ``qsearch.compress`` do
from Python what ``qsearch baseline`` and ``qsearch compress`` do, on real photographs with the
real encoders, and the command line writes what the function returns."""

import pandas as pd
import pytest
from PIL import Image

import qsearch
from qsearch import EncoderSettings, QSearchError, QTable
from qsearch.cli import main
from qsearch.evaluators.fidelity import FidelityEvaluator
from qsearch.images import load_images
from realdata import assert_drawn_plot, photos

QUALITIES = (20, 60, 90)


@pytest.fixture(scope="module")
def fidelity():
    return FidelityEvaluator(load_images(photos(3)))


def test_baseline_sweeps_ijg_as_the_reference_even_when_only_another_family_is_asked(fidelity):
    result = qsearch.baseline(
        fidelity, families=["mozjpeg-3"], codecs=["jpeg", "webp"], qualities=QUALITIES
    )
    assert list(result.sweeps) == ["ijg", "mozjpeg-3", "webp"]
    for frame in result.sweeps.values():
        assert list(frame["quality"]) == list(QUALITIES)
        assert frame["bpp"].is_monotonic_increasing  # more bits at a higher quality
    assert set(result.ladder["codec"]) == {"ijg", "mozjpeg-3", "webp"}
    bd_rates = result.ladder.set_index("codec")["bd_rate"]
    assert bd_rates["ijg"] == "+0.0%"  # the reference against itself
    assert bd_rates["webp"].startswith("-")  # WebP beats JPEG in PSNR on photographs


def test_the_command_line_writes_what_the_function_returns(fidelity, tmp_path):
    arguments = ["baseline", "--evaluator", "fidelity", "--limit", "3", "--quiet"]
    arguments += ["--base", "mozjpeg-3", "--qualities", *map(str, QUALITIES)]
    assert main([*arguments, "--out", str(tmp_path / "cli")]) == 0
    result = qsearch.baseline(fidelity, families=["mozjpeg-3"], qualities=QUALITIES)
    written = result.write(tmp_path / "api")
    assert_drawn_plot(tmp_path / "api" / "baseline.png")
    assert {p.name for p in written} >= {"ijg.csv", "mozjpeg-3.csv", "ladder.csv", "baseline.png"}
    for name in ("ijg.csv", "mozjpeg-3.csv"):
        cli, api = (pd.read_csv(tmp_path / side / name) for side in ("cli", "api"))
        pd.testing.assert_series_equal(cli["bytes"], api["bytes"])
        pd.testing.assert_series_equal(cli["psnr"], api["psnr"])


def test_a_baseline_never_writes_into_a_folder_of_the_users_files(fidelity, tmp_path):
    (tmp_path / "ijg.csv").write_text("the user's own file\n")
    result = qsearch.baseline(fidelity, qualities=QUALITIES)
    with pytest.raises(QSearchError, match="holds files but no qsearch baseline"):
        result.write(tmp_path)
    assert (tmp_path / "ijg.csv").read_text() == "the user's own file\n"
    arguments = ["baseline", "--evaluator", "fidelity", "--limit", "3", "--out", str(tmp_path)]
    assert main(arguments) == 2
    assert (tmp_path / "ijg.csv").read_text() == "the user's own file\n"
    assert result.write(tmp_path / "fresh") and result.write(tmp_path / "fresh")  # its own: again


@pytest.mark.parametrize("codec", ["jpeg", "mozjpeg"])
def test_compress_from_python_writes_the_files_the_command_line_writes(tmp_path, codec):
    source = tmp_path / "src"
    (source / "nested").mkdir(parents=True)
    for index, path in enumerate(photos(2)):
        Image.open(path).convert("RGB").save(source / ("nested" if index else ".") / f"{index}.png")
    table = QTable.from_quality(40)
    table.save(tmp_path / "t.txt")
    done = qsearch.compress(table, source, tmp_path / "api", settings=EncoderSettings(codec=codec))
    assert sorted(p.relative_to(tmp_path / "api").as_posix() for p in done.written) == [
        "0.jpg",
        "nested/1.jpg",
    ]
    arguments = ["compress", "--codec", codec, "--qtable", str(tmp_path / "t.txt")]
    assert main([*arguments, str(source), str(tmp_path / "cli")]) == 0
    for path in done.written:
        cli = tmp_path / "cli" / path.relative_to(tmp_path / "api")
        assert cli.read_bytes() == path.read_bytes()
        assert QTable.from_pillow(Image.open(path).quantization) == table
    with pytest.raises(QSearchError, match="already exists"):
        qsearch.compress(table, source, tmp_path / "api")
