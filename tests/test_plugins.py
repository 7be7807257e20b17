"""A third-party searcher, in a package of its own registered through the ``qsearch.searchers``
entry-point group, passes the plugin authors' conformance suite (qsearch.testing) and runs
from the command line like a built-in one."""

from __future__ import annotations

import json
import textwrap
import types

import pandas as pd
import pytest
from pluginpackage import write_plugin_package

from qsearch.cli import main
from qsearch.testing import SearcherSetting, SearcherSuite
from realdata import PSNR_RUN

PLUGIN = '''
"""A tiny third-party searcher: the IJG tables, coarsest first."""
import numpy as np

from qsearch.search.searcher import Option, Searcher


class CoarseFirst(Searcher):
    """IJG quality from low to high in steps of ``step``."""

    name = "coarse-first"
    default_space = "quality"
    state_attributes = ("next",)
    step = Option(int, 1, 50, default=7, help="qualities between two tables")

    def _setup(self):
        self.next = 1

    def _propose(self, n):
        qualities = [min(100, self.next + i * self.step) for i in range(n)]
        self.next = qualities[-1] + self.step
        return np.array([[q] for q in qualities])
'''


def plugin():
    """The plugin's module, as its author's own tests import it."""
    module = types.ModuleType("qsearch_extra")
    exec(textwrap.dedent(PLUGIN), module.__dict__)
    return module


class TestTheThirdPartySearcherPassesTheSuite(SearcherSuite):
    @pytest.fixture
    def searcher_setting(self):
        searcher_class = plugin().CoarseFirst
        return SearcherSetting(lambda: searcher_class(step=3))


def test_the_suite_catches_state_a_searcher_does_not_declare():
    """Without ``state_attributes`` its position in the sweep is lost on a state round trip."""
    forgetful = type("Forgetful", (plugin().CoarseFirst,), {"state_attributes": ()})
    suite = SearcherSuite()
    with pytest.raises(AssertionError):
        suite.test_state_round_trips(SearcherSetting(lambda: forgetful(step=3)))


def test_a_searcher_registered_by_another_package_runs_from_the_cli(tmp_path, monkeypatch, capsys):
    write_plugin_package(
        tmp_path,
        "qsearch_extra",
        PLUGIN,
        "[qsearch.searchers]\ncoarse-first = qsearch_extra:CoarseFirst\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run"
    arguments = [
        *PSNR_RUN,
        "--searcher",
        "coarse-first",
        "--option",
        "step=9",
        "--budget",
        "4",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(arguments) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and set(trials["searcher"]) == {"coarse-first"}
    assert json.loads((out / "summary.json").read_text())["identity"]["options"] == '{"step": 9}'
    assert main(["list"]) == 0
    assert "coarse-first IJG quality from low to high in steps of step." in capsys.readouterr().out


def test_a_searcher_with_an_undeclared_option_is_refused_before_any_run():
    """Its option could change between sessions unseen by the run's identity: refused."""
    from qsearch import QSearchError, Study
    from qsearch.search.searcher import Searcher
    from qsearch.testing import PSNR, photographs_evaluator

    class Undeclared(Searcher):
        name = "undeclared"

        def __init__(self, step: int = 3):
            self.step = step

        def _propose(self, n):
            raise AssertionError("never asked")

    with pytest.raises(QSearchError, match="option 'step' of __init__ is not declared"):
        Study(photographs_evaluator(), Undeclared(), PSNR)
