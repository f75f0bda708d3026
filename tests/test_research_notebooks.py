"""Research notebooks are papermill templates: each declares its parameters (including run_dir and
seed) in a cell tagged `parameters`, and is committed without outputs."""
import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "nbs" / "research").glob("*.ipynb"))


def test_there_are_research_notebooks():
    assert NOTEBOOKS, "nbs/research/ has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_research_notebook_is_a_clean_parameterized_template(path):
    from fancy_lib.runs import notebook_parameters
    declared = notebook_parameters(path)
    assert {"run_dir", "seed"} <= set(declared), f"{path.name} must declare run_dir and seed"
    nb = nbformat.read(path, as_version=4)
    assert not [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")], f"{path.name} has outputs"
