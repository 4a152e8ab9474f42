"""The book runner: execute the notebooks of `_toc.yml` with papermill and a preset, then build the Jupyter Book.

Source notebooks in `notebooks/` are stored without outputs. The runner executes each into a staging copy of the
book (`_build/src/`), then builds the HTML from there (`_build/html/`), so sources stay clean and the executed
notebooks keep their papermill parameters in their metadata.

Nothing outlives a build. SIGTERM stops it cleanly: the running notebook's kernel is shut down (papermill's clean-up,
then a kill of the kernel's process group, its job workers included) and `fakeit book` exits with 143 and one line;
every stage is resumable, so the same command continues. Killed outright (`kill -9`), the build leaves nothing
either: the kernel ends when its parent does (ipykernel's parent poller, from the JPY_PARENT_PID jupyter_client sets)
and its job workers when theirs does (core/parallel.py).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import atomic_write_json, output_root
from ..experiments.calibrate import DEFAULT_SECONDS
from ..experiments.params import preset_params
from ..experiments.plan import refuse_unset
from ..experiments.presets import load_preset, project_root
from ..nb import check_preset_names
from .accounting import build_accounting, found_finished, levers_markdown
from .html import build_html, check_build_dir, stop_on_sigterm
from .notebooks import execute_notebook, hide_parameter_cells, notebook_parameters, toc_notebooks
from .pages import check_findings, finish_cost_page, write_cost_page, write_findings, write_plan_page

STAGED = ("_config.yml", "_toc.yml", "book", "examples")  # copied into the staging folder as they are


def stage_book(root: Path, stage: Path) -> None:
    """Copy the book's non-notebook sources into the staging folder."""
    stage.mkdir(parents=True, exist_ok=True)
    for name in STAGED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, stage / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, stage / name)


def build_book(preset: str = "mini", root: Path | None = None, build_dir: Path | None = None,
               only: list[str] | None = None, gpus: int | None = None) -> Path:
    """Execute every notebook of the book with a preset, build the HTML, and return the path of index.html. At paper
    scale on several GPUs (`gpus`, default: the visible ones) the plan's stages still to do are launched first with
    torchrun over them, as the plan prints them; the notebooks then find their outputs."""
    root = project_root(root)
    params = load_preset(preset, root)
    notebooks = toc_notebooks(root)
    check_preset_names(params, preset, {name for nb in notebooks for name in notebook_parameters(root / nb)})
    if params["scale"] == "paper":
        refuse_unset(preset_params(params))  # before anything starts, on one GPU or many
    build_dir = Path(build_dir or root / "_build")
    stage = build_dir / "src"
    if only:
        unknown = sorted(set(only) - {nb.stem for nb in notebooks})
        if unknown:
            raise FakeitError(f"unknown notebook(s) {', '.join(unknown)}; valid: {', '.join(nb.stem for nb in notebooks)}")
    check_build_dir(build_dir)  # the last check: it creates the folder
    doing = {"step": "staging the book"}
    with stop_on_sigterm(doing):
        return _build(preset, params, root, build_dir, stage, notebooks, only, doing, gpus)


