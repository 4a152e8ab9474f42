"""Every preset parameter has one declaration of its default, and every reader of a preset reads it typed."""

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.imports import PACKAGE_DIR
from fakeit_lib.experiments.params import PresetParams, preset_params, shared

NAMES = {f.name for f in dataclasses.fields(PresetParams)}
PARAMS_MODULE = PACKAGE_DIR / "experiments" / "params.py"


def modules() -> list[tuple[Path, ast.Module]]:
    return [(f, ast.parse(f.read_text())) for f in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in f.parts]


def dataclass_fields(tree: ast.Module):
    """(class, field name, value node) of every field declared in the body of a parameters dataclass (`...Params`:
    what a notebook or a preset is read into; a stage's own config, such as EvalConfig, is not read from a preset)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Params") and any(
                (d.id if isinstance(d, ast.Name) else getattr(d, "attr", "")) == "dataclass" for d in node.decorator_list):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    yield node.name, stmt.target.id, stmt.value


def test_each_preset_parameter_default_is_declared_once():
    declared: dict[str, list[str]] = {}
    for path, tree in modules():
        for cls, name, value in dataclass_fields(tree):
            if name not in NAMES:
                continue
            where = f"{path.relative_to(PACKAGE_DIR)}:{cls}"
            if path == PARAMS_MODULE:
                declared.setdefault(name, []).append(where)
                continue
            is_shared = (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "shared"
                         and [getattr(a, "value", None) for a in value.args] == [name])
            assert is_shared, f"{where} declares a default of preset parameter {name} again; use shared({name!r})"
    assert set(declared) == NAMES
    assert {n: w for n, w in declared.items() if len(w) > 1} == {}


def test_no_reader_of_a_preset_gives_its_own_default():
    """`.get("best_multiplier", 1.0)` on a preset, or `getattr(p, "transfer_sets", [])`: a second default."""
    found = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            is_get = isinstance(func, ast.Attribute) and func.attr in ("get", "setdefault") and len(node.args) == 2
            is_getattr = isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) == 3
            key = node.args[0] if is_get else node.args[1] if is_getattr else None
            if isinstance(key, ast.Constant) and key.value in NAMES:
                found.append(f"{path.relative_to(PACKAGE_DIR)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_chapters_and_plan_see_the_same_defaults():
    from fakeit_lib.experiments.comparison import ComparisonParams
    from fakeit_lib.chapters.own_dataset import OwnDatasetParams
    from fakeit_lib.experiments.stages import PipelineParams

    bare = preset_params({"scale": "paper"})  # a preset that leaves everything else out
    assert (bare.best_multiplier, bare.generator, bare.recipe) == (50.0, "CompVis/stable-diffusion-v1-4", "paper")
    assert ComparisonParams().best_multiplier == bare.best_multiplier
    assert OwnDatasetParams().train_seeds == PipelineParams().train_seeds == bare.train_seeds == [0]
    for module in ("experiments.comparison", "experiments.table1", "chapters.fig2_qualitative", "chapters.fig4_scaling",
                   "chapters.own_dataset", "chapters.prompts", "chapters.matched_backgrounds", "chapters.imagenet1k",
                   "chapters.ablations"):
        mod = importlib.import_module(f"fakeit_lib.{module}")
        for cls in vars(mod).values():
            if dataclasses.is_dataclass(cls) and cls.__name__.endswith("Params") and cls.__module__ == mod.__name__:
                instance = cls()
                for f in dataclasses.fields(cls):
                    if f.name in NAMES:
                        assert getattr(instance, f.name) == getattr(bare, f.name), (cls.__name__, f.name)
    a, b = OwnDatasetParams(), OwnDatasetParams()
    a.train_seeds.append(1)
    assert b.train_seeds == [0]  # a list default is a fresh list each time


def test_a_preset_value_of_the_wrong_type_is_refused_by_name():
    with pytest.raises(FakeitError, match="parameter best_multiplier='fifty' must be a number"):
        preset_params({"scale": "paper", "best_multiplier": "fifty"})
    with pytest.raises(FakeitError, match="'colour' is not a preset parameter; valid: scale, class_set"):
        shared("colour")
