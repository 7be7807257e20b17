import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from qsearch import QSearchError, QTable
from qsearch.evaluators import FidelityEvaluator
from qsearch.images import load_images
from qsearch.searchers import make_searcher
from qsearch.searchers.base import Searcher
from qsearch.space import QualitySpace
from qsearch.study import JOURNAL, Study
from qsearch.trial import Objective

from realdata import IMAGENET_SAMPLE, SPLITS

OBJECTIVE = Objective(metric="psnr", floor=30.0, relative=False)


@pytest.fixture(scope="module")
def evaluator():
    return FidelityEvaluator(load_images(IMAGENET_SAMPLE, split_file=SPLITS, split="search", limit=3))


class Repeating(Searcher):
    """Proposes the same few qualities over and over."""

    name = "repeating"

    def _propose(self, n):
        return np.array([[q] for q in self.rng.choice([10, 20, 30], size=n)])


def test_repeated_tables_come_from_cache_and_are_not_counted(evaluator, monkeypatch):
    calls = []
    original = evaluator.evaluate
    monkeypatch.setattr(evaluator, "evaluate", lambda table, *rest, **options: calls.append(table.key) or original(table))
    study = Study(evaluator, Repeating(QualitySpace(), seed=0), OBJECTIVE)
    study.optimize(budget=5, batch_size=4)
    assert len(study.trials) == 3 and len(calls) == 3  # the space ran out: it stops, counting 3


def test_second_writer_is_refused_and_settings_are_checked(evaluator, tmp_path):
    first = Study(evaluator, make_searcher("random", seed=0), OBJECTIVE, tmp_path)
    with pytest.raises(QSearchError, match="another qsearch process is writing this run"):
        Study(evaluator, make_searcher("random", seed=0), OBJECTIVE, tmp_path)
    first.optimize(budget=2)
    first.close()
    with pytest.raises(QSearchError, match="searcher: random -> ga"):
        Study(evaluator, make_searcher("ga", seed=0), OBJECTIVE, tmp_path)


def test_a_torn_last_journal_line_is_dropped(evaluator, tmp_path):
    study = Study(evaluator, make_searcher("random", seed=0), OBJECTIVE, tmp_path)
    study.optimize(budget=3)
    study.close()
    with (tmp_path / JOURNAL).open("ab") as journal:
        journal.write(b'{"op_code": 4, "worker_id": "x", "study_id": 0, "datetime_start"')
    resumed = Study(evaluator, make_searcher("random", seed=0), OBJECTIVE, tmp_path)
    assert len(resumed.trials) == 3
    resumed.optimize(budget=5)
    assert len(resumed.trials) == 5


def test_trials_record_searcher_worker_and_metrics(evaluator):
    study = Study(evaluator, make_searcher("quality", seed=0), OBJECTIVE)
    trial = study.optimize(budget=1)[0]
    assert trial.searcher == "quality" and str(os.getpid()) in trial.worker
    assert trial.qtable == QTable.from_quality(5) and trial.metrics["bpp"] > 0


def run_command(out, budget):
    return [sys.executable, "-m", "qsearch.cli", "run", "--data", str(IMAGENET_SAMPLE), "--split-file", str(SPLITS),
            "--split", "search", "--limit", "24", "--evaluator", "fidelity", "--metric", "psnr",
            "--absolute-floor", "--floor", "30", "--searcher", "nsga2", "--option", "pop_size=6",
            "--budget", str(budget), "--seed", "5", "--quiet", "--out", str(out)]


def recorded(out) -> int:
    journal = out / JOURNAL
    return journal.read_text().count('"table"') if journal.exists() else 0


def test_sigkill_then_same_command_resumes_to_the_same_front(tmp_path):
    budget = 30
    subprocess.run(run_command(tmp_path / "whole", budget), check=True, capture_output=True)
    process = subprocess.Popen(run_command(tmp_path / "killed", budget), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while recorded(tmp_path / "killed") < 11 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < recorded(tmp_path / "killed") < budget
    subprocess.run(run_command(tmp_path / "killed", budget), check=True, capture_output=True)
    whole, resumed = pd.read_csv(tmp_path / "whole" / "trials.csv"), pd.read_csv(tmp_path / "killed" / "trials.csv")
    assert len(resumed) == budget and resumed["number"].tolist() == list(range(budget))
    assert resumed["key"].tolist() == whole["key"].tolist()
    front = lambda out: pd.read_csv(out / "front.csv")["key"].tolist()  # noqa: E731
    assert front(tmp_path / "killed") == front(tmp_path / "whole")
