"""qsearch run / front / list end to end with the real CNN evaluator on 20 test images."""

import json
import shutil
import subprocess

import pandas as pd
import pytest
from PIL import Image
from test_codec import parse_jpeg

from qsearch import QTable
from qsearch.cli import main
from qsearch.codecs.codec import encode
from qsearch.images import read_rgb
from qsearch.search.searcher import SEARCHERS
from realdata import (
    BUILT_IN_SEARCHERS,
    IMAGENET_SAMPLE,
    assert_drawn_plot,
    sample_args,
    split_names,
)

pytestmark = pytest.mark.slow

DATA = sample_args("test", 20)
SMALL = {
    "ga": ["--option", "pop_size=8"],
    "de": ["--option", "pop_size=8"],
    "nsga2": ["--option", "pop_size=8"],
    "gradient": ["--option", "steps=2", "--option", "batch=8"],
    "sensitivity": ["--option", "images_used=20"],
}


@pytest.mark.imagenet
@pytest.mark.parametrize("name", [name for name, _ in SEARCHERS.items()])
def test_each_searcher_runs_20_trials_and_writes_every_output(tmp_path, name, capsys):
    extra = SMALL.get(name, [])
    assert (
        main(
            [
                "run",
                *DATA,
                "--searcher",
                name,
                *extra,
                "--budget",
                "20",
                "--seed",
                "1",
                "--quiet",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert len(trials) == 20 and trials["key"].is_unique and (trials["searcher"] == name).all()
    assert {"top1", "top5", "agreement", "bpp", "ratio", "bytes", "seconds", "worker"} <= set(
        trials.columns
    )
    front = pd.read_csv(tmp_path / "front.csv")
    assert (
        len(front) >= 1
        and front["bpp"].is_monotonic_increasing
        and front["top1"].is_monotonic_increasing
    )
    for _, row in front.iterrows():
        assert QTable.load(tmp_path / row["table"]).key == row["key"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["trials"] == 20 and 0 < summary["search"]["hypervolume"] < 1
    assert_drawn_plot(tmp_path / "front.png")


def config_of(run):
    """The TOML file the finished run was started from."""
    return run.with_name(run.name + "-search.toml")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = config_of(out)  # beside the run folder: a run folder holds runs only
    config.write_text(
        'searcher = "nsga2"\nbudget = 16\nseed = 2\noption = ["pop_size=8"]\nquiet = true\n'
    )
    assert (
        main(["run", "--config", str(config), *DATA, "--test-split", "search", "--out", str(out)])
        == 0
    )
    return out


@pytest.mark.imagenet
def test_config_file_and_test_split_rescoring(finished_run):
    front = pd.read_csv(finished_run / "front.csv")
    assert len(pd.read_csv(finished_run / "trials.csv")) == 16
    assert front["test_top1"].notna().all() and front["test_bpp"].notna().all()
    summary = json.loads((finished_run / "summary.json").read_text())
    test = summary["test"]
    assert summary["searcher"] == "nsga2" and summary["trials"] == 16
    assert test["bd_rate_ci95_low"] <= test["bd_rate_vs_ijg_percent"] <= test["bd_rate_ci95_high"]
    assert test["images"] == 20 and test["significant"] is None  # 20 images: never judged
    assert "too few images to judge" in test["verdict"]


@pytest.mark.imagenet
def test_a_search_on_log_probability_is_also_judged_on_top1_of_the_test_split(tmp_path):
    assert (
        main(
            [
                "run",
                *DATA,
                "--searcher",
                "quality",
                "--metric",
                "logprob",
                "--budget",
                "8",
                "--quiet",
                "--test-split",
                "search",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metric"] == "logprob"
    assert {"bd_rate_vs_ijg_percent", "bd_rate_ci95_low", "hypervolume"} <= summary[
        "test_top1"
    ].keys()
    assert "hypervolume" not in summary["test"]  # log-probabilities are not in [0, 1]


@pytest.mark.imagenet
def test_operating_points_are_chosen_on_the_searched_images_and_judged_held_out(
    finished_run, capsys
):
    """The table named for each share of the uncompressed accuracy is the cheapest front table
    reaching it on the searched images; its figures are its own on the held-out split, and
    `front --target` prints that table with them."""
    summary = json.loads((finished_run / "summary.json").read_text())
    front = pd.read_csv(finished_run / "front.csv")
    metric = summary["metric"]
    for point in summary["operating_points"][metric]:
        reaching = front[front[metric] >= point["target_searched"]]
        if reaching.empty:
            assert point["table"] is None
            continue
        cheapest = reaching.sort_values("bpp").iloc[0]
        table = point["table"]
        assert table["file"] == cheapest["table"] and point["judged_on"] == "test"
        assert table["bpp"] == pytest.approx(cheapest["test_bpp"], abs=1e-4)
        assert table[metric] == pytest.approx(cheapest[f"test_{metric}"], abs=1e-4)
    fraction = summary["operating_points"][metric][-1]["fraction"]
    assert main(["front", str(finished_run), "--target", str(fraction)]) == 0
    named = summary["operating_points"][metric][-1]["table"]
    printed = capsys.readouterr().out
    assert (named["file"] if named else "none reaches it") in printed


@pytest.mark.imagenet
def test_front_tables_give_jpegs_whose_dqt_equals_the_table(finished_run, tmp_path):
    photo = read_rgb(IMAGENET_SAMPLE / split_names("test", 1)[0])
    for path in (finished_run / "tables").glob("*.txt"):
        table = QTable.load(path)
        parsed = parse_jpeg(encode(photo, table))
        assert parsed["tables"][0].tolist() == table.luma.ravel().tolist()
        assert parsed["tables"][1].tolist() == table.chroma.ravel().tolist()
        if shutil.which("cjpeg"):
            Image.fromarray(photo).save(tmp_path / "photo.ppm")
            written = subprocess.run(
                ["cjpeg", "-qtables", str(path), str(tmp_path / "photo.ppm")],
                capture_output=True,
                check=True,
            ).stdout
            parsed = parse_jpeg(written)
            assert parsed["tables"][0].tolist() == table.luma.ravel().tolist()
            assert parsed["tables"][1].tolist() == table.chroma.ravel().tolist()


@pytest.mark.imagenet
def test_front_reexports_and_rerun_adds_nothing(finished_run, capsys):
    (finished_run / "front.csv").unlink()
    assert main(["front", str(finished_run)]) == 0
    assert (finished_run / "front.csv").exists() and "summary" not in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--config",
                str(config_of(finished_run)),
                *DATA,
                "--test-split",
                "search",
                "--out",
                str(finished_run),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(finished_run / "trials.csv")) == 16


def test_list_names_every_searcher_evaluator_and_space(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in (*BUILT_IN_SEARCHERS, "classifier", "fidelity", "full", "bands", "monotone"):
        assert f"  {name} " in text


@pytest.mark.imagenet
def test_bad_run_inputs_are_one_line(tmp_path, capsys):
    assert (
        main(["run", *DATA, "--searcher", "anneal", "--budget", "3", "--out", str(tmp_path)]) == 2
    )
    assert "unknown searcher 'anneal'" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("budgett = 3\n")
    assert main(["run", "--config", str(tmp_path / "bad.toml")]) == 2
    assert "unknown option 'budgett'" in capsys.readouterr().err


@pytest.mark.imagenet
def test_base_family_drives_the_sweep_and_is_part_of_the_run_settings(tmp_path, capsys):
    from qsearch.tables.families import mozjpeg

    args = [
        "run",
        *DATA,
        "--evaluator",
        "fidelity",
        "--absolute-floor",
        "--floor",
        "30",
        "--searcher",
        "quality",
        "--quiet",
        "--out",
        str(tmp_path),
    ]
    assert main([*args, "--base", "mozjpeg-3", "--budget", "10"]) == 0
    trials = pd.read_csv(tmp_path / "trials.csv")
    family_keys = {mozjpeg(3).at(q).key for q in range(1, 101)}
    assert len(trials) == 10 and set(trials["key"]) <= family_keys
    capsys.readouterr()
    assert main([*args, "--base", "ijg", "--budget", "12"]) == 2
    assert "family=mozjpeg-3" in capsys.readouterr().err
