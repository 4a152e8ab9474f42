"""The plan for a reader: the terminal text of `fakeit book --plan` (every stage with its command, the totals, the
files from outside, a Slurm array of the generation stages, the cost model) and the tables of the book's
"Reproduce at paper scale" page. The stages themselves come from `plan.plan`."""

from __future__ import annotations

import re

from ..paper.results import VARIANT_NAMES, variant_name
from . import costs
from .costs import Rates, figure
from .estimates import Cluster
from .params import PresetParams, preset_params
from .commands import Stage, command_text, hours_text, totals
from .plan import PUBLISHED_MODELS, artefacts, class_set_of, plan, plan_rates, png_kb_per_image, refuse_unset


def plan_text(preset: str, stages: list[Stage], p: PresetParams, rates: Rates, cpus: int = 0, assumed: Rates | None = None) -> str:
    """The plan for a terminal: one block per stage, the totals, the files from outside, a Slurm array of the
    generation stages, and the cost model (with `assumed`: the calibration's figures beside the assumed ones)."""
    gpus = max([s.gpus for s in stages] or [1])
    cluster = Cluster(gpus, cpus)
    on = f"{gpus} GPU" + ("s (torchrun, one process each)" if gpus > 1 else "")
    lines = [f"Plan of preset {preset} on {on} and {cluster.cores_text()}: {len(stages)} stages, in order "
             "('after ...': its input is not there yet)", ""]
    for i, s in enumerate(stages, 1):
        held = f" ({s.gpu_hours:,.1f} GPU-h)" if s.gpus > 1 else ""
        reads = f", reads ~{s.read_gb_s:,.2f} GB/s" if s.read_gb_s else ""
        lines.append(f"{i:3d}. [{s.status}] {s.step} {s.what}  {s.paper}  ~{hours_text(s.hours)}{held}, {s.disk_gb:,.1f} GB"
                     + reads + (f"  [{s.bound}]" if s.bound else ""))
        lines.append(f"     {command_text(s)}")
    hours, disk = totals(stages)
    todo = sum(s.hours for s in stages if s.done is not True)
    gpu_hours = sum(s.gpu_hours for s in stages)
    lines += ["", f"total: ~{hours:,.0f} hours on {gpus} GPU{'s' if gpus > 1 else ''} (~{gpu_hours:,.0f} GPU-hours; "
              f"{todo:,.0f} hours still to run), ~{disk:,.0f} GB", ""]
    lines += [reading_text(stages), "", artefacts_text(p), "", slurm_array(stages), "",
              cost_model_text(p, rates, cluster, assumed)]
    return "\n".join(lines)


def _heaviest_reads(stages: list[Stage]) -> tuple[Stage | None, float]:
    """(the training stage that reads fastest, None when none reads; GB of the plan's largest clone): what the
    terminal's and the book's reading paragraphs name."""
    heaviest = max((s for s in stages if s.step == "train"), key=lambda s: (round(s.read_gb_s, 2), s.hours), default=None)
    largest = max((s.disk_gb for s in stages if s.step == "generate"), default=0.0)
    return (heaviest if heaviest is not None and heaviest.read_gb_s else None), largest


def reading_text(stages: list[Stage]) -> str:
    """The read bandwidth the plan's training needs, and how to give it: the clone on node-local disk."""
    heaviest, largest = _heaviest_reads(stages)
    if heaviest is None:
        return "No training stage: no images to read at speed."
    return (f"Reading the data: training reads every image of its set each epoch, in random order. Train "
            f"{heaviest.what} needs ~{heaviest.read_gb_s:,.2f} GB/s of random reads at its planned speed (no training "
            "stage needs more); a shared file system that serves a node less slows it by as much. Copy a clone to "
            "node-local disk before its training, keeping its folder's name (e.g. `rsync -a --info=progress2 "
            "outputs/<clone folder> /local/scratch/`; a clone stored as shards is ~1 GB tar files of ~2,500 images, "
            f"not a file an image; the largest clone of this plan takes {largest:,.0f} GB), and give that path to the "
            "train command: a clone is known by its folder's name, not by where it is mounted, so the run folder, "
            "and the book's finding it, stay the same.")


