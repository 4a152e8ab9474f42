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
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from ..core.errors import FakeitError, Stopped
from ..core.store import atomic_write_json
from ..experiments.params import preset_params
from ..experiments.plan import refuse_unset
from ..experiments.presets import load_preset, project_root
from ..nb import check_preset_names
from ..paper.summary import link

KERNEL_START_TIMEOUT = 120  # seconds a notebook's kernel may take to start
CELL_TIMEOUT = {"smoke": 900, "mini": 4 * 3600}  # seconds one cell may run, by scale; paper-scale cells train for days
BUILD_TIMEOUT = 1800  # seconds the HTML build of the executed notebooks may take
STAGED = ("_config.yml", "_toc.yml", "book", "examples")  # copied into the staging folder as they are


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
                          f"scale {preset.get('scale')}, runner.CELL_TIMEOUT)") from None
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


def collect_findings(stage: Path, notebooks: list[Path]) -> list[dict]:
    """The verdicts every executed notebook glued under nb.FINDINGS_KEY, in reading order, with their page."""
    import ast

    import nbformat

    from ..nb import FINDINGS_KEY

    out = []
    for rel in notebooks:
        path = stage / rel
        if not path.exists():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.get("metadata", {}).get("scrapbook", {}).get("name") == FINDINGS_KEY:
                    prefix = output["metadata"]["scrapbook"].get("mime_prefix", "")
                    text = ast.literal_eval(output["data"][prefix + "text/plain"])
                    out += [{**v, "page": rel.with_suffix("").as_posix()} for v in json.loads(text)]
    return out


FINDINGS_MARKER = "<!-- findings: filled in by the runner -->"
RESULT_MARKER = "<!-- result: filled in by the runner -->"  # the introduction's first lines and the discussion's recap


def verdict_counts(labels: list[str]) -> dict[str, int]:
    """How many findings got each verdict label: the library's labels in their order, then any other label in the
    order it first appears (a rule may gain a label: it is counted, never dropped)."""
    from collections import Counter

    from ..paper.findings import VERDICTS

    counts = Counter(labels)
    return {k: counts[k] for k in [*VERDICTS, *dict.fromkeys(labels)] if counts.get(k)}


def findings_summary(findings: list[dict], titles: dict[str, str] | None = None) -> str:
    """The result in a few lines: one line per verdict, after Holm's correction over the tested findings, each finding
    linked to its page; the inconclusive ones with the seeds that would decide them, the untested ones with why."""
    from ..paper.findings import INCONCLUSIVE, UNTESTABLE

    if not findings:
        return "No finding of the paper was checked in this build.\n"
    labels = [f.get("after_holm", f["verdict"]) for f in findings]
    scales = sorted({f["scale"] for f in findings if f.get("scale")})  # the scale each verdict was computed at
    at = f"at the {scales[0]} scale" if len(scales) == 1 else "in this build"
    tested = sum(label != UNTESTABLE for label in labels)
    lines = [f"**The result {at}.** This build checked {len(findings)} findings of the paper and could test {tested} "
             f"of them; a verdict below counts only if it survives the correction for testing {tested} findings at "
             "once (Holm's; {doc}`the introduction's table <intro>` gives every finding).", ""]
    for label, n in verdict_counts(labels).items():
        group = [f for f, lab in zip(findings, labels) if lab == label]
        head = f"- **{label[0].upper() + label[1:]}** ({n} of {len(findings)}): "
        if label == INCONCLUSIVE:
            seeds = [f["seeds_to_decide"] for f in group if f.get("seeds_to_decide")]
            pages = list(dict.fromkeys(f["page"] for f in group))
            where = ", ".join(link(next(f for f in group if f["page"] == pg),
                                    f"{sum(f['page'] == pg for f in group)} on {_title(titles, pg)}") for pg in pages)
            more = (f"about {min(seeds)} to {max(seeds)} seeds would decide them" if len(set(seeds)) > 1 else
                    f"about {seeds[0]} seeds would decide them" if seeds else "more seeds would decide them")
            lines.append(head + f"{where}; the intervals are too wide to decide ({more}).")
        elif label == UNTESTABLE:
            pages = list(dict.fromkeys(f["page"] for f in group))
            parts = []
            for pg in pages:
                on_page = [f for f in group if f["page"] == pg]
                why = "; ".join(dict.fromkeys(_short_reason(f.get("reason", "")) for f in on_page))
                parts.append(link(on_page[0], f"{len(on_page)} on {_title(titles, pg)}") + f" ({why})")
            lines.append(head + ", ".join(parts) + ".")
        else:
            lines.append(head + "; ".join(link(f) for f in group) + ".")
    return "\n".join(lines) + "\n"


