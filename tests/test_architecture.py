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


def test_a_cycle_behind_a_deferred_import_is_caught(tmp_path):
    """Two modules importing each other, one of them inside a function, are a cycle."""
    from check_imports import find_cycle, module_imports

    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("from qsearch.tables import second\n")
    second.write_text("def later():\n    from qsearch.tables import first\n")
    known = {"qsearch.tables.first", "qsearch.tables.second"}
    graph = {
        "qsearch.tables.first": module_imports(first, known),
        "qsearch.tables.second": module_imports(second, known),
    }
    assert graph["qsearch.tables.second"] == {"qsearch.tables.first"}
    assert find_cycle(graph) is not None


def test_no_code_asks_which_task_it_is_in():
    """Commands read what a task declares (its evaluator, where it compresses, where its labels
    come from, what adaptation learns), never its name; every task is registered, classify
    among them."""
    import re

    from qsearch.tasks.task import task_names

    asked = re.compile(r"""[!=]= ?["'](classify|detect|segment)["']""")
    root = Path(__file__).resolve().parents[1]
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("qsearch", "searchers", "evaluators")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if asked.search(line)
    ]
    assert found == []
    assert {"classify", "detect", "segment"} <= set(task_names())