def _build(preset: str, params: dict, root: Path, build_dir: Path, stage: Path, notebooks: list[Path],
           only: list[str] | None, doing: dict, gpus: int | None) -> Path:
    """Stage, execute and build the book, saying in `doing["step"]` what it is at; returns index.html."""
    stage_book(root, stage)
    write_plan_page(stage, root)
    print(f"preset {preset} (scale {params['scale']}), outputs under {output_root()}", flush=True)
    started = time.time()  # stages finished after this were computed by this build (builder.accounting)
    if params["scale"] == "paper":
        from ..experiments.launch import run_stages, visible_gpus

        gpus = visible_gpus() if gpus is None else gpus
        if gpus > 1:
            run_stages(params, gpus, cwd=root, log=lambda m: print(m, flush=True))
    timings = {}
    for nb in notebooks:
        if only and nb.stem not in only and (stage / nb).exists():
            continue
        print(f"executing {nb} ...", flush=True)
        doing["step"] = f"executing {nb}"
        timings[str(nb)] = round(execute_notebook(root / nb, stage / nb, params, root, str(nb)), 1)
        hide_parameter_cells(stage / nb)
        print(f"  done in {timings[str(nb)]} s", flush=True)
    atomic_write_json(build_dir / "timings.json", {"preset": preset, "scale": params["scale"], "seconds": timings})
    findings = write_findings(stage, build_dir, notebooks, preset_params(params).generator)
    check_findings(findings, [nb.stem for nb in notebooks if (stage / nb).exists()])
    print(f"findings: {len(findings)} checked, written to {build_dir / 'findings.json'}", flush=True)
    acc = build_accounting(output_root(), started)
    write_cost_page(stage, preset, params["scale"], timings, levers_markdown(acc, params), found_finished(acc))
    t0 = time.perf_counter()
    print("building the HTML book ...", flush=True)
    doing["step"] = "building the HTML book"
    index = build_html(stage, build_dir)
    html_seconds = round(time.perf_counter() - t0, 1)
    finish_cost_page(index, sum(timings.values()), html_seconds)
    atomic_write_json(build_dir / "timings.json", {"preset": preset, "scale": params["scale"], "seconds": timings,
                                                    "html_seconds": html_seconds,
                                                    "total_seconds": round(sum(timings.values()) + html_seconds, 1)})
    print(f"notebooks {sum(timings.values()) / 60:.1f} min, HTML {html_seconds / 60:.1f} min", flush=True)
    return index


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fakeit book`."""
    parser.add_argument("--preset", default="mini", help="smoke, mini (default) or paper, or a preset YAML file")
    parser.add_argument("--build-dir", type=Path, default=None, help="where to stage and build (default ./_build)")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="execute only these notebooks (by stem)")
    parser.add_argument("--plan", action="store_true",
                        help="print every stage of the preset with its command, whether its output exists, its "
                             "estimated hours and disk, and the files it needs from outside, then stop (nothing is run)")
    parser.add_argument("--gpus", type=int, default=None, metavar="N",
                        help="GPUs to plan for or run on: paper-scale stages run as torchrun over N processes "
                             "(default: 1 for --plan, the visible GPUs for a build)")
    parser.add_argument("--cpus", type=int, default=0, metavar="N",
                        help="--plan: CPU cores beside the GPUs, which decode the images (default: a DGX A100's, 16 "
                             "for each GPU planned; never this machine's)")
    parser.add_argument("--calibrate", type=float, nargs="?", const=DEFAULT_SECONDS, default=None, metavar="SECONDS",
                        help="--plan: first measure this machine's throughputs (generation, training through the "
                             f"real loader, probe), each within SECONDS (default {DEFAULT_SECONDS:g}), and print them beside the "
                             "assumed ones")


def run(args: argparse.Namespace) -> int:
    """`fakeit book`: execute the notebooks and build the book; prints the path of index.html (--plan: the plan)."""
    if getattr(args, "gpus", None) is not None and args.gpus < 1:
        raise FakeitError(f"--gpus {args.gpus} is not valid; valid: a number of GPUs, at least 1")
    if getattr(args, "cpus", 0) < 0:
        raise FakeitError(f"--cpus {args.cpus} is not valid; valid: a number of CPU cores, at least 1 (or 0: a DGX A100's, 16 a GPU)")
    if not getattr(args, "plan", False) and getattr(args, "calibrate", None) is not None:
        raise FakeitError("--calibrate measures the throughputs of a plan; valid only with --plan")
    if getattr(args, "plan", False):
        from ..experiments.report import plan_report

        params = load_preset(args.preset, project_root())
        check_preset_names(params, args.preset)
        print(plan_report(args.preset, params, args.gpus or 1, args.cpus, args.calibrate))
        return 0
    index = build_book(args.preset, build_dir=args.build_dir, only=args.only, gpus=args.gpus)
    print(f"book: {index}")
    return 0