def needed_artefacts(p: dict | PresetParams) -> list[tuple[str, dict]]:
    """(name, entry of data/paper_artefacts.yaml) of every outside file the preset's stages read."""
    p, a = preset_params(p), artefacts()
    out = [(p.generator, a["generators"][p.generator])] if p.generator in a["generators"] else []
    if p.scale == "paper":
        out += [(file, a["models"][file]) for _, file, _, _ in PUBLISHED_MODELS.get(p.class_set, [])]
    keys = (["real_root"] if p.real_root else []) + [k for k, v in p.eval_roots.items() if v]
    keys += [k for k, v in p.transfer_roots.items() if v]
    return out + [(k, a["datasets"][k]) for k in keys if k in a["datasets"]]


def artefacts_text(p: dict | PresetParams) -> str:
    """The outside files of a preset's plan, each with where to get it and its checksum."""
    lines = ["Files from outside this repository (data/paper_artefacts.yaml):"]
    for name, e in needed_artefacts(p):
        lines.append(f"- {name}: {e['what']}\n    where: {e['where']}\n    checksum: {e['checksum']}")
    if len(lines) == 1:
        return "No file from outside this repository."
    lines.append("`fakeit fetch --preset <this preset>` fetches the generator and the checkpoints with a direct download "
                 "ahead of the run (for compute nodes without network: HF_HUB_OFFLINE=1), checking their published hashes.")
    return "\n".join(lines)


def slurm_array(stages: list[Stage]) -> str:
    """A Slurm batch script running the generation stages still to do as one array, a task per stage on one whole node
    (its GPUs and every core it has, whatever cores the plan assumed), requeued before its time limit."""
    todo = [s for s in stages if s.step == "generate" and s.done is False]
    if not todo:
        return "No generation stage is left to run: no Slurm array to print."
    gpus = todo[0].gpus
    cases = [f"  {i}) {command_text(s)} & ;;" for i, s in enumerate(todo)]  # in the background: the trap can run
    return "\n".join([
        f"One Slurm array for the {len(todo)} generation stage(s) still to run (save as generate.sbatch, then `sbatch "
        "generate.sbatch`; 15 minutes before the time limit a task stops its ranks and requeues itself, and resumes "
        "where it stopped):",
        "#!/bin/bash",
        "#SBATCH --job-name=fakeit-generate",
        f"#SBATCH --array=0-{len(todo) - 1}",
        "#SBATCH --nodes=1",
        f"#SBATCH --gpus-per-node={gpus}",
        "#SBATCH --exclusive",
        "#SBATCH --time=24:00:00",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@900",
        "#SBATCH --output=%x-%A_%a.out",
        "set -euo pipefail",
        'requeue() { kill -TERM "$RUN" 2>/dev/null || true; wait "$RUN" || true; scontrol requeue "$SLURM_JOB_ID"; exit 0; }',
        "trap requeue USR1",
        'case "$SLURM_ARRAY_TASK_ID" in',
        *cases,
        "esac",
        "RUN=$!",
        'wait "$RUN"',
    ])


