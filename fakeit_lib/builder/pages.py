"""The book's pages the runner fills in: the findings (collected from the executed notebooks, checked, written to
`findings.json`, summed up in the introduction), the build's cost page and the paper-scale plans."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import atomic_write_json, cache_root, output_root
from ..experiments.presets import load_preset
from ..experiments.report import plan_page, plan_totals_text, planned
from ..paper.claims import FINDINGS, PAPER_GROUP
from ..paper.findings import FAILS, INCONCLUSIVE, UNTESTABLE, VERDICTS, replicates
from ..paper.summary import barely_reacts, family_counts, findings_markdown, link, short_reason, with_holm
from .environment import versions_table


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


# beside a "does not hold" whose generator barely reacted to the prompt change (summary.barely_reacts)
DEAF = (" (but this build's generator barely reacts to that prompt change, so the null speaks of the generator, not "
        "of the prompt with Stable Diffusion)")


RESULT_MARKER = "<!-- result: filled in by the runner -->"  # the introduction's first lines and the discussion's recap


def verdict_counts(labels: list[str]) -> dict[str, int]:
    """How many findings got each verdict label: the library's labels in their order, then any other label in the
    order it first appears (a rule may gain a label: it is counted, never dropped)."""
    from collections import Counter

    counts = Counter(labels)
    return {k: counts[k] for k in [*VERDICTS, *dict.fromkeys(labels)] if counts.get(k)}


def findings_summary(findings: list[dict], titles: dict[str, str] | None = None) -> str:
    """The result in a few lines: one line per verdict, after Holm's correction over the tested findings, each finding
    linked to its page; the inconclusive ones with the seeds that would decide them, the untested ones with why."""
    if not findings:
        return "No finding of the paper was checked in this build.\n"
    scales = sorted({f["scale"] for f in findings if f.get("scale")})  # the scale each verdict was computed at
    at = f"at the {scales[0]} scale" if len(scales) == 1 else "in this build"
    c = family_counts(findings)  # the family Holm's correction runs over: the paper's tested findings
    ours = [f for f in findings if f.get("group", PAPER_GROUP) != PAPER_GROUP]  # beyond the paper: a line of their own
    paper = [f for f in findings if f.get("group", PAPER_GROUP) == PAPER_GROUP]  # the counts are the paper's
    labels = [f.get("after_holm", f["verdict"]) for f in paper]
    tested_ours = sum(f["verdict"] != UNTESTABLE for f in ours)
    if len(ours) == 1:
        beyond = " It also checks 1 finding beyond the paper, at 95% on its own" + ("." if tested_ours else
                                                                                    ", which it could not test.")
    else:
        beyond = (f" It also checks {len(ours)} findings beyond the paper, each at 95% on its own, and could test "
                  f"{tested_ours} of them." if ours else "")
    lines = [f"**The result {at}.** Of the paper's {c['paper']} findings, this build could test {c['tested']}; a "
             f"verdict on them counts only if it survives Holm's correction for testing those {c['tested']} at once."
             f"{beyond} {{ref}}`The introduction's table <intro-findings>` gives every finding.", ""]
    for label, n in verdict_counts(labels).items():
        group = [f for f, lab in zip(paper, labels) if lab == label]
        head = f"- **{label[0].upper() + label[1:]}** ({n}): "
        if label == INCONCLUSIVE:
            seeds = [f["seeds_to_decide"] for f in group if f.get("seeds_to_decide") and replicates(f) == "seeds"]
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
                why = "; ".join(dict.fromkeys(short_reason(f.get("reason", "")) for f in on_page))
                parts.append(link(on_page[0], f"{len(on_page)} on {_title(titles, pg)}") + f" ({why})")
            lines.append(head + ", ".join(parts) + ".")
        else:
            # each claim without its own full stop: "claim a; claim b." (not "claim a.; claim b.."); a null drawn by a
            # generator that barely reacts to the prompt change says so beside it
            lines.append(head + "; ".join(link(f, f["claim"].rstrip(". ")) + (DEAF if label == FAILS and barely_reacts(f)
                                                                              else "") for f in group) + ".")
    if ours:  # each with its verdict at 95% and, undecided, what would decide it or why it could not be tested
        said = []
        for f in ours:
            text = f"{link(f, f['claim'].rstrip('. '))}: {f['verdict']}"
            if f["verdict"] == UNTESTABLE and f.get("reason"):
                text += f" ({short_reason(f['reason'])})"
            elif f["verdict"] == INCONCLUSIVE and f.get("seeds_to_decide"):
                text += f" (about {f['seeds_to_decide']} {replicates(f)} would decide it)"
            elif f["verdict"] == FAILS and barely_reacts(f):
                text += DEAF
            said.append(text)
        lines.append(f"- **Beyond the paper** ({len(ours)}): " + "; ".join(said) + ".")
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


def check_findings(findings: list[dict], pages: list[str]) -> None:
    """Raise FakeitError unless the executed pages (notebook stems) stated each of their registered findings exactly
    once, and no other (no chapter may drop a finding: an untestable one says why)."""
    from collections import Counter

    seen = Counter(f["id"] for f in findings)
    twice = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(k for k, f in FINDINGS.items() if f.chapter in pages and k not in seen)
    unknown = sorted(set(seen) - set(FINDINGS))
    if twice or missing or unknown:
        raise FakeitError(f"the book's findings must be the registered ones, each once; missing: {', '.join(missing) or '-'}; "
                          f"twice: {', '.join(twice) or '-'}; unknown: {', '.join(unknown) or '-'}")


GENERATOR_MARKER = "<!-- generator: filled in by the runner -->"


def page_result(findings: list[dict], label: str | None = None) -> str:
    """A chapter's verdicts in a few lines, for the top of its page: each finding with its verdict at 95% on the page,
    and after Holm's correction over the paper's findings where that differs (what the introduction counts); the
    untested ones with their reason's first clause; `label` names the section that gives the numbers."""
    if not findings:
        return ""
    where = f" ({{ref}}`the numbers <{label}>`)" if label else ""
    lines = [f"**This page's result at the {findings[0]['scale']} scale**{where}:", ""]
    for f in findings:
        verdict, after = f["verdict"], f.get("after_holm", f["verdict"])
        text = f"- {f['claim'].rstrip('. ')}: **{verdict}**"
        if after != verdict:
            text += f" on this page, {after} after Holm's correction over the paper's findings"
        why = [short_reason(f["reason"])] if verdict == UNTESTABLE and f.get("reason") else []
        if f.get("group") and f["group"] != PAPER_GROUP:  # one parenthesis: "(beyond the paper ...; its reason)"
            why.insert(0, "beyond the paper, so tested at 95% on its own, outside Holm's correction over the paper's findings")
        if why:
            text += f" ({'; '.join(why)})"
        if verdict == FAILS and barely_reacts(f):
            text += DEAF
        lines.append(text + ".")
    return "\n".join(lines) + "\n"


