"""Conformance suites for plugin authors, as optuna ships ``optuna.testing.pytest_samplers``:
every searcher, evaluator, task, codec and model format registered with qsearch, built in or third-party, must pass
them. Subclass a suite in your tests and override its fixture::

    from qsearch.testing import SearcherSuite

    class TestMySearcher(SearcherSuite):
        @pytest.fixture
        def searcher_setting(self):
            return SearcherSetting(lambda: MySearcher(step=3))

The suites run real parts: the real libjpeg-turbo codec on the photographs scikit-image ships
(the fidelity evaluator unless a setting names another), never a stand-in. Needs pytest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qsearch.errors import QSearchError
from qsearch.search.evaluator import EVALUATORS, Evaluation, Evaluator
from qsearch.search.metrics import is_pooled, metric_spec, pool
from qsearch.search.searcher import Searcher
from qsearch.search.space import SPACES
from qsearch.search.study import Study
from qsearch.search.trial import Objective
from qsearch.tables.qtable import QTable
from qsearch.testing.codecs import CodecSuite
from qsearch.testing.formats import ModelFormatSetting, ModelFormatSuite

PSNR = Objective(metric="psnr", floor=30.0, relative=False)
"""The objective of the default setting: minimise bpp above 30 dB PSNR."""


@cache
def photographs_evaluator(count: int = 3) -> Evaluator:
    """The fidelity evaluator (real codec, PSNR and SSIM) on ``count`` bundled photographs."""
    from qsearch.images import load_images
    from qsearch.images.samples import sample_photos
    from qsearch.search.evaluator import EVALUATORS

    return EVALUATORS["fidelity"](load_images(sample_photos()[:count]))  # through its entry point


@dataclass
class SearcherSetting:
    """How the suite builds the searcher under test and what it scores tables with."""

    make: Callable[[], Searcher]
    """A new, configured searcher each call (the suite binds it)."""
    evaluator: Any = field(default_factory=photographs_evaluator)
    objective: Objective = PSNR


class SearcherSuite:
    """The searcher contract: valid tables inside the space, seeded runs reproducible and
    distinct, state that round-trips, a run resumed by replaying its journal equal to an
    uninterrupted one (also when cut mid-batch), options that rebuild the same searcher."""

    @pytest.fixture
    def searcher_setting(self) -> SearcherSetting:
        """Override: the searcher under test (and, if it needs one, its evaluator)."""
        raise NotImplementedError("override the searcher_setting fixture")

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def run(setting: SearcherSetting, budget: int, seed: int = 3, directory=None) -> Study:
        """A study of ``budget`` tables (recorded in ``directory`` when given)."""
        study = Study(setting.evaluator, setting.make(), setting.objective, directory, seed=seed)
        study.optimize(budget)
        study.close()
        return study

    @staticmethod
    def bound(setting: SearcherSetting, seed: int) -> Searcher:
        """A searcher bound to its default space, the setting's evaluator and ``seed``."""
        searcher = setting.make()
        return searcher.setup(SPACES[searcher.default_space](), setting.evaluator, seed)

    @staticmethod
    def keys(study: Study) -> list[str]:
        """The tables a study evaluated, in order."""
        return [t.qtable.key for t in study.trials]

    # -- the contract ---------------------------------------------------------------------------
    def test_proposals_are_valid_tables_inside_the_space(self, searcher_setting):
        """Every proposal is an integer table the space contains."""
        searcher = self.bound(searcher_setting, 0)
        tables = searcher.ask(5)
        assert 1 <= len(tables) <= 5
        for table in tables:
            assert searcher.space.contains(table)
            assert table.to_vector().dtype.kind == "i"

    def test_seeded_runs_are_reproducible_and_distinct(self, searcher_setting):
        """The same seed gives the same tables; a study never counts a table twice."""
        first, second = self.run(searcher_setting, 14), self.run(searcher_setting, 14)
        assert self.keys(first) == self.keys(second)
        assert len(set(self.keys(first))) == 14  # repeated tables are never counted twice

    def test_state_round_trips(self, searcher_setting):
        """A copied state proposes what the original proposes next."""
        searcher = self.run(searcher_setting, 9).searcher
        clone = self.bound(searcher_setting, 99)
        clone.load_state_dict(searcher.state_dict())
        assert [t.key for t in clone.ask(4)] == [t.key for t in searcher.ask(4)]

    def test_resumed_run_equals_uninterrupted(self, searcher_setting, tmp_path):
        """Resumed by replaying the journal: no searcher state is stored beside it."""
        uninterrupted = self.run(searcher_setting, 16)
        self.run(searcher_setting, 7, directory=tmp_path)
        assert not [p for p in tmp_path.iterdir() if p.suffix in (".pkl", ".pickle")]
        resumed = self.run(searcher_setting, 16, directory=tmp_path)
        assert self.keys(resumed) == self.keys(uninterrupted)
        assert [t.number for t in resumed.trials] == list(range(16))

    def test_a_run_resumed_twice_mid_batch_equals_uninterrupted(self, searcher_setting, tmp_path):
        """Cut twice in mid-batch and resumed, a run ends with the uninterrupted run's tables."""
        uninterrupted = self.run(searcher_setting, 15)
        for budget in (3, 8, 15):
            resumed = self.run(searcher_setting, budget, directory=tmp_path)
        assert self.keys(resumed) == self.keys(uninterrupted)

    def test_options_are_reported_for_the_run_identity(self, searcher_setting):
        """``get_params`` rebuilds a searcher with the same options."""
        searcher = searcher_setting.make()
        params = searcher.get_params()
        assert type(searcher)(**params).get_params() == params

    def test_every_option_is_declared_and_checked(self, searcher_setting):
        """Every option the searcher keeps is declared, its default passes its own check, a
        value of the wrong kind is refused in one line naming the searcher and the option, and
        an option it does not have is refused by name."""
        searcher_class = type(searcher_setting.make())
        for name, option in searcher_class.options.items():
            assert option.check(name, option.default) == searcher_class().get_params()[name]
            with pytest.raises(QSearchError, match=f"option {name}="):
                searcher_class(**{name: object()})
        with pytest.raises(QSearchError, match="has no option 'no_such_option'"):
            searcher_class(no_such_option=1)


