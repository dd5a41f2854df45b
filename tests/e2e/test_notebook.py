"""docs/teaching.ipynb: in step with its readable source docs/teaching.py, and executed top to
bottom, so it cannot rot. Needs the [notebook] extra (jupytext, nbclient, ipykernel), which CI
installs (.ci/run); 43–57 s measured on a shared two-core machine, most of it training seven
implementations for two epochs on digits."""

from pathlib import Path

import pytest

from conformance.runtime.environment import available

jupytext = pytest.importorskip("jupytext")

pytestmark = pytest.mark.notebook
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_notebook_matches_its_source():
    source, notebook = jupytext.read(DOCS / "teaching.py"), jupytext.read(DOCS / "teaching.ipynb")
    assert [(c.cell_type, c.source) for c in source.cells] == [
        (c.cell_type, c.source) for c in notebook.cells
    ], "run `jupytext --sync docs/teaching.py`"


@pytest.mark.slow
@pytest.mark.skipif(
    not all(map(available, ("nbclient", "ipykernel", "sklearn", "matplotlib"))),
    reason="executing the notebook needs the [notebook] and [cli] extras",
)
def test_notebook_runs_top_to_bottom():
    import nbclient  # here, not at collection: the kernel's imports are only needed to run it

    notebook = jupytext.read(DOCS / "teaching.ipynb")
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(DOCS)}}
    ).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "c = 10 = m" in printed and "self-consistency: FAIL" in printed
    assert "passed - self-consistency: PASS" in printed