def _flops(x: float) -> str:
    """FLOPs with a unit prefix (82.9 TFLOP, 173.9 MFLOP)."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if x >= scale:
            return f"{x / scale:,.1f} {unit}"
    return f"{x:,.0f} FLOP"


def _num(x: float) -> str:
    """A throughput in a few significant digits (2.4e+13, 1,053)."""
    return f"{x:.3g}" if x >= 1e6 else f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _counted(p: dict | PresetParams):
    """(params, training recipe, generator FLOPs, FLOPs of one generated image, of one multi-crop training sample, of
    one test image): what the cost model counts, for the terminal's text and the book's alike."""
    from ..training.train import make_config

    p = preset_params(p)
    recipe = make_config(p.recipe, data="-")
    gen = costs.generator_flops(p.generator)
    per_image = gen.per_image(p.steps, max(p.guidances))
    sample = costs.multicrop_flops(recipe, len(class_set_of(p.class_set)))
    forward = costs.classifier_flops(recipe.arch, recipe.eval_crop).forward
    return p, recipe, gen, per_image, sample, forward


def cost_model_text(p: dict | PresetParams, rates: Rates, cluster: Cluster, assumed: Rates | None = None) -> str:
    """The cost model behind the hours: the FLOPs counted, the throughputs with their sources (measured beside
    assumed after a calibration), and the first-principles check of the assumed generation rate."""
    p, recipe, gen, per_image, sample, forward = _counted(p)
    steps, batch, guidance = p.steps, p.gen_batch_size, max(p.guidances)
    gpus = f"{cluster.gpus} GPU{'s' if cluster.gpus > 1 else ''}"
    lines = ["Cost model (fakeit_lib/experiments/costs.py; figures and their sources: fakeit_lib/data/paper_costs.yaml):",
             f"- FLOPs counted from the networks' configurations: one image of {p.generator} ({steps} steps, "
             f"guidance {guidance:g}) {_flops(per_image)} = {steps} x 2 x {_flops(gen.unet)} (UNet, one latent) + 2 x "
             f"{_flops(gen.text)} (text encoder) + {_flops(gen.vae)} (VAE decode); one {recipe.arch} training sample "
             f"({recipe.global_crops} x {recipe.global_size} px + {recipe.local_crops} x {recipe.local_size} px, forward and "
             f"backward) {_flops(sample)}; one test image (forward, {recipe.eval_crop} px) {_flops(forward)}",
             f"- where: {gpus} and {cluster.cores} CPU cores; one core per GPU process runs its loop, the others decode "
             f"images ({recipe.workers} loader workers per training process, {costs.DECODE_WORKERS} per evaluation process at most)"]
    if assumed is None:
        lines.append("- throughputs (one GPU; one CPU core):")
        lines += [f"  - {what}: {_num(rates[n])} {rates.figures[n].unit} ({rates.figures[n].source})" for n, what in costs.RATES.items()]
        peak, share = figure("gpu_peak_flops"), costs.utilisation()
        first, used = per_image / (peak * share), per_image / rates["generation_flops"]
        lines.append(f"- first principles: one image at {share:.0%} of the {peak / 1e12:.0f} TFLOPS peak (the share the published "
                     f"ResNet-50 rate reaches) takes {first:.2f} s; at the published generation rate at batch {batch}: "
                     f"{used:.2f} s ({used / first - 1:+.0%})")
    else:
        width = max(len(n) for n in costs.RATES)
        lines += ["- throughputs (one GPU; one CPU core), assumed and measured; the plan uses the measured ones:",
                  f"  {'figure':<{width}}  {'assumed':>10}  {'measured':>10}  unit"]
        for n in costs.RATES:
            a, m = assumed.figures[n], rates.figures[n]
            lines.append(f"  {n:<{width}}  {_num(a.value):>10}  {_num(m.value) if m.measured_on else '-':>10}  {a.unit}")
        lines.append("  where each figure comes from:")
        for n, what in costs.RATES.items():
            a, m = assumed.figures[n], rates.figures[n]
            lines.append(f"  - {n} ({what}): assumed: {a.source}" + (f"; measured on {m.measured_on}: {m.source}" if m.measured_on else ""))
    lines.append(f"- PNG size per generated image = {png_kb_per_image():.0f} KB: measured here, scikit-image's bundled "
                 "photographs at 512 px")
    return "\n".join(lines)


def plan_report(preset: str, p: dict | PresetParams, gpus: int = 1, cpus: int = 0, calibrate: float | None = None) -> str:
    """`fakeit book --plan`: the plan of a preset on `gpus` GPUs; with `calibrate` (seconds per measurement) the
    throughputs measured here first (calibrate.measure_rates) and shown beside the assumed ones."""
    p = preset_params(p)
    refuse_unset(p)  # a terminal plan names real folders or none
    assumed = plan_rates(p)
    rates, head = assumed, ""
    if calibrate is not None:
        from .calibrate import measure_rates

        measured, head = measure_rates(p, len(class_set_of(p.class_set)), gpus, calibrate)
        rates = assumed.replaced(measured)
    text = plan_text(preset, plan(p, gpus, cpus, rates), p, rates, cpus, assumed if calibrate is not None else None)
    return (head + "\n\n" + text) if head else text


def planned(presets: dict[str, dict]) -> dict[str, tuple[dict, list[Stage]]]:
    """Each preset's stages for the book, planned once for one GPU and the CPU cores beside it on the reference machine
    (reference_cpus_per_gpu), not the machine building the book: what the page's first lines and its tables read."""
    cpus = int(figure("reference_cpus_per_gpu"))
    return {title: (p, plan(p, 1, cpus)) for title, p in presets.items()}


