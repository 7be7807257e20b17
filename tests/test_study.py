import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qsearch import QSearchError, QTable
from qsearch.evaluators.fidelity import FidelityEvaluator
from qsearch.images import load_images
from qsearch.search.journal import JOURNAL, Journal, repair_journal
from qsearch.search.pruning import Pruner
from qsearch.search.searcher import Searcher, make_searcher
from qsearch.search.space import QualitySpace
from qsearch.search.study import Study
from qsearch.search.trial import Objective
from realdata import PSNR_RUN, photos

OBJECTIVE = Objective(metric="psnr", floor=30.0, relative=False)


@pytest.fixture(scope="module")
def evaluator():
    return FidelityEvaluator(load_images(photos(3)))


class Repeating(Searcher):
    """Proposes the same few qualities over and over."""

    name = "repeating"

    def _propose(self, n):
        return np.array([[q] for q in self.rng.choice([10, 20, 30], size=n)])


def test_repeated_tables_come_from_cache_and_are_not_counted(evaluator, monkeypatch):
    calls = []
    original = evaluator.evaluate
    monkeypatch.setattr(
        evaluator,
        "evaluate",
        lambda table, *rest, **options: calls.append(table.key) or original(table),
    )
    study = Study(evaluator, Repeating(), OBJECTIVE, space=QualitySpace())
    study.optimize(budget=5, batch_size=4)
    assert len(study.trials) == 3 and len(calls) == 3  # the space ran out: it stops, counting 3


def test_second_writer_is_refused_and_settings_are_checked(evaluator, tmp_path):
    first = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    with pytest.raises(QSearchError, match="another qsearch process is writing here"):
        Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    first.optimize(budget=2)
    first.close()
    with pytest.raises(QSearchError, match="searcher: random -> ga"):
        Study(evaluator, make_searcher("ga"), OBJECTIVE, tmp_path)


def test_a_torn_last_journal_line_is_dropped(evaluator, tmp_path):
    study = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    study.optimize(budget=3)
    study.close()
    with (tmp_path / JOURNAL).open("ab") as journal:
        journal.write(b'{"op_code": 4, "worker_id": "x", "study_id": 0, "datetime_start"')
    resumed = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    assert len(resumed.trials) == 3
    resumed.optimize(budget=5)
    assert len(resumed.trials) == 5


def test_trials_record_searcher_worker_and_metrics(evaluator):
    study = Study(evaluator, make_searcher("quality"), OBJECTIVE)
    trial = study.optimize(budget=1)[0]
    assert trial.searcher == "quality" and str(os.getpid()) in trial.worker
    assert trial.qtable == QTable.from_quality(5) and trial.metrics["bpp"] > 0


def test_a_front_prints_one_short_line_per_trial(tmp_path, classifier):
    """In a notebook, study.front() shows figures, not pages of per-image arrays."""
    from qsearch.evaluators.classifier import ClassifierEvaluator

    images = load_images(photos(4), preprocessing=classifier.preprocessing)
    study = Study(
        ClassifierEvaluator(images, classifier), make_searcher("quality"), Objective("similarity")
    )
    study.optimize(budget=2)
    assert study.trials[0].per_image is not None
    for line in map(repr, study.front()):
        assert len(line) < 400 and "similarity=" in line and "[" not in line


def run_command(out, budget):
    return [
        sys.executable,
        "-m",
        "qsearch.cli",
        *PSNR_RUN,
        "--searcher",
        "nsga2",
        "--option",
        "pop_size=6",
        "--budget",
        str(budget),
        "--seed",
        "5",
        "--quiet",
        "--out",
        str(out),
    ]


def recorded(out) -> int:
    journal = out / JOURNAL
    return journal.read_text().count('"table"') if journal.exists() else 0


