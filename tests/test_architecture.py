"""The architecture `make lint` enforces: packages import downward only, deferred and
type-only imports included (a planted upward import is caught), and the tree as it stands
passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from check_imports import modules, upward_imports  # noqa: E402


@pytest.mark.parametrize(
    "source",
    [
        "from qsearch.report.pareto import bd_rate\n",
        "def later():\n    from qsearch.search import study\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import qsearch.cli.run\n",
    ],
)
def test_an_upward_import_planted_in_a_low_package_is_caught(tmp_path, source):
    planted = tmp_path / "planted.py"
    planted.write_text(source)
    problems = upward_imports({"qsearch.tables.planted": planted})
    assert len(problems) == 1 and "qsearch.tables.planted (tables) imports" in problems[0]


def test_imports_within_a_package_and_downward_pass(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from qsearch.tables.qtable import QTable\nfrom qsearch.errors import QSearchError\n"
    )
    assert upward_imports({"qsearch.codecs.planted": planted}) == []


def test_the_tree_imports_downward_only():
    assert upward_imports(modules()) == []
