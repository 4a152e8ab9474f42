"""Notebook helpers: parameter validation, display set-up for the book, and the provenance line of every page."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any, TypeVar

from . import chapters
from .core.errors import FakeitError
from .core.params import from_dict
from .core.store import config_hash
from .paper.summary import table
from .paper.tables import seeds_note  # noqa: F401  (notebooks state their seeds with nb.seeds_note)
from .paper.tables import run_label as label

T = TypeVar("T")


TITLE_LINE = 42  # characters of a figure's title per line: plotly's 17 px title font takes about 8.2 px a character
# from about 19 px in, and a 420 px phone gives a figure about 388 px, so 44 fit; 42 leave a margin


def title_lines(text: str, width: int = TITLE_LINE) -> list[str]:
    """A figure title's lines as the book draws them: the title's own line breaks (`<br>`) kept, and each of its lines
    wrapped at `width` characters (a line break the title set is never merged into a wrapped line)."""
    import re
    import textwrap

    return [line for part in re.split(r"<br\s*/?>", text, flags=re.I) for line in (textwrap.wrap(part, width) or [""])]


def _register_book_renderer():
    """A plotly renderer for the book: plotly.js inline (offline), and no MathJax fetched from a CDN."""
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer  # plotly.io's public module of renderer classes

    class BookRenderer(NotebookRenderer):
        def to_mimebundle(self, fig_dict):
            # the figure fills its column and follows the window (a phone's 420 px as a laptop's 1300): a width the
            # figure's layout set would overflow a narrow screen, so it is dropped and plotly sizes it to the page
            layout = {k: v for k, v in fig_dict.get("layout", {}).items() if k != "width"} | {"autosize": True}
            title = layout.get("title") or {}
            if isinstance(title, dict) and title.get("text"):  # plotly never wraps a title
                lines = title_lines(title["text"])
                layout["title"] = {**title, "text": "<br>".join(lines)}
                if len(lines) > 1:
                    margin = layout.get("margin") or {}
                    layout["margin"] = {**margin, "t": max(margin.get("t", 80), 40 + 22 * len(lines))}
            fig_dict = {**fig_dict, "layout": layout}
            config = {"responsive": True, "displaylogo": False, **(self.config or {})}
            # plotly's notebook renderer always adds a CDN MathJax script; the book serves its own MathJax
            html = pio.to_html(fig_dict, config=config, auto_play=self.auto_play,
                               include_plotlyjs=self.include_plotlyjs, include_mathjax=False,
                               full_html=False, default_width="100%", default_height=525, validate=False)
            return {"text/html": html}

    pio.renderers["fakeit_book"] = BookRenderer()
    return "fakeit_book"


def setup() -> None:
    """Display settings for executed notebooks: plotly drawn inline (offline) in the built HTML, seaborn theme."""
    import plotly.io as pio

    # a kernel's default plotly mime bundle is dropped by myst-nb; inline HTML with plotly.js works offline
    pio.renderers.default = _register_book_renderer()
    try:
        import seaborn as sns

        sns.set_theme(context="notebook", style="whitegrid")
    except ImportError:  # pragma: no cover - seaborn is a dependency
        pass


def params_from(cls: type[T], namespace: dict[str, Any]) -> T:
    """The notebook's parameters (names of `cls`'s fields found in `namespace`) checked through `cls`; a parameter
    papermill injected that no notebook of the book knows (a typo) stops the notebook, naming the closest one."""
    import dataclasses
    import difflib

    known = notebook_parameter_names()
    for name in injected_parameters(namespace):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(sorted(known))}"
            raise FakeitError(f"unknown parameter {name!r}: no notebook of the book has it{hint}")
    names = [f.name for f in dataclasses.fields(cls)]
    return from_dict(cls, {n: namespace[n] for n in names if n in namespace})


def check_preset_names(params: dict[str, Any], preset: str, known: set[str] | frozenset[str] | None = None) -> None:
    """Raise FakeitError, before any work, when a preset sets a parameter no notebook of the book declares (`known`:
    the names the notebooks being run declare; default: the chapters' parameters). A typo would otherwise leave the
    declared default in force, and a paper run would plan and launch with it."""
    import difflib

    known = set(notebook_parameter_names() if known is None else known) | {"scale"}
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(sorted(known))}"
            raise FakeitError(f"preset {preset} sets {name!r}, a parameter no notebook of the book has{hint}")


def injected_parameters(namespace: dict[str, Any]) -> list[str]:
    """The names papermill injected into this kernel (its `# Parameters` cell, read from the input history `In`)."""
    import ast

    names = []
    for source in namespace.get("In") or []:
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                body = ast.parse(source).body
            except SyntaxError:
                continue
            names += [t.id for node in body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
    return names


@functools.lru_cache(maxsize=1)
def notebook_parameter_names() -> frozenset[str]:
    """Every parameter some notebook of the book declares: the fields of the chapters' parameter dataclasses (a
    preset sets them all, and each notebook takes its own)."""
    import dataclasses
    import importlib
    import pkgutil

    names: set[str] = set()
    for info in pkgutil.iter_modules(chapters.__path__):
        module = importlib.import_module(f"{chapters.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__name__.endswith("Params"):
                names |= {f.name for f in dataclasses.fields(obj)}
    return frozenset(names)


def run_label(p: Any) -> str:
    """How this run's rows are labelled beside the paper's: `this run (mini scale)` (the hash of the parameters is in
    the provenance line)."""
    return label(p.scale)


@functools.lru_cache(maxsize=1)
def commit() -> str:
    """The project's git commit (short, `+dirty` when the tree differs), or `unknown` outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of the packages results depend on."""
    out = {"python": platform.python_version()}
    for pkg in ("fakeit", "torch", "torchvision", "diffusers", "transformers", "nltk"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "-"
    return out


def provenance(scale: str, config: Any = None) -> dict[str, str]:
    """What a page's numbers come from: scale, commit, config hash, package versions."""
    out = {"scale": scale, "commit": commit()}
    if config is not None:
        out["config"] = config_hash(config)
    out.update(versions())
    return out


def show_provenance(scale: str, config: Any = None) -> None:
    """Display the provenance line at the top of a notebook's results (what ran: scale, commit, config hash,
    versions), and the parameters of this run folded below it; both marked as notes for developers (the class
    `fakeit-developers`), the one place of a page where the code's own names (parameters, hashes) are its text."""
    from IPython.display import Markdown, display

    p = provenance(scale, config)
    items = " · ".join(f"**{k}** `{v}`" for k, v in p.items())
    text = f"```{{container}} fakeit-developers\nRan at scale **{scale}**. {items}\n```"
    if config is not None:
        import dataclasses

        rows = "\n".join(f"| `{k}` | `{v!r}` |" for k, v in dataclasses.asdict(config).items())
        text += (f"\n\n````{{admonition}} Parameters of this run\n:class: dropdown fakeit-developers\n\n"
                 f"| parameter | value |\n|---|---|\n{rows}\n````")
    display(Markdown(text))


FINDINGS_KEY = "fakeit_findings"  # the glue key under which a page stores its verdicts (collected by the runner)


def record_findings(verdicts: list) -> Any:
    """Glue each verdict's sentence as markdown (key `v_<finding id>`), all sentences as a list (`findings_text`, for
    ```{glue:md} findings_text``` in the page's prose) and all verdicts as JSON (FINDINGS_KEY, collected into
    `_build/findings.json` by the runner); returns the page's table of findings to display."""
    import json

    import pandas as pd
    from IPython.display import Markdown
    from myst_nb import glue

    for v in verdicts:
        glue(f"v_{v.id}", Markdown(v.sentence()), display=False)
        glue(f"verdict_{v.id}", v.verdict, display=False)
    text = "\n".join(f"- {v.sentence()}" for v in verdicts) or "- No finding of the paper can be checked with these parameters."
    glue("findings_text", Markdown(text), display=False)
    glue(FINDINGS_KEY, json.dumps([v.to_dict() for v in verdicts]), display=False)
    return pd.DataFrame(table(verdicts)).style.hide(axis="index")