def plan_page(plans: dict[str, tuple[dict, list[Stage]]]) -> str:
    """The book's paper-scale page from `planned`: each preset's hours and disk, its stages in a table narrow enough for
    a phone (the commands folded below it), and the cost model. Words, not the codes the terminal plan shows."""
    cpus = int(figure("reference_cpus_per_gpu"))
    parts = ["\n".join([plan_markdown(stages, title), commands_dropdown(stages), reading_markdown(stages, cpus), ""])
             for title, (_, stages) in plans.items()]
    grand = [(title, *totals(stages)) for title, (_, stages) in plans.items()]
    first = preset_params(next(iter(plans.values()))[0]) if plans else None
    model = cost_model_markdown(first, plan_rates(first), Cluster(1, cpus)) if first else ""
    return _grand_table(grand) + "\n\n" + table_key(cpus) + "\n\n" + "\n".join(parts) + "\n" + model


def plan_totals_text(plans: dict[str, tuple[dict, list[Stage]]], gpus: int = 8) -> str:
    """The page's first lines from `planned`: each preset's estimated hours and disk in one sentence (the tables give
    the stages)."""
    said = []
    for title, (_, stages) in plans.items():
        hours, disk = totals(stages)
        said.append(f"{title.split(' (')[0]} needs about {hours:,.0f} hours of one A100 (some {hours / gpus / 24:,.0f} "
                    f"days on a node of {gpus}) and {disk:,.0f} GB of disk")
    if not said:
        return ""
    return ("**Estimated cost:** " + "; ".join(said) + f". The days assume the stages spread evenly over the {gpus} GPUs; "
            "the plans below give the cost stage by stage, and `--calibrate` replaces the assumed throughputs with "
            "your machine's.")


def _grand_table(grand: list[tuple[str, float, float]]) -> str:
    """Each preset's total hours and disk, one row each."""
    return "\n".join(["| preset | hours on one GPU | disk GB |", "|---|---:|---:|",
                      *(f"| {t} | {h:,.0f} | {d:,.0f} |" for t, h, d in grand)])


def table_key(cpus: int) -> str:
    """How to read the book's plan tables, once above them (waits_words says what its column holds)."""
    return (f"In the tables below, hours are those of one A100 and its {cpus} CPU cores, and **waits for** is what a "
            "stage needs before it can start: – nothing beyond the set-up above, it can start now; #N the stage in "
            "row N (the clone a training reads, the model an evaluation or a probe reads); *its download* the "
            "published model's file (`fakeit fetch` fetches it); *its data* the real images its command names, once "
            "they are there. Each plan's commands, in its order, are folded below its table.")


