"""The notebooks in analysis/notebooks/ run top to bottom on a small sweep (DLLM_SWEEP_DIR)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import analysis
from analysis.synthetic import write_sweep

NOTEBOOKS = Path(analysis.__file__).parent / "notebooks"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A ``python3`` kernelspec pinned to this interpreter, first on JUPYTER_PATH.

    A fresh CI venv already has ipykernel's spec, but a user-level ``python3`` spec could point at
    another Python; pinning keeps the kernel on the interpreter that has the project installed.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python"}))
    return root


@pytest.mark.parametrize("name", ["frontier", "strata", "bits_rounds"])
def test_notebook_runs_on_a_fixture_sweep(name, kernel_env, tmp_path, monkeypatch):
    sweep = write_sweep(tmp_path / "sweep", n_problems=6, n_samples=4)
    monkeypatch.setenv("DLLM_SWEEP_DIR", str(sweep))
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks switch to inline themselves
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was displayed"


def test_notebook_finds_the_main_jobs_sweep_from_its_own_folder(kernel_env, tmp_path, monkeypatch):
    """Without DLLM_SWEEP_DIR, a notebook run in its folder (as Jupyter and nbconvert run it) reads
    runs/pareto at the checkout root, not a runs/pareto under analysis/notebooks."""
    repo = tmp_path / "checkout"
    (repo / "analysis" / "notebooks").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    write_sweep(repo / "runs" / "pareto", n_problems=6, n_samples=4)
    monkeypatch.delenv("DLLM_SWEEP_DIR", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / "frontier.ipynb", as_version=4)
    here = repo / "analysis" / "notebooks"
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(f"sweep: {repo / 'runs' / 'pareto'}" in o.get("text", "") for o in outputs)