def short_titles(stage: Path, notebooks: list[Path]) -> dict[str, str]:
    """Each executed page's short name for running text: its title up to the colon (`Table 1: which prompts ...` ->
    `Table 1`), keyed by page (`notebooks/tab1_prompts`)."""
    import nbformat

    out = {}
    for rel in notebooks:
        if (stage / rel).exists():
            cells = nbformat.read(stage / rel, as_version=4).cells
            title = next((ln[2:] for c in cells if c.cell_type == "markdown" for ln in c.source.splitlines()
                          if ln.startswith("# ")), rel.stem)
            head, _, rest = title.partition(":")
            # `Beyond the paper: backgrounds matched ...` says what the page is after its colon
            out[rel.with_suffix("").as_posix()] = (rest.strip()[:1].upper() + rest.strip()[1:]
                                                   if head.startswith("Beyond") and rest else head.strip())
    return out


def _title(titles: dict[str, str] | None, page: str) -> str:
    """A page's short name (`Table 1`), or its file's name in words when the titles do not hold it."""
    return (titles or {}).get(page) or page.rsplit("/", 1)[-1].replace("_", " ")


def _short_reason(reason: str) -> str:
    """A reason's first clause, for a summary line (its page gives the whole)."""
    cut = min([i for i in (reason.find(m) for m in (", so ", ": ", "; ", " (")) if i > 0] + [len(reason)])
    return reason[:cut].strip().rstrip(".")


def check_findings(findings: list[dict], pages: list[str]) -> None:
    """Raise FakeitError unless the executed pages (notebook stems) stated each of their registered findings exactly
    once, and no other (no chapter may drop a finding: an untestable one says why)."""
    from collections import Counter

    from ..paper.claims import FINDINGS

    seen = Counter(f["id"] for f in findings)
    twice = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(k for k, f in FINDINGS.items() if f.chapter in pages and k not in seen)
    unknown = sorted(set(seen) - set(FINDINGS))
    if twice or missing or unknown:
        raise FakeitError(f"the book's findings must be the registered ones, each once; missing: {', '.join(missing) or '-'}; "
                          f"twice: {', '.join(twice) or '-'}; unknown: {', '.join(unknown) or '-'}")


GENERATOR_MARKER = "<!-- generator: filled in by the runner -->"


def write_findings(stage: Path, build_dir: Path, notebooks: list[Path], generator: str | None = None) -> list[dict]:
    """Write `<build>/findings.json` and fill the staged introduction's findings table and the sentence on what the
    preset's generator learnt from; returns the verdicts."""
    from ..generation.mini.captions import generator_summary
    from ..paper.summary import findings_markdown, with_holm

    findings = with_holm(collect_findings(stage, notebooks))
    atomic_write_json(build_dir / "findings.json", findings)
    for page in (stage / "book").glob("*.md"):
        text = page.read_text()
        if FINDINGS_MARKER in text:
            text = text.replace(FINDINGS_MARKER, findings_markdown(findings))
        if RESULT_MARKER in text:
            text = text.replace(RESULT_MARKER, findings_summary(findings, short_titles(stage, notebooks)))
        if GENERATOR_MARKER in text and generator:
            text = text.replace(GENERATOR_MARKER, generator_summary(generator))
        page.write_text(text)
    return findings