def plan_markdown(stages: list[Stage], title: str) -> str:
    """The plan as a markdown table with its grand total (for the book): six columns of words and numbers, no command
    (a command in a table squeezes every other column to a few characters on a laptop), and no seventh column (the
    book's style sheet lets a table of seven columns or more break its cells' words anywhere, numbers included)."""
    lines = [f"**{title}**", "", "| # | stage | in the paper | waits for | hours | disk GB |", "|---:|---|---|---|---:|---:|"]
    for i, s in enumerate(stages, 1):
        lines.append(f"| {i} | {stage_words(s)} | {paper_words(s.paper, s.what)} | {waits_words(stages, i - 1)} | "
                     f"{s.hours:,.1f} | {s.disk_gb:,.1f} |")
    hours, disk = totals(stages)
    lines.append(f"| | **total** | | | **{hours:,.0f}** | **{disk:,.0f}** |")
    return "\n".join(lines) + "\n"


def stage_words(stage: Stage) -> str:
    """A stage for the book's table and its commands' comments: what it does to which clone or model, in words."""
    return f"{stage.step}: {what_words(stage.what)}"


def commands_dropdown(stages: list[Stage]) -> str:
    """The plan's commands in its order, folded (a MyST dropdown of sphinx-design), each after a comment naming its row."""
    lines = ["::::{dropdown} Commands, in plan order", "```bash"]
    for i, s in enumerate(stages, 1):
        lines += [f"# {i}. {stage_words(s)} ({paper_words(s.paper, s.what)})", command_text(s), ""]
    return "\n".join(lines[:-1] + ["```", "::::"]) + "\n"


def what_words(what: str) -> str:
    """A stage's clone or model in words, for the book (`c_hc, gs 7.5, 1x` -> `class name + hypernym, guidance 7.5,
    1x`); the terminal plan keeps the codes its commands take."""
    real = re.fullmatch(r"real(.*)", what)
    m = re.fullmatch(r"(\w+), gs ([\d.]+), (.+)", what)
    if real:
        head, rest = "real training images", real[1]
    elif m and m[1] in VARIANT_NAMES:
        head, rest = f"{variant_name(m[1])}, guidance {m[2]}", ", " + m[3]
    else:
        return what  # a published model, named in words already
    rest = re.sub(r"generation seed (\d+) \((second draw|draw \d+)\)", r"\2 (generation seed \1)", rest)
    rest = re.sub(r", seed (\d+)", r", training seed \1", rest)  # the training seed, when a preset has several
    if rest.endswith(" at initialisation"):  # the random-weights baseline: that model's network, read from its
        # checkpoint (so it waits for the training), at its initialisation
        return f"random weights (the network of the model on {head}{rest.removesuffix(' at initialisation')}, untrained)"
    return head + rest


def paper_words(paper: str, what: str = "") -> str:
    """The paper's rows a stage serves, in words (`T1 r8, T1 r10` -> `Table 1 rows 8, 10`; `T1 r1 T2 r2` -> `Table 1
    row 1, Table 2 row 2`); a second draw of a clone, which no row shows, says what it is for; never an empty cell."""
    if re.search(r"\b(second draw|draw \d+)\b", paper + " " + what) and not re.search(r"T\d+ r\d+", paper):
        return "none: the spread between draws"
    parts: dict[str, list[str]] = {}
    for table, row, other in re.findall(r"T(\d+) r(\d+)|(Fig\. \d+)", paper):
        parts.setdefault(f"Table {table}" if table else other, []).extend([row] if row else [])
    if not parts:
        return "– (no row of the paper)"
    return ", ".join(f"{k} row{'s' if len(rows) > 1 else ''} {', '.join(rows)}" if rows else k for k, rows in parts.items())


