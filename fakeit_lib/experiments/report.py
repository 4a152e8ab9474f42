"""The plan for a reader: the terminal text of `fakeit book --plan` (every stage with its command, the totals, the
files from outside, a Slurm array of the generation stages, the cost model) and the tables of the book's
"Reproduce at paper scale" page. The stages themselves come from `plan.plan`."""

from __future__ import annotations

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


def reading_text(stages: list[Stage]) -> str:
    """The read bandwidth the plan's training needs, and how to give it: the clone on node-local disk."""
    heaviest = max((s for s in stages if s.step == "train"), key=lambda s: (round(s.read_gb_s, 2), s.hours), default=None)
    if heaviest is None or not heaviest.read_gb_s:
        return "No training stage: no images to read at speed."
    largest = max((s.disk_gb for s in stages if s.step == "generate"), default=0.0)
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


def cost_model_text(p: dict | PresetParams, rates: Rates, cluster: Cluster, assumed: Rates | None = None) -> str:
    """The cost model behind the hours: the FLOPs counted, the throughputs with their sources (measured beside
    assumed after a calibration), and the first-principles check of the assumed generation rate."""
    from ..training.train import make_config

    p = preset_params(p)
    recipe = make_config(p.recipe, data="-")
    gen = costs.generator_flops(p.generator)
    steps, batch, guidance = p.steps, p.gen_batch_size, max(p.guidances)
    per_image = gen.per_image(steps, guidance)
    sample = costs.multicrop_flops(recipe, len(class_set_of(p.class_set)))
    forward = costs.classifier_flops(recipe.arch, recipe.eval_crop).forward
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


def plan_page(presets: dict[str, dict]) -> str:
    """The book's paper-scale page: each preset's hours and disk, its stages, and the cost model, for one GPU and the
    CPU cores beside it on the reference machine (reference_cpus_per_gpu), not the machine building the book."""
    cpus = int(figure("reference_cpus_per_gpu"))
    parts, grand = [], []
    for title, p in presets.items():
        stages = plan(p, 1, cpus)
        parts.append(plan_markdown(stages, title) + "\n" + reading_text(stages) + "\n")
        grand.append((title, *totals(stages)))
    summary = ["| preset | hours on one GPU | disk GB |", "|---|---:|---:|"]
    summary += [f"| {t} | {h:,.0f} | {d:,.0f} |" for t, h, d in grand]
    first = preset_params(next(iter(presets.values()))) if presets else None
    model = cost_model_text(first, plan_rates(first), Cluster(1, cpus)) if first else ""
    return "\n".join(summary) + "\n\n" + "\n".join(parts) + "\n" + model.replace("\n- ", "\n\n- ") + "\n"


def plan_markdown(stages: list[Stage], title: str) -> str:
    """The plan as a markdown table with its grand total (for the book)."""
    lines = [f"**{title}**", "", "| # | stage | clone or model | paper | output | hours | disk GB | command |",
             "|---:|---|---|---|---|---:|---:|---|"]
    for i, s in enumerate(stages, 1):
        lines.append(f"| {i} | {s.step} | {s.what} | {s.paper} | {s.status} | {s.hours:,.1f} | {s.disk_gb:,.1f} | `{command_text(s)}` |")
    hours, disk = totals(stages)
    lines.append(f"| | **total** | | | | **{hours:,.0f}** | **{disk:,.0f}** | |")
    return "\n".join(lines) + "\n"
