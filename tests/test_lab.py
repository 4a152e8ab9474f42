"""`make lab`'s preparation step: every notebook of the book written with the preset's parameters injected, unrun."""

from pathlib import Path

import nbformat
import pytest

from fakeit_lib.builder import notebooks
from fakeit_lib.builder.lab import prepare_lab
from fakeit_lib.core.errors import FakeitError

ROOT = Path(__file__).resolve().parents[1]


def _injected(nb) -> str:
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


def test_prepared_notebooks_carry_the_mini_parameters(cli, tmp_path: Path):
    res = cli("lab", "--preset", "mini", "--out", str(tmp_path / "lab"))
    assert res.returncode == 0, res.stderr
    assert "with the mini preset's parameters in" in res.stdout
    names = sorted(p.name for p in (tmp_path / "lab").glob("*.ipynb"))
    assert names == sorted(nb.name for nb in notebooks.toc_notebooks(ROOT))
    tab1 = nbformat.read(tmp_path / "lab" / "tab1_prompts.ipynb", as_version=4)
    assert 'class_set = "fashion-mnist"' in _injected(tab1) and "train_seeds = [0, 1, 2, 3, 4]" in _injected(tab1)
    assert tab1.metadata["papermill"]["parameters"]["generator"] == "mini"
    own = nbformat.read(tmp_path / "lab" / "own_dataset.ipynb", as_version=4)
    assert "own_images_per_class = 50" in _injected(own)
    assert all(not c.get("outputs") for c in own.cells if c.cell_type == "code")  # prepared, not run
    # the injected cell follows the parameters cell, as in the book's executed notebooks
    tags = [c.metadata.get("tags", []) for c in own.cells]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1


def test_lab_folder_never_overwrites_the_sources():
    with pytest.raises(FakeitError, match="would overwrite the source notebooks"):
        prepare_lab("mini", root=ROOT, out=ROOT / "notebooks")
    with pytest.raises(FakeitError, match="unknown preset 'huge'"):
        prepare_lab("huge", root=ROOT, out=ROOT / "lab-never-written")
    assert not (ROOT / "lab-never-written").exists()
