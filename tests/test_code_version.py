"""A stage's code version covers every module of the package its entry module imports, however indirectly."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakeit_lib.core import store
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.imports import PACKAGE_DIR, import_closure, imported_names

GENERATE, TRAIN = "fakeit_lib.generation.generate", "fakeit_lib.training.loop"
EVALUATE, TRANSFER = "fakeit_lib.evaluation.evaluate", "fakeit_lib.evaluation.transfer"
JUDGE, REAL = "fakeit_lib.generation.quality.judge", "fakeit_lib.datasets.images"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of the package's source, to edit."""
    shutil.copytree(PACKAGE_DIR, tmp_path / "fakeit_lib", ignore=shutil.ignore_patterns("__pycache__", "data"))
    return tmp_path / "fakeit_lib"


def versions(package: Path) -> dict[str, str]:
    """Every stage's code version as a fresh process that imports the copy at `package` computes it."""
    code = ("from fakeit_lib.core.store import code_version; import sys; "
            "print(' '.join(code_version(m) for m in sys.argv[1:]))")
    stages = [GENERATE, TRAIN, EVALUATE, TRANSFER, JUDGE, REAL]
    res = subprocess.run([sys.executable, "-c", code, *stages], capture_output=True, text=True, timeout=120,
                         cwd=package.parent, env={"PYTHONPATH": str(package.parent), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    return dict(zip(stages, res.stdout.split()))


def edit(package: Path, module: str) -> None:
    path = package / module
    path.write_text(path.read_text() + "\nEDITED = True\n")


def test_a_module_reached_only_indirectly_changes_its_stages_and_no_other(package: Path):
    before = versions(package)
    assert before[TRAIN] == store.code_version(TRAIN)  # the hash is of the source, not of where it is
    assert "fakeit_lib.evaluation.shifts" not in imported_names(TRANSFER)  # transfer reaches it through evaluate
    edit(package, "evaluation/shifts.py")
    after = versions(package)
    assert after[TRANSFER] != before[TRANSFER] and after[EVALUATE] != before[EVALUATE]
    assert {m: after[m] for m in (GENERATE, TRAIN, JUDGE, REAL)} == {m: before[m] for m in (GENERATE, TRAIN, JUDGE, REAL)}

    assert "fakeit_lib.prompts.scenes" not in imported_names(GENERATE)  # through the prompt variants
    edit(package, "prompts/scenes.py")
    again = versions(package)
    assert again[GENERATE] != after[GENERATE]
    assert {m: again[m] for m in (TRAIN, EVALUATE, TRANSFER)} == {m: after[m] for m in (TRAIN, EVALUATE, TRANSFER)}


def test_fashion_mnist_reader_is_part_of_generation(package: Path):
    assert "fakeit_lib.datasets.fashion_mnist" not in imported_names(GENERATE)
    before = store._code_version_uncached(GENERATE, package)
    edit(package, "datasets/fashion_mnist.py")
    assert store._code_version_uncached(GENERATE, package) != before


def test_the_closure_holds_what_a_hand_list_missed():
    """The modules each stage ran that the hand-typed list of files left out."""
    missed = {GENERATE: ["datasets.fashion_mnist", "datasets.wordnet"], TRAIN: ["datasets.classes"],
              EVALUATE: ["paper.results"], TRANSFER: ["evaluation.evaluate", "evaluation.shifts"]}
    for stage, modules in missed.items():
        closure = import_closure(stage)
        assert {f"fakeit_lib.{m}" for m in modules} <= set(closure), stage
        assert {"fakeit_lib", "fakeit_lib.core", "fakeit_lib.core.store", stage} <= set(closure)  # packages above
    assert not {"fakeit_lib.training.train", "fakeit_lib.training.loop"} & set(import_closure(EVALUATE))
    assert not any(m.startswith(("fakeit_lib.chapters", "fakeit_lib.builder")) for m in import_closure(TRANSFER))


def test_every_form_of_import_is_followed(tmp_path: Path):
    root = tmp_path / "fakeit_lib"
    files = {
        "__init__.py": "", "a/__init__.py": "", "b/__init__.py": "",
        "a/entry.py": "from . import sibling\nfrom ..b.top import X\n\ndef f():\n    import fakeit_lib.b.inner\n"
                      "    from fakeit_lib.b import by_name\n    from .. import b\n    import os, torch\n",
        "a/sibling.py": "", "b/top.py": "X = 1\n", "b/inner.py": "from .deep import y\n", "b/deep.py": "y = 2\n",
        "b/by_name.py": "", "b/unreached.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    closure = import_closure("fakeit_lib.a.entry", root)
    assert closure == ["fakeit_lib", "fakeit_lib.a", "fakeit_lib.a.entry", "fakeit_lib.a.sibling", "fakeit_lib.b",
                       "fakeit_lib.b.by_name", "fakeit_lib.b.deep", "fakeit_lib.b.inner", "fakeit_lib.b.top"]
    with pytest.raises(FakeitError, match="'fakeit_lib.a.nowhere' is not a module of fakeit_lib"):
        import_closure("fakeit_lib.a.nowhere", root)
    with pytest.raises(FakeitError, match="'torch' is not a module of fakeit_lib"):
        store.code_version("torch")


def test_every_caller_names_a_module_of_the_package():
    """Each `code_version("...")` in the package names an entry module that exists (a moved module fails here)."""
    import re

    names = {m for f in PACKAGE_DIR.rglob("*.py")
             for m in re.findall(r'code_version\("([^"]+)"\)', f.read_text())}
    assert names == {GENERATE, TRAIN, EVALUATE, TRANSFER, JUDGE, REAL, "fakeit_lib.experiments.costs",
                     "fakeit_lib.evaluation.baselines"}  # + the FLOP cache and the learners beside the real model
    assert all(len(store.code_version(m)) == 12 for m in names)
