"""Notebooks: parameters in step with their dataclasses, and the runner naming a failing notebook and cell."""

import dataclasses
import json
import re
from pathlib import Path

import nbformat
import pytest

from fakeit_lib.builder import notebooks, runner
from fakeit_lib.experiments import presets
from fakeit_lib.core.errors import FakeitError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebooks.toc_notebooks(ROOT)


def _config_class(nb_path: Path):
    """The dataclass named in the notebook's `nb.params_from(module.Class, globals())` call."""
    import importlib

    source = "\n".join(c.source for c in nbformat.read(nb_path, as_version=4).cells if c.cell_type == "code")
    m = re.search(r"params_from\((\w+)\.(\w+),", source)
    assert m, f"{nb_path} validates no parameters through nb.params_from"
    aliases = {}
    for package, imports in re.findall(r"from (fakeit_lib(?:\.\w+)?) import ([\w ,]+)", source):
        for item in imports.split(","):
            name, _, alias = item.strip().partition(" as ")
            aliases[alias or name] = f"{package}.{name}"
    return getattr(importlib.import_module(aliases[m.group(1)]), m.group(2))


def test_every_toc_notebook_exists_and_is_stored_without_outputs():
    assert Path("notebooks/prompts.ipynb") in NOTEBOOKS
    for nb_path in NOTEBOOKS:
        nb = nbformat.read(ROOT / nb_path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{nb_path} has outputs"
        assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1, nb_path
        assert all(c.get("id") for c in nb.cells) and len({c.id for c in nb.cells}) == len(nb.cells), nb_path  # nbformat 4.5


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=str)
def test_parameters_mirror_the_config_dataclass(nb_path):
    cls = _config_class(ROOT / nb_path)
    declared = notebooks.notebook_parameters(ROOT / nb_path)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert list(declared) == list(fields), f"{nb_path} parameters differ from {cls.__name__}"
    instance = cls()
    for name, info in declared.items():
        assert json.loads(info["default"]) == getattr(instance, name), f"{nb_path}: default of {name}"
        assert info["help"], f"{nb_path}: {name} has no help comment"


def test_presets_declare_a_scale_and_only_known_parameters():
    known = set()
    for nb_path in NOTEBOOKS:
        known |= set(notebooks.notebook_parameters(ROOT / nb_path))
    for name in ("smoke", "mini", "paper"):
        preset = presets.load_preset(name, ROOT)
        assert preset["scale"] == name
        assert set(preset) <= known, f"preset {name} sets parameters no notebook declares: {set(preset) - known}"


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(FakeitError, match="unknown preset 'huge'; valid: mini, paper, paper-1k, smoke"):
        presets.load_preset("huge", ROOT)


@pytest.mark.integration
def test_failing_notebook_is_named_with_its_cell(tmp_path: Path):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (tmp_path / "intro.md").write_text("# t\n")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "smoke.yaml").write_text("scale: smoke\nx: 3\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1  # a number")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = x + 1"), nbformat.v4.new_code_cell("raise ValueError(f'bad x={x}')")]
    nbformat.write(nb, tmp_path / "broken.ipynb")
    with pytest.raises(FakeitError) as err:
        runner.build_book("smoke", root=tmp_path, build_dir=tmp_path / "_build")
    msg = str(err.value)
    assert "notebook broken.ipynb failed in cell 3 (\"raise ValueError(f'bad x={x}')\")" in msg and "ValueError: bad x=3" in msg
    executed = nbformat.read(tmp_path / "_build" / "src" / "broken.ipynb", as_version=4)
    assert executed.metadata["papermill"]["parameters"] == {"x": 3}


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=str)
def test_notebooks_only_call_and_narrate(nb_path):
    """No code cell of a notebook holds a definition, a loop, a DataFrame built by hand or a figure built by hand:
    that logic lives in the notebook's chapter module."""
    import ast

    for cell in nbformat.read(ROOT / nb_path, as_version=4).cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), (nb_path, cell.source)
            assert not isinstance(node, (ast.For, ast.While, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)), (nb_path, cell.source)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                assert (node.func.value.id, node.func.attr) not in {("pd", "DataFrame")}, (nb_path, cell.source)
                assert node.func.value.id not in ("px", "go", "plt", "sns"), (nb_path, cell.source)  # figures by hand
        assert len(cell.source.splitlines()) <= 10, (nb_path, cell.source)


def test_every_notebook_parameter_is_known_to_the_typo_check():
    from fakeit_lib import nb

    declared = set()
    for nb_path in NOTEBOOKS:
        declared |= set(notebooks.notebook_parameters(ROOT / nb_path))
    assert nb.notebook_parameter_names() == declared


@pytest.mark.integration
def test_a_mistyped_parameter_stops_the_notebook_with_the_closest_name(tmp_path: Path):
    import subprocess
    import sys

    out = tmp_path / "prompts.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "prompts.ipynb"), str(out), "-f",
           str(ROOT / "presets" / "smoke.yaml"), "--cwd", str(ROOT)]
    res = subprocess.run(cmd + ["-p", "sampel_size", "3"], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert "unknown parameter 'sampel_size': no notebook of the book has it; did you mean 'sample_size'?" in res.stderr
    # the preset's parameters of other notebooks are known: the same run without the typo passes the check cell
    ok = subprocess.run(cmd + ["-p", "sample_size", "3"], capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-2000:]