def stage_book(root: Path, stage: Path) -> None:
    """Copy the book's non-notebook sources into the staging folder."""
    stage.mkdir(parents=True, exist_ok=True)
    for name in STAGED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, stage / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, stage / name)


COST_PAGE = Path("book") / "build_cost.md"
COST_MARKER = "<!-- build timings: filled in by the runner -->"


def cost_table(preset: str, scale: str, timings: dict[str, float]) -> str:
    """A markdown table of per-notebook execution times."""
    import platform

    from ..nb import commit

    lines = [f"Preset `{preset}` (scale **{scale}**), commit `{commit()}`, {os.cpu_count()} CPU cores, "
             f"{platform.machine()}.", "", "| step | seconds | minutes |", "|---|---:|---:|"]
    lines += [f"| `{nb}` | {sec:.1f} | {sec / 60:.1f} |" for nb, sec in timings.items()]
    notebooks = sum(timings.values())
    lines.append(f"| notebooks | **{notebooks:.1f}** | **{notebooks / 60:.1f}** |")
    lines.append(f"| HTML (Jupyter Book) | {HTML_SECONDS} | |")
    lines.append(f"| **notebooks and HTML** | **{TOTAL_SECONDS}** | **{TOTAL_MINUTES}** |")
    if scale == "mini":
        lines += ["", f"The mini book's budget is {MINI_BUDGET_MINUTES} minutes for notebooks and HTML on a 2-core machine "
                  f"from a fresh output folder: this build was {BUDGET_VERDICT}."]
    return "\n".join(lines) + "\n"


# filled into the built cost page once the HTML build (which renders that page) has finished
HTML_SECONDS, TOTAL_SECONDS, TOTAL_MINUTES = "HTMLSECONDSPENDING", "TOTALSECONDSPENDING", "TOTALMINUTESPENDING"
BUDGET_VERDICT = "BUDGETVERDICTPENDING"
MINI_BUDGET_MINUTES = 25


def budget_verdict(total_seconds: float, cores: int | None) -> str:
    """How a mini build's time compares with the budget, in words."""
    minutes = total_seconds / 60
    where = f"on {cores} cores" if cores else "on this machine"
    if minutes <= MINI_BUDGET_MINUTES:
        return f"within it ({minutes:.1f} minutes {where})"
    return f"over it by {minutes - MINI_BUDGET_MINUTES:.1f} minutes ({minutes:.1f} minutes {where})"


def finish_cost_page(index: Path, notebooks_seconds: float, html_seconds: float) -> None:
    """Write the HTML build's time and the grand total into the built cost page (measured after it was rendered)."""
    for page in index.parent.rglob("build_cost.html"):
        total = notebooks_seconds + html_seconds
        text = page.read_text().replace(HTML_SECONDS, f"{html_seconds:.1f}").replace(TOTAL_SECONDS, f"{total:.1f}")
        text = text.replace(BUDGET_VERDICT, budget_verdict(total, os.cpu_count()))
        page.write_text(text.replace(TOTAL_MINUTES, f"{total / 60:.1f}"))


def write_cost_page(stage: Path, preset: str, scale: str, timings: dict[str, float], levers: str = "") -> None:
    """Fill the staged cost page's marker with this build's timings, what it computed and what the levers saved
    (builder.accounting), and the package versions (if the page exists)."""
    from .environment import versions_table

    page = stage / COST_PAGE
    if page.exists() and COST_MARKER in page.read_text():
        computed = f"\n## What this build computed\n\n{levers}" if levers else ""
        filled = cost_table(preset, scale, timings) + computed + "\n" + versions_table()
        page.write_text(page.read_text().replace(COST_MARKER, filled))