VERDICT_HEADINGS = ("## The paper's findings, checked", "## The paper's finding, checked",
                    "## The paper's ImageNet-1K findings, checked", "## The finding, checked")


def put_results_first(stage: Path, notebooks: list[Path], findings: list[dict]) -> None:
    """Give every executed page that states findings its result right under its opening cell (title and question),
    linked to the section where the numbers are, so that a reader meets the verdicts before the code."""
    import nbformat

    for rel in notebooks:
        path, page = stage / rel, rel.with_suffix("").as_posix()
        mine = [f for f in findings if f.get("page") == page]
        if not mine or not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        # a page kept from an earlier build (`--only`) has its result already: replaced, never repeated
        nb.cells = [c for c in nb.cells if RESULT_TAG not in c.metadata.get("tags", [])]
        label = f"verdicts-{rel.stem.replace('_', '-')}"
        found = None
        for cell in nb.cells:
            text = cell.source.lstrip()
            if text.startswith(f"({label})=\n"):
                found = label
            elif cell.cell_type == "markdown" and any(text.startswith(h) for h in VERDICT_HEADINGS):
                cell.source, found = f"({label})=\n" + text, label
            if found:
                break
        first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
        if first is None:
            continue
        cell = nbformat.v4.new_markdown_cell(page_result(mine, found), metadata={"tags": [RESULT_TAG]})
        nb.cells.insert(first + 1, cell)
        nbformat.write(nb, path)


RESULT_TAG = "page-result"  # the cell put_results_first adds


