"""A normal (not editable) install works: the wheel built from a clean checkout holds every
package of the tree, and installed alone in a fresh virtual environment (its dependencies seen
from this one's) the command, a search on the bundled photographs and the plugin suites run
from the installed files."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREE = {"qsearch": ROOT / "qsearch", "qsearch/searchers": ROOT / "searchers",
        "qsearch/evaluators": ROOT / "evaluators"}  # fmt: skip
"""Where each installed package's files come from (setup.cfg's package_dir)."""


def clean_checkout(target: Path) -> Path:
    """The files git tracks, and nothing else (no build folders, no caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


def expected_modules() -> set[str]:
    """Every Python module of the package tree, as the wheel names it."""
    found = set()
    for package, folder in TREE.items():
        for path in folder.rglob("*.py"):
            found.add(f"{package}/{path.relative_to(folder).as_posix()}")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    checkout = clean_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(checkout)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("qsearch-*.whl"))


@pytest.mark.slow
def test_the_wheel_holds_every_module_of_the_tree_and_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {n for n in names if n.endswith(".py")}
    assert modules == expected_modules()
    assert "qsearch/data/imagenet_synsets.txt" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "qsearch = qsearch.cli:main" in text and "nsga2 = qsearch.searchers" in text


@pytest.mark.slow
def test_the_installed_wheel_runs_a_search_and_the_plugin_suites(wheel, tmp_path):
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(fresh)
    python = fresh / "bin" / "python"
    packages = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    dependencies = [p for p in site.getsitepackages() if "site-packages" in p]
    (Path(packages) / "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip

    def run(*arguments: str) -> str:
        done = subprocess.run(arguments, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = run(str(python), "-c", "import qsearch.testing, qsearch; print(qsearch.__file__)")
    assert where.strip().startswith(packages), where  # the installed files, not this tree
    assert run(str(fresh / "bin" / "qsearch"), "--version").startswith("qsearch ")
    run(str(fresh / "bin" / "qsearch"), "run", "--searcher", "random", "--metric", "similarity",
        "--budget", "2", "--quiet", "--out", str(tmp_path / "run"))  # fmt: skip
    assert (tmp_path / "run" / "front.png").stat().st_size > 0