def waits_words(stages: list[Stage], i: int) -> str:
    """What stage `i` of a plan waits for, short enough for a table cell (table_key says how to read it): the row of
    the stage whose output it reads while that is still to run (a training's clone, an evaluation's or a probe's
    trained model), its download, its data, or nothing ("–")."""
    s = stages[i]
    if s.done:
        return "done"
    if s.done is False:  # its input's folder is known: a clone of this plan that may not be drawn yet
        row = _clone_row(stages, i) if s.step == "train" else None
        return f"#{row}" if row else "–"
    if s.waits_for == "the stage above":  # its model's training: the last one of that model above it
        label = s.what.removesuffix(" at initialisation")
        row = next((j + 1 for j in range(i - 1, -1, -1) if stages[j].step == "train" and stages[j].what == label), None)
        return f"#{row}" if row else "the stage above"
    if s.waits_for.startswith("downloading "):
        return "its download"
    if s.waits_for.endswith((" is set", " is there")):  # the real set: a variable of the set-up, or its folder
        return "its data"
    return s.waits_for


def _clone_row(stages: list[Stage], i: int) -> int | None:
    """The row of the generation stage still to run that draws the clone training stage `i` reads (its `what`: the
    setting, one of the generation's sizes, the same generation seed), or None."""
    train = re.match(r"(.+?, gs [\d.]+), ([\d.]+x)(, generation seed \d+)?", stages[i].what)
    for j, g in enumerate(stages[:i]):
        drawn = re.fullmatch(r"(.+?, gs [\d.]+), ([\d.x/]+)(, generation seed \d+)?", g.what)
        if train and drawn and g.step == "generate" and not g.done and (drawn[1], drawn[3]) == (train[1], train[3]) \
                and train[2] in drawn[2].split("/"):
            return j + 1
    return None


def reading_markdown(stages: list[Stage], cpus: int, node_gpus: int = 8) -> str:
    """reading_text for the book: the bandwidth per GPU of the plan and for a node of `node_gpus`, the clone's rows in
    words, and the output folder as the reader's $FAKEIT_OUTPUT."""
    heaviest, largest = _heaviest_reads(stages)
    if heaviest is None:
        return "No training stage: no images to read at speed."
    return (f"**Reading the data.** Training reads every image of its set each epoch, in random order. At the speed "
            f"planned above, on one GPU with its {cpus} CPU cores, training on {what_words(heaviest.what)} reads "
            f"~{heaviest.read_gb_s:,.2f} GB/s at random (no training stage reads more). That is per GPU: the same run "
            f"over a node of {node_gpus} such GPUs reads {node_gpus} times as much, ~{node_gpus * heaviest.read_gb_s:,.1f} "
            "GB/s; a shared file system that serves the node less than that slows its training in proportion. Copy a clone to node-local "
            "disk before its training, keeping its folder's name (e.g. `rsync -a --info=progress2 $FAKEIT_OUTPUT/<clone "
            "folder> /local/scratch/`; a clone stored as shards is ~1 GB tar files of ~2,500 images each, not one "
            f"file per image; the largest clone of this plan takes {largest:,.0f} GB), and give that path to the train command: "
            "a clone is known by its folder's name, not by where it is mounted, so the run folder, and the book's "
            "finding it, stay the same.")


def _rate(value: float, unit: str) -> str:
    """A throughput with a unit prefix, three significant digits at most (75.7 TFLOP/s, 4.5 GB/s, 76 samples/s)."""
    if unit in ("FLOP/s", "B/s"):
        base = unit.removesuffix("/s")
        for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= scale:
                return f"{value / scale:.3g} {prefix}{base}/s"
    return f"{value:,.0f} {unit}" if value >= 10 else f"{value:.2g} {unit}"


# the figures' sources as the terminal prints them name a parameter here and there; the book says what it is
_SOURCE_WORDS = (
    (" (sd_iterations_per_second, interpolated)", " (the diffusers documentation's iterations/s, interpolated between "
                                                  "the batch sizes it measured)"),
    (" (colour_ops: device)", ""),
    (" GB/s per second of one thread's CPU time", " GB per second of one thread's CPU time"),
    ("measured by `python benchmarks/loader.py` on", "measured by the loader benchmark (see the note for developers) on"),
    (" TFLOPS", " TFLOP/s"),
)