class EvaluatorSuite:
    """The evaluator contract: an :class:`Evaluation` whose accuracy figures are the ones
    declared, sizes that are the files' (bytes, bpp over the images' pixels, ratio), fewer bytes
    at a coarser table, per-image bytes and pixels (and any accuracy figure kept per image
    averaging to the figure), the same figures for the same table, an identity of strings."""

    @pytest.fixture
    def evaluator(self) -> Evaluator:
        """Override: the evaluator under test."""
        raise NotImplementedError("override the evaluator fixture")

    def test_an_evaluation_reports_its_declared_figures_and_sizes(self, evaluator):
        """The declared figures, finite; bpp and ratio are the files' bytes over the pixels."""
        evaluation = evaluator.evaluate(QTable.from_quality(50))
        assert isinstance(evaluation, Evaluation) and not evaluation.pruned
        assert set(evaluator.accuracy_metrics) <= set(evaluation)
        assert all(np.isfinite(evaluation[m]) for m in evaluator.accuracy_metrics)
        pixels = evaluator.images.pixels
        assert evaluation["bpp"] == 8 * evaluation["bytes"] / pixels
        assert evaluation["ratio"] == 3 * pixels / evaluation["bytes"]

    def test_every_figure_it_reports_declares_what_it_is(self, evaluator):
        """Each accuracy figure has a :class:`~qsearch.search.metrics.MetricSpec` (direction,
        bounds, scale, pooling), and the uncompressed figures lie within its bounds."""
        for metric in evaluator.accuracy_metrics:
            spec = metric_spec(metric)
            value = (evaluator.reference or {}).get(metric)
            if spec.bounds is not None and value is not None:
                assert spec.bounds[0] <= value <= spec.bounds[1], f"{metric} {value} off its bounds"

    def test_a_coarser_table_gives_fewer_bytes(self, evaluator):
        """IJG quality 10 writes fewer bytes than quality 90."""
        fine, coarse = (evaluator.evaluate(QTable.from_quality(q)) for q in (90, 10))
        assert coarse["bytes"] < fine["bytes"]

    def test_per_image_figures_average_to_the_figures(self, evaluator):
        """Per-image bytes and pixels add up; a figure kept per image averages to the figure,
        and a pooled one (mAP, mean IoU) pools from its per-image records to the figure."""
        evaluation = evaluator.evaluate(QTable.from_quality(40), per_image=True)
        figures = evaluation.per_image
        assert figures is not None, "per_image=True must give at least bytes and pixels per image"
        assert sum(figures["bytes"]) == evaluation["bytes"]
        assert sum(figures["pixels"]) == evaluator.images.pixels
        for metric in evaluator.accuracy_metrics:
            if is_pooled(metric):
                assert pool(metric, figures)() == pytest.approx(evaluation[metric], abs=1e-9)
            elif metric in figures:
                assert np.mean(figures[metric]) == pytest.approx(evaluation[metric], abs=1e-5)

    def test_the_same_table_gives_the_same_figures(self, evaluator):
        """Deterministic: the same table twice gives the same figures (time aside)."""
        table = QTable.from_quality(60)
        first, second = evaluator.evaluate(table), evaluator.evaluate(table)
        timings = ("seconds", "encode_ms_per_image")
        assert {k: v for k, v in first.items() if k not in timings} == {
            k: v for k, v in second.items() if k not in timings
        }

    def test_identity_is_plain_strings(self, evaluator):
        """The identity is a stable mapping of strings (recorded in every run)."""
        identity = evaluator.identity()
        assert identity and all(
            isinstance(k, str) and isinstance(v, str) for k, v in identity.items()
        )
        assert identity == evaluator.identity()


