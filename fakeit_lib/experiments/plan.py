"""The plan of a preset before any work: every stage with its command (under torchrun over the plan's GPUs), whether
its output exists, its estimated hours and disk, and every file it needs from outside this repository.

The stages and their output folders are derived from the very configs the notebooks build (same clones, same
recipe, same identities), so running the printed commands by hand, on any number of GPUs, leaves outputs that the
book then finds instead of recomputing; `launch.run_stages` runs them the same way for `make book PRESET=paper`.
Hours come from the cost model of `costs` (FLOPs counted from the networks' configurations, throughputs with their
sources in data/paper_costs.yaml, or measured on the user's machine by `calibrate`); the files needed from outside,
with where to get them and their checksums, from data/paper_artefacts.yaml. `fakeit book --preset paper --plan
[--gpus N] [--calibrate]` prints it (`plan_report`); the book's "Reproduce at paper scale" page shows the same
tables (`plan_markdown`).
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.errors import FakeitError
from . import costs
from .costs import Cluster, Rates, figure

TEST_SET_FLAGS = ("val", "v2", "sketch", "r", "a")


@dataclass
class Stage:
    """One step of the plan."""

    step: str  # generate, train, evaluate or transfer
    what: str  # which clone or model
    paper: str  # the paper's rows it serves
    command: list[str]  # fakeit arguments
    done: bool | None  # output finished; None: cannot be known before an earlier stage is done
    hours: float  # wall clock on the plan's GPUs
    disk_gb: float
    waits_for: str = "the stage above"  # what an undecided stage (done None) waits for
    output: Path | None = None  # evaluate/transfer: the results folder (known once the checkpoint exists)
    gpus: int = 1  # processes it runs as, one per GPU of the plan (every stage shards its work over them)
    bound: str = ""  # what limits it (the GPUs, the cores decoding images, the probe on process 0)

    @property
    def status(self) -> str:
        return {True: "done", False: "to do", None: f"after {self.waits_for}"}[self.done]

    @property
    def gpu_hours(self) -> float:
        """The GPU time it holds: its hours on every GPU it runs on."""
        return self.hours * self.gpus


@functools.lru_cache(maxsize=1)
def png_kb_per_image() -> float:
    """Measured: the mean size of scikit-image's bundled photographs saved as 512 x 512 PNG, in KB."""
    from PIL import Image
    from skimage import data

    sizes = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        buf = io.BytesIO()
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((512, 512)).save(buf, format="PNG")
        sizes.append(len(buf.getvalue()))
    return sum(sizes) / len(sizes) / 1024


@functools.lru_cache(maxsize=1)
def _paper_rows() -> dict:
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_results.yaml"))
    return yaml.safe_load(path.read_text())


