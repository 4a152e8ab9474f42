"""The book's notebooks: which `_toc.yml` lists, the parameters each declares, and one notebook executed by papermill
with a preset (a failing cell named by its number in the source notebook)."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from ..core.errors import FakeitError


KERNEL_START_TIMEOUT = 120  # seconds a notebook's kernel may take to start


CELL_TIMEOUT = {"smoke": 900, "mini": 4 * 3600}  # seconds one cell may run, by scale; paper-scale cells train for days


def toc_files(root: Path) -> list[str]:
    """Every file entry of `_toc.yml` (root first), in reading order, as written (no suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    out = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for key in ("chapters", "sections", "parts"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in toc.items() if k != "root"})
    return out


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of `_toc.yml`, in reading order, relative to the project root."""
    return [Path(f"{f}.ipynb") for f in toc_files(root) if (root / f"{f}.ipynb").exists()]


def notebook_parameters(path: Path) -> dict:
    """The parameters a notebook declares (name -> papermill's inferred info)."""
    import papermill

    return papermill.inspect_notebook(str(path))


def _source_cell(executed: Path, index: int) -> tuple[int, str]:
    """The 1-based number, in the source notebook, of executed cell `index`, and its first line."""
    import nbformat

    cells = [c for c in nbformat.read(executed, as_version=4).cells  # papermill adds an error banner cell on top
             if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:index])
    lines = cells[index].source.strip().splitlines() if index < len(cells) else []
    return index - injected + 1, (lines[0] if lines else "")


def execute_notebook(src: Path, dst: Path, preset: dict, cwd: Path, name: str | None = None) -> float:
    """Execute one notebook with the preset's parameters it declares; returns seconds. Raises on failure."""
    import papermill

    declared = notebook_parameters(src)
    params = {k: v for k, v in preset.items() if k in declared}
    dst.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(src), str(dst), parameters=params, cwd=str(cwd), kernel_name="python3",
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            start_timeout=KERNEL_START_TIMEOUT, execution_timeout=CELL_TIMEOUT.get(preset.get("scale")),
        )
    except TimeoutError as e:  # nbclient's CellTimeoutError (a cell ran past CELL_TIMEOUT)
        raise FakeitError(f"notebook {name or src} did not finish: {str(e).splitlines()[0]} (per-cell limit at "
                          f"scale {preset.get('scale')}, builder.notebooks.CELL_TIMEOUT)") from None
    except papermill.PapermillExecutionError as e:
        number, first_line = _source_cell(dst, e.cell_index)
        raise FakeitError(
            f"notebook {name or src} failed in cell {number} ({first_line!r}): {e.ename}: {e.evalue}"
            f" -- the executed notebook with the full traceback is {dst}"
        ) from None
    return time.perf_counter() - t0


def hide_parameter_cells(executed: Path) -> None:
    """Tag the default and the injected parameters cells `remove-cell`: a page shows only the table of the
    parameters actually used (nb.show_provenance), never the notebook's defaults as if they had run."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    nbformat.write(nb, executed)