@pytest.mark.slow
def test_sigkill_then_same_command_resumes_to_the_same_front(tmp_path):
    budget = 30
    subprocess.run(run_command(tmp_path / "whole", budget), check=True, capture_output=True)
    process = subprocess.Popen(
        run_command(tmp_path / "killed", budget),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while recorded(tmp_path / "killed") < 11 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < recorded(tmp_path / "killed") < budget
    subprocess.run(run_command(tmp_path / "killed", budget), check=True, capture_output=True)
    whole, resumed = (
        pd.read_csv(tmp_path / "whole" / "trials.csv"),
        pd.read_csv(tmp_path / "killed" / "trials.csv"),
    )
    assert len(resumed) == budget and resumed["number"].tolist() == list(range(budget))
    assert resumed["key"].tolist() == whole["key"].tolist()
    front = lambda out: pd.read_csv(out / "front.csv")["key"].tolist()  # noqa: E731
    assert front(tmp_path / "killed") == front(tmp_path / "whole")


def test_a_damaged_journal_line_is_named_and_repair_keeps_every_intact_trial(evaluator, tmp_path):
    study = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    study.optimize(budget=4)
    study.close()
    lines = (tmp_path / JOURNAL).read_bytes().splitlines(keepends=True)
    trial_lines = [i for i, line in enumerate(lines) if b'"table"' in line]
    lines[trial_lines[1]] = b'{"op_code": 4, "broken\n'
    (tmp_path / JOURNAL).write_bytes(b"".join(lines))
    with pytest.raises(
        QSearchError, match=f"study.journal: line {trial_lines[1] + 1} is damaged; `qsearch repair"
    ):
        Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    assert repair_journal(tmp_path) == (1, 3)
    assert (tmp_path / "study.journal.damaged").exists()
    resumed = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    assert len(resumed.trials) == 3


def test_no_pickle_in_a_run_folder_is_ever_loaded(evaluator, tmp_path):
    """A crafted searcher.pkl (as older runs had) must never run: resume and re-export
    read the journal alone."""
    study = Study(evaluator, make_searcher("ga", pop_size=4), OBJECTIVE, tmp_path)
    study.optimize(budget=6)
    study.close()
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Planted(str(marker)))
    for name in ("searcher.pkl", "study.pkl", "state.pkl"):
        (tmp_path / name).write_bytes(payload)
    resumed = Study(evaluator, make_searcher("ga", pop_size=4), OBJECTIVE, tmp_path)
    resumed.optimize(budget=10)
    resumed.close()
    Journal.read(tmp_path)
    assert not marker.exists()
    assert len(resumed.trials) == 10


