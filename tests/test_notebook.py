"""The example notebook runs a search through the public API and gets what `qsearch run` with
the same arguments on the same images writes (documentation examples are tests)."""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from qsearch.cli import main
from qsearch.images.samples import sample_photos

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_the_notebook_gets_what_the_command_line_writes(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = "".join(o.get("text", "") for o in outputs)
    assert (
        "BD-rate vs IJG from quality 50 up, held out" in texts
        and "at 95% of the IJG quality 95 similarity" in texts
    )
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot

    folder = sample_photos()[0].parent
    cli = tmp_path / "cli"
    arguments = ["run", "--data", str(folder), "--split-file", str(tmp_path / "splits.json")]
    arguments += ["--split", "search", "--test-split", "test", "--labels", "none"]
    arguments += ["--searcher", "nsga2", "--option", "pop_size=6", "--metric", "similarity"]
    arguments += ["--space", "bands", "--seed", "0", "--budget", "12", "--quiet", "--out", str(cli)]
    assert main(arguments) == 0
    from_notebook = json.loads((tmp_path / "runs" / "notebook" / "summary.json").read_text())
    from_cli = json.loads((cli / "summary.json").read_text())
    assert from_notebook == from_cli  # figures, operating points and identity alike
    timings = ["seconds", "encode_ms_per_image", "worker"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "runs" / "notebook" / "front.csv").drop(columns=timings),
        pd.read_csv(cli / "front.csv").drop(columns=timings),
    )
