"""The notebooks run: each is executed top to bottom in a fresh kernel of this environment's Python, as CI
does. They are stored without outputs (the run here is what makes them), and each checks its own results
with asserts, so a notebook that runs but shows wrong numbers fails too."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")  # the one reason to skip: the executor is not installed
import nbformat  # noqa: E402  (nbclient depends on it)

from flowtts.model_dir import default_model_dir  # noqa: E402
from tests.model.helpers import make_tiny_model_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["evaluation.ipynb", "quickstart.ipynb"]
CELL_TIMEOUT_S = 300


def _outputs(nb, kind: str) -> list:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == kind
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    # a python3 kernel spec that runs *this* interpreter, ahead of any user-wide one on JUPYTER_PATH
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (flowtts tests)", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if name == "quickstart.ipynb" and not (default_model_dir() / "model.safetensors").exists():
        # until the default model ships, the same code runs on a tiny random model (it speaks noise)
        monkeypatch.setenv("FLOWTTS_NOTEBOOK_MODEL", str(make_tiny_model_dir(tmp_path / "model")))

    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()  # raises CellExecutionError with the cell and traceback on any failure
    assert not _outputs(nb, "error")
    images = [o for o in _outputs(nb, "display_data") if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "the plots are shown inline"