class Planted:
    """Unpickling this writes a marker file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("executed",))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": 1}, "seed: 0 -> 1"),
        ({"searcher": ("ga", {"pop_size": 6})}, 'options: {"pop_size": 4'),
        (
            {"objective": Objective(metric="ssim", floor=0.9, relative=False)},
            "objective: Objective(metric='psnr'",
        ),
        ({"space": "full"}, "space: BandSpace(dim=12) -> FullSpace(dim=128)"),
        ({"pruner": "on"}, "pruner: None -> Pruner(z=1.0)"),
    ],
)
def test_every_recorded_setting_is_checked_on_resume(evaluator, tmp_path, change, message):
    def open_study(
        seed=0, searcher=("ga", {"pop_size": 4}), objective=OBJECTIVE, space=None, pruner=None
    ):
        return Study(
            evaluator,
            make_searcher(searcher[0], **searcher[1]),
            objective,
            tmp_path,
            seed=seed,
            space=space,
            pruner=Pruner() if pruner else None,
        )

    study = open_study()
    study.optimize(budget=2)
    study.close()
    with pytest.raises(QSearchError, match=re.escape(message)):
        open_study(**change)
    open_study().close()  # unchanged settings resume


def test_other_images_are_refused_on_resume(evaluator, tmp_path):
    study = Study(evaluator, make_searcher("random"), OBJECTIVE, tmp_path)
    study.optimize(budget=2)
    study.close()
    other = FidelityEvaluator(load_images(photos(4)[1:]))
    with pytest.raises(
        QSearchError, match="images: 3 images, sha256 [0-9a-f]+ -> 3 images, sha256"
    ):
        Study(other, make_searcher("random"), OBJECTIVE, tmp_path)


def test_a_run_recorded_by_qsearch_0_1_is_refused_in_one_line(evaluator, tmp_path):
    """qsearch 0.1 kept its identity under "signature": neither read nor resumed, one line."""
    study = Study(evaluator, make_searcher("ga", pop_size=4), OBJECTIVE, tmp_path)
    study.optimize(budget=4)
    study.close()
    journal = tmp_path / JOURNAL
    journal.write_text(journal.read_text().replace('"identity"', '"signature"'))
    for opening in (
        lambda: Journal.read(tmp_path),
        lambda: Study(evaluator, make_searcher("ga", pop_size=4), OBJECTIVE, tmp_path),
    ):
        with pytest.raises(QSearchError, match="recorded by qsearch 0.1, which this version"):
            opening()


def test_a_run_written_before_the_packages_were_grouped_resumes(tmp_path, capsys):
    """tests/data/run-0.2: six trials of nsga2 (a population of 4, cut mid-generation) written by
    qsearch 0.2 before its modules moved into subpackages; the same command resumes it, replaying
    the recorded asks, and the six trials keep their numbers and tables."""
    from qsearch.cli import main
    from realdata import PSNR_RUN

    source = Path(__file__).parent / "data" / "run-0.2"
    run = tmp_path / "run"
    shutil.copytree(source, run)
    before = Journal.read(run)[0]
    arguments = [*PSNR_RUN, "--limit", "4", "--searcher", "nsga2", "--option", "pop_size=4"]
    assert main([*arguments, "--budget", "10", "--quiet", "--out", str(run)]) == 0
    after = Journal.read(run)[0]
    assert len(after) == 10
    assert [(t.number, t.qtable) for t in after[:6]] == [(t.number, t.qtable) for t in before]


def test_a_run_written_before_trials_carried_their_number_reads(tmp_path):
    """Journals written before each trial recorded its number (the benchmark runs of that time
    among them) are read, each trial numbered as optuna recorded it, tables unchanged; a line
    that is damaged is still refused."""
    import json

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "run-0.2", run)
    numbered = Journal.read(run)[0]
    lines = (run / "study.journal").read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("op_code") == 4:
            del record["user_attrs"]["number"]
            lines[i] = json.dumps(record)
    (run / "study.journal").write_text("\n".join(lines) + "\n")
    unnumbered = Journal.read(run)[0]
    assert [(t.number, t.qtable) for t in unnumbered] == [(t.number, t.qtable) for t in numbered]
    assert [t.number for t in unnumbered] == list(range(len(numbered)))
    record = next(json.loads(line) for line in lines if json.loads(line).get("op_code") == 4)
    record["user_attrs"]["number"] = "7"  # present but not a whole number
    (run / "study.journal").write_text("\n".join([*lines, json.dumps(record)]) + "\n")
    with pytest.raises(QSearchError, match="is damaged"):
        Journal.read(run)


def test_a_runs_front_reads_without_torch_or_any_evaluator(tmp_path):
    """A run records what its figures mean; reading its front in a new process loads neither
    torch nor the evaluator plugin that reported them, and gives the front the run wrote."""
    from qsearch.cli import main

    run = tmp_path / "run"
    assert main([*PSNR_RUN, "--limit", "2", "--searcher", "quality", "--budget", "4", "--quiet",
                 "--out", str(run)]) == 0  # fmt: skip
    probe = (
        "import sys; from qsearch.report.runs import Run; "
        f"print(','.join(Run({str(run)!r}).front['key'])); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' "
        "or m.startswith('qsearch.evaluators')))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    assert found[0] == ",".join(pd.read_csv(run / "front.csv")["key"])
    assert found[1] == "[]"


def test_a_recorded_pooled_figure_is_pooled_by_its_evaluators_function():
    """A pooled figure known only from a run's record is still pooled, never averaged: its
    function is the declaring evaluator's, loaded when first needed."""
    probe = (
        "import sys; from qsearch.search.metrics import remember, metric_spec, is_pooled; "
        "remember([{'name': 'map', 'higher_is_better': True, 'bounds': [0, 1], "
        "'log_scale': False, 'pooled': ['map', 0], 'description': '', "
        "'self_referenced': False}]); "
        "print(is_pooled('map'), 'qsearch.evaluators.detector' in sys.modules); "
        "print(type(metric_spec('map').pooled.figures([])).__name__)"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    assert found == ["True False", "PooledAP"]


def test_a_damaged_reference_file_is_one_line_naming_it(tmp_path):
    from qsearch.report.runs import Run

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "run-0.2", run)
    (run / "reference.json").write_text('{"search": {"psnr": 3')  # torn by a full disk
    with pytest.raises(QSearchError, match=r"reference.json: not a readable JSON file"):
        Run(run)
