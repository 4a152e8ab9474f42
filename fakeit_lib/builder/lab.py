"""`fakeit lab` (and `make lab`): the book's notebooks, with a preset's parameters injected, ready to open in JupyterLab.

Each notebook of `_toc.yml` is copied into the lab folder (default `./lab`, git-ignored) by papermill without being
run (`prepare_only`): below its parameters cell sits an `injected-parameters` cell holding the preset's values, the
same values `make book` gives it. Opened with FAKEIT_OUTPUT pointing at the book's output root (as `make lab` does),
every stage the book finished is loaded, not recomputed: one explores the very run the book shows. Run again, it
rewrites the prepared notebooks from the sources (edits made in the lab folder are overwritten).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import FakeitError
from ..experiments.presets import load_preset, project_root


def prepare_lab(preset: str = "mini", root: Path | None = None, out: Path | None = None) -> list[Path]:
    """Write every notebook of the book into `out` with the preset's parameters injected (nothing executed)."""
    import papermill

    from ..nb import check_preset_names
    from .notebooks import notebook_parameters, toc_notebooks

    root = project_root(root)
    params = load_preset(preset, root)
    check_preset_names(params, preset)
    out = Path(out) if out is not None else root / "lab"
    if out.resolve() in (root.resolve(), (root / "notebooks").resolve()):
        raise FakeitError(f"lab folder {out} would overwrite the source notebooks; choose another folder (default ./lab)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for nb in toc_notebooks(root):
        declared = notebook_parameters(root / nb)
        papermill.execute_notebook(str(root / nb), str(out / nb.name), parameters={k: v for k, v in params.items() if k in declared},
                                   prepare_only=True, kernel_name="python3", progress_bar=False)
        written.append(out / nb.name)
    return written


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fakeit lab`."""
    parser.add_argument("--preset", default="mini", help="smoke, mini (default), paper or paper-1k, or a preset YAML file")
    parser.add_argument("--out", type=Path, default=None, help="where to write the prepared notebooks (default ./lab)")


def run(args: argparse.Namespace) -> int:
    """`fakeit lab`: prepare the notebooks and say how to open them."""
    written = prepare_lab(args.preset, out=args.out)
    folder = written[0].parent if written else args.out
    print(f"{len(written)} notebooks with the {args.preset} preset's parameters in {folder}; open them with "
          f"`jupyter lab` in that folder, FAKEIT_OUTPUT set to the book's output root (`make lab` does both)")
    return 0
