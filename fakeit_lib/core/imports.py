"""The modules of this package that a module runs: its import closure, read from the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

from .errors import FakeitError

PACKAGE = __name__.split(".")[0]
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_file(module: str, root: Path = PACKAGE_DIR) -> Path | None:
    """The source file of a dotted module name of this package (`<pkg>/a/b.py` or `<pkg>/a/b/__init__.py`), or None
    when the name is not a module of the package (a function or class imported by name, another package)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    path = root.joinpath(*parts[1:])
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if len(parts) > 1 and path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _with_parents(module: str) -> list[str]:
    """`a.b.c` and the packages Python runs before it: `a`, `a.b`, `a.b.c`."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_names(module: str, root: Path = PACKAGE_DIR) -> set[str]:
    """Every dotted name the source of `module` imports, anywhere in it (at the top and inside function bodies),
    relative imports made absolute; `from a import b` gives both `a` and `a.b` (b may be a module or a name in a)."""
    path = module_file(module, root)
    tree = ast.parse(path.read_bytes(), filename=str(path))
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]  # the package relative imports start in
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def import_closure(module: str, root: Path = PACKAGE_DIR) -> list[str]:
    """The modules of this package that importing `module` runs, `module` included, sorted: every module it imports
    (at the top or inside a function), the modules those import, and so on, with the packages (`__init__`) above
    each. Imports of other packages (torch, the standard library) are left out: their versions are not code of a
    stage. Raises FakeitError when `module` is not a module of this package."""
    if module_file(module, root) is None:
        raise FakeitError(f"{module!r} is not a module of {PACKAGE} (expected a dotted name such as "
                          f"'{PACKAGE}.training.loop' of a file under {root})")
    seen: set[str] = set()
    todo = _with_parents(module)
    while todo:
        name = todo.pop()
        if name in seen or module_file(name, root) is None:
            continue
        seen.add(name)
        for imported in imported_names(name, root):
            todo.extend(_with_parents(imported))
    return sorted(seen)
