"""The library's folders are the pipeline: imports run down it, never back up, never in a circle, and no module takes
another's private name. Read from the code's own imports (module top and inside functions alike)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fakeit_lib"
# the stages' subpackages from the bottom up: a module may import its own subpackage and those below it
LAYERS = ("core", "paper", "datasets", "prompts", "generation", "training", "evaluation", "experiments", "chapters",
          "builder")
# top-level modules: the command line, and what a notebook imports (its chapter's package included)
FACES = {"nb": LAYERS[:-1], "cli": ("core",), "__main__": ("cli",), "__init__": ()}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) of every import of the package in a file."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "":
        package = []
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "fakeit_lib" or node.module.startswith("fakeit_lib.")):
                target = node.module[len("fakeit_lib."):] if node.module != "fakeit_lib" else ""
            else:
                continue
            for alias in node.names:  # `from pkg import module` takes a module, not a name
                sub = f"{target}.{alias.name}" if target else alias.name
                if sub in known:
                    out.append((sub, [], node.lineno))
                else:
                    out.append((target, [alias.name], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("fakeit_lib."):
                    out.append((alias.name[len("fakeit_lib."):], [], node.lineno))
    return out


def layer(module: str) -> str:
    return module.split(".")[0] if module else "__init__"


def test_no_import_circle():
    known = modules()
    graph = {m: {t for t, _, _ in imports(p, known) if t in known and t != m} for m, p in known.items()}
    circles, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                circles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_imports_run_down_the_pipeline():
    known = modules()
    wrong = []
    for m, path in known.items():
        here = layer(m)
        for target, _, line in imports(path, known):
            there = layer(target)
            if target == "":  # the package itself (its version)
                continue
            if here in FACES:
                allowed = FACES[here] if here != "__init__" or m == "" else ()
                ok = there == here or there in allowed or (here == "__init__" and target == "")
            elif here in LAYERS:
                ok = there in LAYERS and LAYERS.index(there) <= LAYERS.index(here) or (here == "builder" and there == "nb")
            else:
                ok = False
            if not ok:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {m} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_module_takes_another_modules_private_name():
    known = modules()
    taken = []
    for m, path in known.items():
        for target, names, line in imports(path, known):
            if target != m:
                taken += [f"{path.relative_to(PACKAGE.parent)}:{line}: {n} from {target}" for n in names
                          if n.startswith("_") and not n.startswith("__")]
        # module._name through an imported module object
        tree = ast.parse(path.read_text())
        modules_here = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                        for a in node.names if (node.level or (node.module or "").startswith("fakeit_lib"))}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules_here
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                taken.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not taken, "\n".join(taken)


def test_every_subpackage_says_what_it_holds_and_may_import():
    for name in LAYERS:
        init = PACKAGE / name / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 12 and "import" in doc, f"{init} says too little: {doc!r}"


def test_the_top_level_holds_the_faces_and_the_stages():
    entries = sorted(p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__")))
    packages = [e for e in entries if (PACKAGE / e / "__init__.py").exists()]
    assert sorted(packages) == sorted(LAYERS)
    others = [e for e in entries if e not in packages]
    assert len(others) <= 10, others
    assert others == sorted(["__init__.py", "__main__.py", "cli.py", "data", "nb.py"]), others


def test_a_circle_is_seen(tmp_path, monkeypatch):
    """The circle check itself finds a circle hidden in a function (as the old prompts <-> backgrounds one was)."""
    pkg = tmp_path / "fakeit_lib"
    (pkg / "x").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "x" / "__init__.py").write_text("")
    (pkg / "x" / "a.py").write_text("from .b import f\n")
    (pkg / "x" / "b.py").write_text("def f():\n    from .a import g\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    with pytest.raises(AssertionError, match=r"x\.a -> x\.b -> x\.a"):
        test_no_import_circle()