@functools.lru_cache(maxsize=1)
def artefacts() -> dict:
    """data/paper_artefacts.yaml: the files from outside the repository, where to get them, their checksums."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_artefacts.yaml"))
    return yaml.safe_load(path.read_text())


def paper_row(table: str, **match) -> str:
    """'Table N row R' of the paper for a setting, or '' when the paper has none."""
    for row in _paper_rows()[table]["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            return f"T{table[-1]} r{row['row']}"
    return ""


def pipeline_params(p: dict):
    """A preset's shared pipeline settings (stages.PipelineParams), so the plan builds the notebooks' very clones."""
    from ..core.params import from_dict
    from .stages import PipelineParams

    return from_dict(PipelineParams, p, ignore_unknown=True)


def clone_config(p: dict, variant: str, guidance: float, multiplier: float, seed: int | None = None):
    """The GenerateConfig of one clone of a preset (stages.clone_config, the notebooks' own)."""
    from .stages import clone_config as config

    return config(pipeline_params(p), variant, guidance, multiplier, seed)


class _Folders(list):
    """A class set as far as counting images needs it: class folders and indices, and a name."""

    def __init__(self, name: str, wnids: list[str]):
        from types import SimpleNamespace

        super().__init__(SimpleNamespace(folder=w, index=i, wnid=w) for i, w in enumerate(wnids))
        self.name = name


@functools.lru_cache(maxsize=None)
def _class_set(name: str):
    """The class set of a clone; the ImageNet sets by their wnids alone (no WordNet to load for a plan)."""
    from ..datasets.classes import imagenet1k_wnids, imagenet100_wnids, load_class_set

    if name == "imagenet1k":
        return _Folders(name, list(imagenet1k_wnids()))
    if name == "imagenet100":
        return _Folders(name, list(imagenet100_wnids()))
    return load_class_set(name)


def _drawn_images(cfg) -> tuple[int, int]:
    """(images kept, images drawn) of a clone: counted from the real root when it is here, else estimated from the
    published size of the class set's training set."""
    from ..generation.config import parse_images_per_class, resolve_counts

    cs = _class_set(cfg.classes)
    try:
        counts = resolve_counts(cfg.images_per_class, cs)
    except FakeitError:
        kind, value, _ = parse_images_per_class(cfg.images_per_class)
        total = {"imagenet100": figure("imagenet100_train_images"), "imagenet1k": figure("imagenet1k_train_images")}.get(cs.name, 1300 * len(cs))
        counts = [round(total * value / len(cs))] * len(cs)
    b = cfg.batch_size
    return sum(counts), sum(-(-n // b) * b for n in counts)


def _done(folder: Path | None) -> bool | None:
    from ..core.store import is_done

    return None if folder is None else is_done(folder)


def _transfer_args(p: dict) -> list[str]:
    return [x for name, root in (p.get("transfer_roots") or {}).items() if root for x in (f"--{name}", str(root))]


def _transfer_estimate(p: dict, arch: str, rates: Rates, cluster: Cluster) -> tuple[float, str, int]:
    """(seconds, what limits it, images) of probing one encoder on the preset's transfer roots: features sharded over
    the GPUs, then every probe on process 0 (minibatch SGD on the GPU, full-batch L-BFGS on the CPU)."""
    from ..evaluation.probe import PAPER_WDS, SGDSettings, choose_solver
    from ..evaluation.transfer import TransferConfig
    from ..evaluation.transfer_data import COG_LEVELS, PUBLISHED, PUBLISHED_CLASSES

    roots = dict(p.get("transfer_roots") or {})
    names = [n for n in roots if n in PUBLISHED] + (list(COG_LEVELS) if "cog" in roots else [])
    d = costs.classifier_flops(arch, 224).features
    sgd, val_fraction = SGDSettings(), TransferConfig().val_fraction
    images, probe = 0, 0.0
    for n in names:
        trainval, test = PUBLISHED[n]
        images += trainval + test
        k, fit = PUBLISHED_CLASSES[n], int(trainval * (1 - val_fraction))
        if choose_solver("auto", fit, k) == "sgd":
            probe += costs.sgd_probe_seconds(fit, trainval, d, k, len(sgd.lrs) * len(sgd.wds), sgd.epochs, rates)
        else:
            probe += costs.lbfgs_probe_seconds(fit, trainval, d, k, len(PAPER_WDS), rates, cluster)
    features = costs.inference_estimate(images, arch, 224, rates, cluster)
    bound = f"features {_hours(features.seconds / 3600)} ({features.bound}), probes on process 0 {_hours(probe / 3600)}"
    return features.seconds + probe, bound, images


def _rates(p: dict, rates: Rates | None) -> Rates:
    """The rates a plan uses: the given (a calibration's) or the assumed ones at the preset's generation batch."""
    return rates or costs.assumed_rates(int(p.get("gen_batch_size", 8)), max([float(g) for g in p.get("guidances") or [2.0]]))


def plan(p: dict, gpus: int = 1, cpus: int = 0, rates: Rates | None = None) -> list[Stage]:
    """The stages of a preset's experiments, in the order to run them, costed for `gpus` GPUs and `cpus` CPU cores
    (0: this machine's) at `rates` (default: the assumed ones, costs.assumed_rates)."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer import TransferConfig
    from ..training.train import CHECKPOINT, make_config, run_folder
    from .stages import draw_setting

    if gpus < 1 or cpus < 0:
        raise FakeitError(f"a plan needs at least one GPU and cores >= 0 (0: this machine's), got gpus={gpus}, cpus={cpus}")
    cluster, rates = Cluster(gpus, cpus), _rates(p, rates)
    sizes_gb = {"checkpoint": figure("checkpoint_gb"), "feature": figure("feature_bytes_per_image") / 2**30}
    png_gb = png_kb_per_image() / 2**20
    class_set, recipe_name = p["class_set"], p.get("recipe", "paper")
    num_classes = len(_class_set(class_set))
    clones = [(v, float(g)) for g in p.get("guidances", []) for v in p.get("variants", [])]
    at_paper_scale = p.get("scale") == "paper"
    if at_paper_scale:  # the paper's own 1x clones of this class set (ImageNet-1K: rows 15-17, not a full grid)
        clones = list(dict.fromkeys(clones + paper_clones("table1", class_set)))
    ladder = (p.get("scaling_variant", "c_dc"), float(p.get("scaling_guidance", 2.0)))
    sizes: dict[tuple, set] = {}
    for v, g in clones:
        sizes.setdefault((v, float(g)), set()).add(1.0)
    for m in p.get("multipliers", []):
        sizes.setdefault(ladder, set()).add(float(m))
    best = (p.get("best_variant", "c_dc"), float(p.get("best_guidance", 2.0)), float(p.get("best_multiplier", 1.0)))
    sizes.setdefault(best[:2], set()).update({best[2], 1.0})  # Table 2 sets the best clone beside its 1x size
    probed = {best, (*best[:2], 1.0)} | {(*ladder, float(m)) for m in p.get("multipliers", [])}
    if at_paper_scale:  # every clone the paper probes in Table 2
        probed |= {(v, g, 1.0) for v, g in paper_clones("table2", class_set)}

    stages: list[Stage] = _published_models(p, rates, cluster, sizes_gb) if at_paper_scale else []
    from ..core.store import is_done
    from ..generation.generate import command as generate_command
    from ..generation.generate import dataset_dir

    models: list[tuple[str, str, Path, bool, int]] = []  # (label, paper rows, training data, transfer too, images)
    real = p.get("real_root") or ""
    if real and (not at_paper_scale or paper_row("table1", train=class_set, data="real", model="Baseline")):
        rows = f"{paper_row('table1', train=class_set, data='real')} {paper_row('table2', train=class_set, data='real')}".strip()
        models.append(("real", rows, Path(real), True, _drawn_images(clone_config(p, "c", 2.0, 1.0))[0]))
    gen_flops = costs.generator_flops(p.get("generator", "mini")) if sizes else None
    for (v, g), ms in sizes.items():
        configs = {m: clone_config(p, v, g, m) for m in sorted(ms)}
        largest = configs[max(ms)]
        kept, drawn = _drawn_images(largest)
        rows = ", ".join(r for m in sorted(ms) if (r := paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)))
        what = f"{v}, gs {g:g}, " + "/".join(f"{m:g}x" for m in sorted(ms))
        est = costs.generation_estimate(drawn, gen_flops, largest.steps, g, rates, cluster)
        stages.append(Stage("generate", what, rows, generate_command(largest, [configs[m].images_per_class for m in sorted(ms)]),
                            all(is_done(dataset_dir(c)) for c in configs.values()), est.seconds / 3600, kept * png_gb,
                            gpus=gpus, bound=f"{drawn:,} images drawn"))
        for m, c in configs.items():
            row = paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            if (v, g) == ladder and len(p.get("multipliers", [])) > 1 and m in {float(x) for x in p["multipliers"]}:
                row = f"{row} Fig. 4".strip()
            t2 = paper_row("table2", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            models.append((f"{v}, gs {g:g}, {m:g}x", f"{row} {t2}".strip(), dataset_dir(c), (v, g, m) in probed, _drawn_images(c)[0]))

    if p.get("variants") and p.get("guidances"):  # Table 1's second draw: one clone again with the next generation seed
        v, g = draw_setting(p["variants"], p["guidances"])
        again = clone_config(p, v, g, 1.0, seed=int(p.get("seed", 0)) + 1)
        kept, drawn = _drawn_images(again)
        est = costs.generation_estimate(drawn, gen_flops or costs.generator_flops(p.get("generator", "mini")), again.steps, g,
                                        rates, cluster)
        what = f"{v}, gs {g:g}, 1x, generation seed {again.seed}"
        stages.append(Stage("generate", what, "second draw", generate_command(again, [again.images_per_class]),
                            is_done(dataset_dir(again)), est.seconds / 3600, kept * png_gb, gpus=gpus, bound=f"{drawn:,} images drawn"))
        models.append((f"{what} (second draw)", "", dataset_dir(again), False, kept))

    seeds = list(p.get("train_seeds") or [0])
    initialised = []  # the checkpoints whose initialisations Table 2's random-weights row probes
    for (base_label, rows, data, probe, n), train_seed in ((m, s) for m in models for s in seeds):
        label = base_label if len(seeds) == 1 else f"{base_label}, seed {train_seed}"
        recipe = make_config(recipe_name, data=str(data), class_set=class_set, seed=train_seed)
        run = run_folder(recipe)
        ckpt = run / CHECKPOINT
        est = costs.training_estimate(recipe.epochs * n, recipe, num_classes, base_label != "real", rates, cluster)
        train_args = ["train", str(data), "--preset", recipe_name, "--set", f"class_set={class_set}"] + (["--set", f"seed={train_seed}"] if train_seed else [])
        stages.append(Stage("train", label, rows, train_args, is_done(run), est.seconds / 3600, sizes_gb["checkpoint"],
                            gpus=gpus, bound=est.bound))
        roots = {k: v for k, v in (p.get("eval_roots") or {}).items() if v}
        ev = EvalConfig(checkpoint=str(ckpt), suite=p.get("eval_suite", "imagenet"), class_set=class_set,
                        max_images=p.get("eval_max_images") or None, **{f"{k}_root": v for k, v in roots.items()})
        eval_args = ["evaluate", str(ckpt), "--suite", ev.suite, *[x for k, v in roots.items() for x in (f"--{k}", str(v))],
                     "--class-set", class_set] + (["--max-images", str(ev.max_images)] if ev.max_images else [])
        est = costs.inference_estimate(sum(figure("test_set_images").get(k, 0) for k in roots), recipe.arch, recipe.eval_crop,
                                       rates, cluster)
        out = eval_results_folder(ev)
        stages.append(Stage("evaluate", label, rows, eval_args, _done(out), est.seconds / 3600, 0.0, output=out, gpus=gpus,
                            bound=est.bound))
        if probe and p.get("transfer_roots"):
            stages.append(_transfer_stage(p, str(ckpt), label, rows, rates, cluster, sizes_gb, TransferConfig, recipe.arch))
        if base_label == f"{best[0]}, gs {best[1]:g}, 1x":
            initialised.append((str(ckpt), label, recipe.arch))
    if p.get("transfer_roots"):
        for ckpt, label, arch in initialised:
            stages.append(_transfer_stage(p, ckpt, f"{label} at initialisation", paper_row("table2", model="Random weights"),
                                          rates, cluster, sizes_gb, TransferConfig, arch, random_init=True))
    return stages


def paper_clones(table: str, class_set: str) -> list[tuple[str, float]]:
    """(variant, guidance) of the paper's 1x clones of a class set in Table 1 or 2 (the rows with a recipe)."""
    rows = _paper_rows()[table]["rows"]
    return [(r["variant"], float(r["guidance"])) for r in rows if r["train"] == class_set and r["data"] == "synthetic" and r["scale"] == 1]


# The published models a paper-scale run checks first or sets beside its own, by the file names they are downloaded
# under (data/paper_artefacts.yaml: where): the authors' released checkpoints (project page) and the real ImageNet-1K
# ResNet-50s of Table 1 rows 13-14 (torchvision's and timm's files load as they are: their keys are torchvision's).
PUBLISHED_MODELS = {
    "imagenet100": [("the authors' ImageNet-100-SD model", "imagenet_100_sd.pth", {"row": 12}, {"row": 3})],
    "imagenet1k": [("the authors' ImageNet-1K-SD model", "imagenet_1k_sd.pth", {"row": 17}, {"row": 8}),
                   ("PyTorch ResNet-50 (torchvision IMAGENET1K_V1 weights)", "resnet50-0676ba61.pth", {"row": 13}, {"row": 4}),
                   ("RSB-A1 ResNet-50 (timm resnet50.a1_in1k weights)", "resnet50_a1_0-14fe96d1.pth", {"row": 14}, {"row": 5})],
}


def _published_models(p: dict, rates: Rates, cluster: Cluster, sizes_gb: dict) -> list[Stage]:
    """Evaluate and transfer stages of the published models of the preset's class set (files the user downloads)."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer import TransferConfig

    stages = []
    roots = {k: v for k, v in (p.get("eval_roots") or {}).items() if v}
    est = costs.inference_estimate(sum(figure("test_set_images").get(k, 0) for k in roots), "resnet50", 224, rates, cluster)
    for label, file, t1, t2 in PUBLISHED_MODELS.get(p["class_set"], []):
        args = ["evaluate", file, "--suite", "imagenet", *[x for k, v in roots.items() for x in (f"--{k}", str(v))], "--class-set", p["class_set"]]
        wait = f"downloading {file}"
        ev = EvalConfig(checkpoint=file, suite="imagenet", class_set=p["class_set"], **{f"{k}_root": v for k, v in roots.items()})
        out = eval_results_folder(ev) if roots else None
        stages.append(Stage("evaluate", label, paper_row("table1", **t1), args, _done(out), est.seconds / 3600, 0.0, wait, out,
                            gpus=cluster.gpus, bound=est.bound))
        if p.get("transfer_roots"):
            stages.append(_transfer_stage(p, file, label, paper_row("table2", **t2), rates, cluster, sizes_gb, TransferConfig, "resnet50"))
            stages[-1].waits_for = wait
    return stages


def _transfer_stage(p: dict, checkpoint: str, label: str, rows: str, rates: Rates, cluster: Cluster, sizes_gb: dict,
                    TransferConfig, arch: str, random_init: bool = False) -> Stage:
    from ..core.params import from_dict
    from ..evaluation.transfer import results_folder as transfer_results_folder

    args = _transfer_args(p)
    values = {"checkpoint": checkpoint, "suite": p.get("transfer_suite", "paper")} | ({"random_init": True} if random_init else {})
    for flag, value in zip(args[::2], args[1::2]):
        values[f"{flag[2:]}_root"] = value
    tc = from_dict(TransferConfig, values)
    seconds, bound, images = _transfer_estimate(p, arch, rates, cluster)
    out = transfer_results_folder(tc)  # None while the checkpoint (or a published model's file) is not there
    flags = ["--random-init"] if random_init else []
    return Stage("transfer", label, rows, ["transfer", checkpoint, "--suite", tc.suite, *flags, *args], _done(out), seconds / 3600,
                 images * sizes_gb["feature"], output=out, gpus=cluster.gpus, bound=bound)


def _quote(arg: str) -> str:
    """A shell word; environment variables left to the shell ("$IMAGENET_VAL/x" stays expandable)."""
    if "$" in arg and all(c.isalnum() or c in "$_-./:{}" for c in arg):
        return f'"{arg}"'
    return shlex.quote(arg)


def stage_argv(stage: Stage) -> list[str]:
    """The stage's command line as words: `fakeit ARGS` on one GPU, `torchrun ... -m fakeit_lib ARGS` on several (one
    process per GPU of one machine; launch.run_stages runs exactly these words)."""
    if stage.gpus > 1:
        return ["torchrun", "--standalone", "--nproc-per-node", str(stage.gpus), "-m", "fakeit_lib", *stage.command]
    return ["fakeit", *stage.command]


def command_text(stage: Stage) -> str:
    """The stage's command line."""
    return " ".join(_quote(a) for a in stage_argv(stage))


def totals(stages: list[Stage]) -> tuple[float, float]:
    """(hours on the plan's GPUs, disk GB) of all stages."""
    return sum(s.hours for s in stages), sum(s.disk_gb for s in stages)


def _hours(h: float) -> str:
    return f"{h:,.1f} h" if h >= 0.05 or h == 0 else f"{h * 60:,.1f} min"


def plan_text(preset: str, stages: list[Stage], p: dict, rates: Rates, cpus: int = 0, assumed: Rates | None = None) -> str:
    """The plan for a terminal: one block per stage, the totals, the files from outside, a Slurm array of the
    generation stages, and the cost model (with `assumed`: the calibration's figures beside the assumed ones)."""
    gpus = max([s.gpus for s in stages] or [1])
    cores = Cluster(gpus, cpus).cores
    on = f"{gpus} GPU" + ("s (torchrun, one process each)" if gpus > 1 else "")
    lines = [f"Plan of preset {preset} on {on} and {cores} CPU cores: {len(stages)} stages, in order "
             "('after ...': its input is not there yet)", ""]
    for i, s in enumerate(stages, 1):
        held = f" ({s.gpu_hours:,.1f} GPU-h)" if s.gpus > 1 else ""
        lines.append(f"{i:3d}. [{s.status}] {s.step} {s.what}  {s.paper}  ~{_hours(s.hours)}{held}, {s.disk_gb:,.1f} GB"
                     + (f"  [{s.bound}]" if s.bound else ""))
        lines.append(f"     {command_text(s)}")
    hours, disk = totals(stages)
    todo = sum(s.hours for s in stages if s.done is not True)
    gpu_hours = sum(s.gpu_hours for s in stages)
    lines += ["", f"total: ~{hours:,.0f} hours on {gpus} GPU{'s' if gpus > 1 else ''} (~{gpu_hours:,.0f} GPU-hours; "
              f"{todo:,.0f} hours still to run), ~{disk:,.0f} GB", ""]
    slurm_cores = cpus or gpus * int(figure("reference_cpus_per_gpu"))  # a GPU node's, not this machine's
    lines += [artefacts_text(p), "", slurm_array(stages, slurm_cores), "", cost_model_text(p, rates, Cluster(gpus, cpus), assumed)]
    return "\n".join(lines)


def needed_artefacts(p: dict) -> list[tuple[str, dict]]:
    """(name, entry of data/paper_artefacts.yaml) of every outside file the preset's stages read."""
    a = artefacts()
    out = [(p["generator"], a["generators"][p["generator"]])] if p.get("generator") in a["generators"] else []
    if p.get("scale") == "paper":
        out += [(file, a["models"][file]) for _, file, _, _ in PUBLISHED_MODELS.get(p["class_set"], [])]
    keys = (["real_root"] if p.get("real_root") else []) + [k for k, v in (p.get("eval_roots") or {}).items() if v]
    keys += [k for k, v in (p.get("transfer_roots") or {}).items() if v]
    return out + [(k, a["datasets"][k]) for k in keys if k in a["datasets"]]


def artefacts_text(p: dict) -> str:
    """The outside files of a preset's plan, each with where to get it and its checksum."""
    lines = ["Files from outside this repository (data/paper_artefacts.yaml):"]
    for name, e in needed_artefacts(p):
        lines.append(f"- {name}: {e['what']}\n    where: {e['where']}\n    checksum: {e['checksum']}")
    return "\n".join(lines) if len(lines) > 1 else "No file from outside this repository."


def slurm_array(stages: list[Stage], cores: int) -> str:
    """A Slurm batch script running the generation stages still to do as one array, a task per stage on one whole node
    (its GPUs and every core it has, whatever `cores` the plan assumed), requeued before its time limit."""
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


def cost_model_text(p: dict, rates: Rates, cluster: Cluster, assumed: Rates | None = None) -> str:
    """The cost model behind the hours: the FLOPs counted, the throughputs with their sources (measured beside
    assumed after a calibration), and the first-principles check of the assumed generation rate."""
    from ..training.train import make_config

    recipe = make_config(p.get("recipe", "paper"), data="-")
    gen = costs.generator_flops(p.get("generator", "mini"))
    steps, batch = int(p.get("steps", 50)), int(p.get("gen_batch_size", 8))
    guidance = max([float(g) for g in p.get("guidances") or [2.0]])
    per_image = gen.per_image(steps, guidance)
    sample = costs.multicrop_flops(recipe, len(_class_set(p["class_set"])))
    forward = costs.classifier_flops(recipe.arch, recipe.eval_crop).forward
    gpus = f"{cluster.gpus} GPU{'s' if cluster.gpus > 1 else ''}"
    lines = ["Cost model (fakeit_lib/experiments/costs.py; figures and their sources: fakeit_lib/data/paper_costs.yaml):",
             f"- FLOPs counted from the networks' configurations: one image of {p.get('generator')} ({steps} steps, "
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


def plan_report(preset: str, p: dict, gpus: int = 1, cpus: int = 0, calibrate: float | None = None) -> str:
    """`fakeit book --plan`: the plan of a preset on `gpus` GPUs; with `calibrate` (seconds per measurement) the
    throughputs measured here first (calibrate.measure_rates) and shown beside the assumed ones."""
    assumed = _rates(p, None)
    rates, head = assumed, ""
    if calibrate is not None:
        from .calibrate import measure_rates

        measured, head = measure_rates(p, len(_class_set(p["class_set"])), gpus, calibrate)
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
        parts.append(plan_markdown(stages, title))
        grand.append((title, *totals(stages)))
    summary = ["| preset | hours on one GPU | disk GB |", "|---|---:|---:|"]
    summary += [f"| {t} | {h:,.0f} | {d:,.0f} |" for t, h, d in grand]
    model = cost_model_text(next(iter(presets.values())), _rates(next(iter(presets.values())), None), Cluster(1, cpus)) if presets else ""
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