PLAN_PAGE = Path("book") / "paper_scale.md"
PLAN_MARKER = "<!-- paper-scale plans: filled in by the runner -->"
PLAN_PRESETS = {"paper": "ImageNet-100 (preset `paper`)", "paper-1k": "ImageNet-1K (preset `paper-1k`)"}


def plan_page_text(root: Path) -> str:
    """The paper-scale plans of the `paper` and `paper-1k` presets as markdown tables with grand totals, and the
    cost model behind their estimates (made when the book is built, from the library's plan)."""
    from ..core.store import cache_root, output_root
    from ..experiments.report import plan_page

    text = plan_page({title: load_preset(name, root) for name, title in PLAN_PRESETS.items()
                      if (root / "presets" / f"{name}.yaml").exists()})
    # the commands name the output root of the machine that built the book (a temp folder under the tests): a
    # reader's commands write under their own $FAKEIT_OUTPUT
    for folder, name in ((output_root(), "$FAKEIT_OUTPUT"), (cache_root(), "$FAKEIT_CACHE")):
        if folder.is_absolute():
            text = text.replace(str(folder), name)
    return text


def write_plan_page(stage: Path, root: Path) -> None:
    """Fill the staged paper-scale page's marker with the plans (when the book has that page)."""
    page = stage / PLAN_PAGE
    if page.exists() and PLAN_MARKER in page.read_text():
        page.write_text(page.read_text().replace(PLAN_MARKER, plan_page_text(root)))


def build_html(stage: Path, out: Path) -> Path:
    """Build the HTML book from the staging folder into `<out>/html` with warnings as errors; returns index.html."""
    jb = Path(sys.executable).with_name("jupyter-book")
    # jupyter-book writes to `<path-output>/_build/html`: aim it so that this is `<out>/html`
    path_output = out.parent if out.name == "_build" else out
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(stage), "--path-output", str(path_output),
           "--builder", "html", "-W", "-n", "--keep-going", "--all"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FakeitError(f"the book build did not finish within {BUILD_TIMEOUT} s: {' '.join(cmd)}") from None
    log = out / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    warnings = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "ERROR" in ln]
    if proc.returncode != 0 or warnings:
        detail = "\n".join(warnings[:20]) or (proc.stderr or proc.stdout)[-2000:]
        raise FakeitError(f"the book build failed (log: {log}):\n{detail}")
    index = path_output / "_build" / "html" / "index.html"
    if not index.exists():
        raise FakeitError(f"the book build wrote no {index} (log: {log})")
    return index


def check_build_dir(build_dir: Path) -> None:
    """Create `build_dir`, or raise FakeitError naming it when it cannot be created or written (before any work)."""
    if build_dir.exists() and not build_dir.is_dir():
        raise FakeitError(f"build folder {build_dir} is a file, not a folder; give a folder (default: ./_build)")
    existing = next((p for p in [build_dir, *build_dir.parents] if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        raise FakeitError(f"cannot write the build folder {build_dir}: {existing} is not writable; give another --build-dir")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FakeitError(f"cannot write the build folder {build_dir}: {e.strerror}; give another --build-dir") from None


@contextlib.contextmanager
def stop_on_sigterm(doing: dict):
    """Within the block (in the main thread), SIGTERM raises Stopped naming `doing["step"]` instead of ending the
    process at once, so that the clean-up on the way out shuts the notebook's kernel down with its workers; a second
    SIGTERM ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        import logging

        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # the cell nbclient was waiting on ends with its kernel, in a task nobody awaits any more: asyncio would log
        # that task's error at exit, after the one line that says why the build stopped
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        raise Stopped(f"stopped by SIGTERM while {doing['step']}; the finished stages are kept: run the same command "
                      "to resume", signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from ..core.store import output_root

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
    from .accounting import build_accounting, levers_markdown

    write_cost_page(stage, preset, params["scale"], timings, levers_markdown(build_accounting(output_root(), started), params))
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
    from ..experiments.calibrate import DEFAULT_SECONDS

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