def write_findings(stage: Path, build_dir: Path, notebooks: list[Path], generator: str | None = None) -> list[dict]:
    """Write `<build>/findings.json` and fill the staged introduction's findings table and the sentence on what the
    preset's generator learnt from; returns the verdicts."""
    from ..generation.mini.captions import generator_summary

    findings = with_holm(collect_findings(stage, notebooks))
    atomic_write_json(build_dir / "findings.json", findings)
    put_results_first(stage, notebooks, findings)
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


COST_PAGE = Path("book") / "build_cost.md"


COST_MARKER = "<!-- build timings: filled in by the runner -->"


def cost_table(preset: str, scale: str, timings: dict[str, float], titles: dict[str, str] | None = None,
               reused: int = 0, precision: str | None = None) -> str:
    """A markdown table of per-chapter execution times (each chapter by its short title, `titles` from short_titles,
    else its file's name in words) and, at the mini scale, the budget judged only on a build that computed every stage
    (`reused`: finished stages its output folder held when it started), with the precision its training ran in."""
    import platform

    from ..nb import commit

    which = f"The {scale} scale" + (f" (preset `{preset}`)" if preset != scale else "")
    lines = [f"{which}, commit `{commit()}`, {os.cpu_count()} CPU cores, {platform.machine()}.", ""]
    if scale == "mini":  # what the minutes below are (a build or a rebuild) before the reader reads them
        lines += [budget_text(reused, precision or mini_precision()), ""]
    lines += ["| step | seconds | minutes |", "|---|---:|---:|"]
    lines += [f"| {step_name(nb, titles)} | {sec:.1f} | {sec / 60:.1f} |" for nb, sec in timings.items()]
    notebooks = sum(timings.values())
    lines.append(f"| all chapters | **{notebooks:.1f}** | **{notebooks / 60:.1f}** |")
    lines.append(f"| HTML (Jupyter Book) | {HTML_SECONDS} | {HTML_MINUTES} |")
    lines.append(f"| **chapters and HTML** | **{TOTAL_SECONDS}** | **{TOTAL_MINUTES}** |")
    return "\n".join(lines) + "\n"


def step_name(notebook: str, titles: dict[str, str] | None = None) -> str:
    """A chapter's name for the cost table: its short title (`Table 1`), else its file's stem in words (`tab1_prompts`
    -> `Table 1 prompts`), never a file name, which breaks mid-word in a narrow column."""
    page = Path(notebook).with_suffix("").as_posix()
    if (titles or {}).get(page):
        return titles[page]
    words = re.sub(r"^tab(\d+)_?", r"Table \1 ", re.sub(r"^fig(\d+)_?", r"Fig. \1 ", Path(page).name)).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# filled into the built cost page once the HTML build (which renders that page) has finished
HTML_SECONDS, TOTAL_SECONDS, TOTAL_MINUTES = "HTMLSECONDSPENDING", "TOTALSECONDSPENDING", "TOTALMINUTESPENDING"
HTML_MINUTES = "HTMLMINUTESPENDING"


BUDGET_VERDICT = "BUDGETVERDICTPENDING"


MINI_BUDGET_MINUTES = 25


# a full mini build from a clean clone, set-up included, on a 2-core AVX2-only machine (float32 training) with the test
# suite running beside it (README, "mini scale")
FLOAT32_BUILD_MINUTES = 138


def budget_text(reused: int, precision: str) -> str:
    """The mini budget and this build against it: judged only from a fresh output folder (a build that loads finished
    stages says how long a rebuild takes, not a build), then why a build can overrun and the precision this one took."""
    head = (f"The mini book's budget is {MINI_BUDGET_MINUTES} minutes for chapters and HTML on a 2-core machine from a "
            "fresh output folder")
    if reused:
        judged = (f". This build does not test it: its output folder already held {reused} finished "
                  f"stage{'s' if reused != 1 else ''} when it started (an earlier build's, or commands run by hand), and "
                  f"a build loads the stages it needs instead of computing them, so its {TOTAL_MINUTES} minutes below "
                  "are those of a rebuild (the chapters still compute their statistics and figures from what they "
                  "load).")
    else:
        judged = f": this build started from one and was {BUDGET_VERDICT}."
    return head + judged + "\n\n" + precision_text(precision)