@dataclass
class TaskSetting:
    """What the task suite judges: a registered task's name, a model file declared for it
    (its sidecar beside it), stored images (files or a folder) and their labels (or None)."""

    task: str
    model: Path
    images: Any
    annotations: Path | None = None


class TaskSuite(EvaluatorSuite):
    """The task contract, on top of its evaluator's: registered under its name with a
    registered evaluator of the same task; a declaration missing a key the task needs, or
    holding one it does not know, refused in one line naming the key; labels read for every
    image they name. Override ``task_setting``."""

    @pytest.fixture
    def task_setting(self) -> TaskSetting:
        """Override: the task, its model file, images and labels."""
        raise NotImplementedError("override the task_setting fixture")

    @pytest.fixture
    def evaluator(self, task_setting):
        """The task's evaluator, built as ``qsearch run --task`` builds it."""
        from qsearch.images import load_images
        from qsearch.tasks.evaluation import task_evaluator

        images = task_setting.images
        if not isinstance(images, (str, Path)):
            images = [str(path) for path in images]
        stored = load_images(images, compress_at="source", labels="none")
        made = task_evaluator(
            task_setting.task, task_setting.model, stored, task_setting.annotations
        )
        yield made
        made.close()

    def test_the_task_and_its_evaluator_are_registered_together(self, task_setting, evaluator):
        """``--task NAME`` finds the task, whose evaluator says it serves that task."""
        from qsearch.tasks.task import TASKS, task_names

        task = TASKS[task_setting.task]
        assert task.name == task_setting.task and task.name in task_names()
        assert EVALUATORS[task.evaluator].task == task.name
        assert type(evaluator) is EVALUATORS[task.evaluator]
        assert evaluator.identity()["task"] == task.name

    def test_a_declaration_missing_a_needed_key_is_refused_naming_it(self, task_setting, tmp_path):
        """Every output key the task needs, taken out of the declaration, is named."""
        from qsearch.models.sidecar import read_declaration
        from qsearch.tasks.declaration import declared_steps
        from qsearch.tasks.task import TASKS

        given = read_declaration(task_setting.model)
        model = tmp_path / task_setting.model.name
        model.write_bytes(task_setting.model.read_bytes())
        for key in TASKS[task_setting.task].needed_keys(given):
            reduced = {k: v for k, v in given.items() if k != key}
            model.with_name(model.name + ".json").write_text(json.dumps(reduced))
            with pytest.raises(QSearchError, match=f"no '{key}'"):
                declared_steps(model, task_setting.task)

    def test_an_unknown_declaration_key_is_refused(self, task_setting):
        """A key the task does not know (a typo) is refused, never ignored."""
        from qsearch.tasks.declaration import declared_steps

        with pytest.raises(QSearchError, match="unknown key 'outptu'"):
            declared_steps(task_setting.model, task_setting.task, {"outptu": 1})


__all__ = [
    "CodecSuite",
    "EvaluatorSuite",
    "ModelFormatSetting",
    "ModelFormatSuite",
    "SearcherSetting",
    "SearcherSuite",
    "TaskSetting",
    "TaskSuite",
    "photographs_evaluator",
]