def source_words(source: str) -> str:
    """A figure's source for the book's reader (_SOURCE_WORDS)."""
    for old, new in _SOURCE_WORDS:
        source = source.replace(old, new)
    return source


def cost_model_markdown(p: dict | PresetParams, rates: Rates, cluster: Cluster) -> str:
    """The cost model for the book (cost_model_text for a terminal): FLOPs counted, each throughput with a unit prefix
    and its source in words, the first-principles check, which PNG size counts the disk, and where the code is."""
    p, recipe, gen, per_image, sample, forward = _counted(p)
    steps, batch, guidance = p.steps, p.gen_batch_size, max(p.guidances)
    generator = "Stable Diffusion v1.4" if p.generator == "CompVis/stable-diffusion-v1-4" else p.generator
    gpus = f"{cluster.gpus} GPUs" if cluster.gpus > 1 else "one GPU"
    lines = ["**The cost model.** FLOPs are counted from the networks' configurations:", "",
             f"- one image of {generator} ({steps} denoising steps, guidance {guidance:g}): {_flops(per_image)} = {steps} "
             f"x 2 x {_flops(gen.unet)} (the UNet on one latent, and again unconditioned) + 2 x {_flops(gen.text)} (the "
             f"text encoder) + {_flops(gen.vae)} (the VAE decoder);",
             f"- one training sample of {recipe.arch.replace('resnet', 'ResNet-')} ({recipe.global_crops} crop of "
             f"{recipe.global_size} px and {recipe.local_crops} of {recipe.local_size} px, forward and backward): "
             f"{_flops(sample)};",
             f"- one test image (forward, {recipe.eval_crop} px): {_flops(forward)}.", "",
             f"They become hours at the throughputs below, on {gpus} and {cluster.cores} CPU cores: one core per GPU "
             f"process runs its loop and the others decode images ({recipe.workers} loader workers per training process, "
             f"at most {costs.DECODE_WORKERS} per evaluation process). Each is per GPU or per CPU core, as it says; "
             "`fakeit book --plan --calibrate` measures them on your machine.", ""]
    for n, what in costs.RATES.items():
        f = rates.figures[n]
        lines.append(f"- {what[0].upper() + what[1:]}: **{_rate(f.value, f.unit)}** — {source_words(f.source)}.")
    peak, share = figure("gpu_peak_flops"), costs.utilisation()
    first, used = per_image / (peak * share), per_image / rates["generation_flops"]
    lines += ["", f"**A check from first principles.** At {share:.0%} of the GPU's {peak / 1e12:.0f} TFLOP/s peak (the "
              f"share the published ResNet-50 training rate reaches), one image would take {first:.2f} s; the published "
              f"generation rate at batch {batch} gives {used:.2f} s, {abs(used / first - 1):.0%} "
              f"{'less' if used < first else 'more'}."]
    bench = re.search(r"\((\d[\d,]*) KB each", rates.figures["multicrop_synthetic_per_core"].source)
    lines += ["", f"**Disk.** The disk column counts {png_kb_per_image():.0f} KB a generated image: the mean size of four "
              "of scikit-image's bundled photographs saved as 512 px PNGs, measured when this page was made (a Stable "
              "Diffusion image's PNG size depends on what it shows)"
              + (f"; the loader benchmark above decoded other crops of such photographs, {bench[1]} KB each." if bench else ".")]
    lines += ["", "```{container} fakeit-developers",
              "For developers: the cost model is `fakeit_lib/experiments/costs.py`, its figures and their sources "
              "`fakeit_lib/data/paper_costs.yaml`; the loader's rate is measured by `benchmarks/loader.py`, the manifest's "
              "memory above by `benchmarks/manifest_memory.py`.", "```"]
    return "\n".join(lines) + "\n"