def precision_text(precision: str) -> str:
    """Why a mini build can overrun its budget (training in float32 where the CPU has no fast bf16 kernels), and the
    precision this build's training took (`precision`: devices.precision_of of the mini recipe here)."""
    why = ("Training takes most of a mini build, and it runs in bf16 only where the CPU has fast bf16 kernels (AVX-512 "
           "or AMX on x86, BF16 on Arm); elsewhere, e.g. on a CPU with AVX2 only, it runs in float32, and a full mini "
           f"build took {FLOAT32_BUILD_MINUTES} minutes on such a 2-core machine (from a clean clone, set-up included, "
           "with the test suite running beside it).")
    this = {"bf16": "This machine's CPU has fast bf16 kernels: training here runs in bf16.",
            "float32": "This machine's CPU has no fast bf16 kernels: training here runs in float32.",
            "fp16": "This machine has a GPU: training here runs on it, in fp16."}
    return why + " " + this.get(precision, f"Training here runs in {precision}.")


def mini_precision() -> str:
    """The precision the mini recipe's training computes in on this machine (bf16, float32, or fp16 on a GPU)."""
    from ..core.devices import precision_of
    from ..training.train import make_config

    recipe = make_config("mini", data="-")
    return precision_of(recipe.precision, recipe.device, recipe.amp)


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
        text = text.replace(HTML_MINUTES, f"{html_seconds / 60:.1f}")
        text = text.replace(BUDGET_VERDICT, budget_verdict(total, os.cpu_count()))
        page.write_text(text.replace(TOTAL_MINUTES, f"{total / 60:.1f}"))


def write_cost_page(stage: Path, preset: str, scale: str, timings: dict[str, float], levers: str = "",
                    reused: int = 0) -> None:
    """Fill the staged cost page's marker with this build's timings, what it computed and what the levers saved
    (builder.accounting), and the package versions (if the page exists); `reused`: the finished stages the output
    folder held when the build started, which decide whether the budget is judged."""
    page = stage / COST_PAGE
    if page.exists() and COST_MARKER in page.read_text():
        titles = short_titles(stage, [Path(nb) for nb in timings])
        table = cost_table(preset, scale, timings, titles, reused=reused)
        computed = f"\n## What this build computed\n\n{levers}" if levers else ""
        filled = table + computed + "\n## The environment\n\n" + versions_table()
        page.write_text(page.read_text().replace(COST_MARKER, filled))


PLAN_PAGE = Path("book") / "paper_scale.md"


PLAN_MARKER = "<!-- paper-scale plans: filled in by the runner -->"
PLAN_TOTALS_MARKER = "<!-- paper-scale totals: filled in by the runner -->"  # the page's first lines


PLAN_PRESETS = {"paper": "ImageNet-100 (preset `paper`)", "paper-1k": "ImageNet-1K (preset `paper-1k`)"}


def _plan_presets(root: Path) -> dict[str, dict]:
    return {title: load_preset(name, root) for name, title in PLAN_PRESETS.items()
            if (root / "presets" / f"{name}.yaml").exists()}


def plan_page_text(root: Path, plans: dict | None = None) -> str:
    """The paper-scale plans of the `paper` and `paper-1k` presets as markdown tables with grand totals, and the
    cost model behind their estimates (made when the book is built, from the library's plan; `plans`: those presets
    already planned, `report.planned`)."""
    text = plan_page(plans if plans is not None else planned(_plan_presets(root)))
    # the commands name the output root of the machine that built the book (a temp folder under the tests, or the
    # default `outputs` relative to where it was built): a reader's commands write under their own $FAKEIT_OUTPUT
    for folder, name in ((output_root(), "$FAKEIT_OUTPUT"), (cache_root(), "$FAKEIT_CACHE")):
        if folder.is_absolute():
            text = text.replace(str(folder), name)
        else:  # a relative root is a path's first word: `outputs/x`, not `my-outputs/x` or `$FAKEIT_OUTPUT/outputs/x`
            text = re.sub(rf"(?<![\w$./-]){re.escape(folder.as_posix())}/", lambda _: name + "/", text)
    return text


def write_plan_page(stage: Path, root: Path) -> None:
    """Fill the staged paper-scale page's markers with the plans and, in its first lines, their totals (when the book
    has that page); each preset is planned once for both."""
    page = stage / PLAN_PAGE
    if page.exists() and PLAN_MARKER in page.read_text():
        plans = planned(_plan_presets(root))
        page.write_text(page.read_text().replace(PLAN_MARKER, plan_page_text(root, plans))
                        .replace(PLAN_TOTALS_MARKER, plan_totals_text(plans)))
