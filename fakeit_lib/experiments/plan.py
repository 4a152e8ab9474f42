"""The plan of a preset before any work: every stage with its `fakeit` command, whether its output exists, and its
estimated GPU-hours and disk, from the assumptions in `data/paper_costs.yaml` (each with its source).

The stages and their output folders are derived from the very configs the notebooks build (same clones, same
recipe, same identities), so running the printed commands by hand, on any number of GPUs, leaves outputs that the
book then finds instead of recomputing. `fakeit book --preset paper --plan` prints it; the book's "Reproduce at
paper scale" page shows the same tables, made by `plan_markdown` when the book is built.
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

TEST_SET_FLAGS = ("val", "v2", "sketch", "r", "a")


@dataclass
class Stage:
    """One step of the plan."""

    step: str  # generate, train, evaluate or transfer
    what: str  # which clone or model
    paper: str  # the paper's rows it serves
    command: list[str]  # fakeit arguments
    done: bool | None  # output finished; None: cannot be known before an earlier stage is done
    gpu_hours: float
    disk_gb: float
    waits_for: str = "the stage above"  # what an undecided stage (done None) waits for
    output: Path | None = None  # evaluate/transfer: the results folder (known once the checkpoint exists)

    @property
    def status(self) -> str:
        return {True: "done", False: "to do", None: f"after {self.waits_for}"}[self.done]


@functools.lru_cache(maxsize=1)
def assumptions() -> dict:
    """The cost assumptions with their sources."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_costs.yaml"))
    return yaml.safe_load(path.read_text())


def _a(name: str):
    return assumptions()[name]["value"]


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


def clone_config(p: dict, variant: str, guidance: float, multiplier: float):
    """The GenerateConfig of one clone of a preset (stages.clone_config, the notebooks' own)."""
    from .stages import clone_config as config

    return config(pipeline_params(p), variant, guidance, multiplier)


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
        total = {"imagenet100": _a("imagenet100_train_images"), "imagenet1k": _a("imagenet1k_train_images")}.get(cs.name, 1300 * len(cs))
        counts = [round(total * value / len(cs))] * len(cs)
    b = cfg.batch_size
    return sum(counts), sum(-(-n // b) * b for n in counts)


def _crop_cost(recipe) -> float:
    return recipe.global_crops * (recipe.global_size / 224) ** 2 + recipe.local_crops * (recipe.local_size / 224) ** 2


def _done(folder: Path | None) -> bool | None:
    from ..core.store import is_done

    return None if folder is None else is_done(folder)


def _transfer_args(p: dict) -> list[str]:
    return [x for name, root in (p.get("transfer_roots") or {}).items() if root for x in (f"--{name}", str(root))]


def _transfer_images(p: dict) -> tuple[int, float]:
    """(images whose features are extracted, FLOPs of the minibatch probes) over the preset's transfer roots."""
    from ..evaluation.probe import SGDSettings, choose_solver
    from ..evaluation.transfer_data import COG_LEVELS, PUBLISHED

    roots = dict(p.get("transfer_roots") or {})
    names = [n for n in roots if n in PUBLISHED] + (list(COG_LEVELS) if "cog" in roots else [])
    classes = {"inat2018": 8142, "inat2019": 1010, "in1k": 1000, **{c: 1000 for c in COG_LEVELS}}
    images, flops = 0, 0.0
    s = SGDSettings()
    for n in names:
        trainval, test = PUBLISHED[n]
        images += trainval + test
        k = classes.get(n, 100)
        if choose_solver("auto", int(trainval * 0.8), k) == "sgd":
            fits = len(s.lrs) * len(s.wds) + 1
            flops += fits * s.epochs * trainval * 2048 * k * 6  # forward and backward of the linear layer
    return images, flops


def plan(p: dict) -> list[Stage]:
    """The stages of a preset's experiments, in the order to run them."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer import TransferConfig
    from ..training.train import CHECKPOINT, make_config, run_folder

    costs = {k: _a(k) for k in ("generation_seconds_per_image", "train_images_per_second_224", "inference_images_per_second",
                                 "probe_flops_per_second", "checkpoint_gb", "feature_bytes_per_image")}
    png_gb = png_kb_per_image() / 2**20
    class_set, recipe_name = p["class_set"], p.get("recipe", "paper")
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
    sizes.setdefault(best[:2], set()).add(best[2])
    probed = {best} | {(*ladder, float(m)) for m in p.get("multipliers", [])}
    if at_paper_scale:  # every clone the paper probes in Table 2
        probed |= {(v, g, 1.0) for v, g in paper_clones("table2", class_set)}

    stages: list[Stage] = _published_models(p, costs) if at_paper_scale else []
    from ..core.store import is_done
    from ..generation.generate import command as generate_command
    from ..generation.generate import dataset_dir

    models: list[tuple[str, str, Path, bool, int]] = []  # (label, paper rows, training data, transfer too, images)
    real = p.get("real_root") or ""
    if real and (not at_paper_scale or paper_row("table1", train=class_set, data="real", model="Baseline")):
        rows = f"{paper_row('table1', train=class_set, data='real')} {paper_row('table2', train=class_set, data='real')}".strip()
        models.append(("real", rows, Path(real), True, _drawn_images(clone_config(p, "c", 2.0, 1.0))[0]))
    for (v, g), ms in sizes.items():
        configs = {m: clone_config(p, v, g, m) for m in sorted(ms)}
        largest = configs[max(ms)]
        kept, drawn = _drawn_images(largest)
        rows = ", ".join(r for m in sorted(ms) if (r := paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)))
        what = f"{v}, gs {g:g}, " + "/".join(f"{m:g}x" for m in sorted(ms))
        stages.append(Stage("generate", what, rows, generate_command(largest, [configs[m].images_per_class for m in sorted(ms)]),
                            all(is_done(dataset_dir(c)) for c in configs.values()), drawn * costs["generation_seconds_per_image"] / 3600,
                            kept * png_gb))
        for m, c in configs.items():
            row = paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            if (v, g) == ladder and len(p.get("multipliers", [])) > 1 and m in {float(x) for x in p["multipliers"]}:
                row = f"{row} Fig. 4".strip()
            t2 = paper_row("table2", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            models.append((f"{v}, gs {g:g}, {m:g}x", f"{row} {t2}".strip(), dataset_dir(c), (v, g, m) in probed, _drawn_images(c)[0]))

    seeds = list(p.get("train_seeds") or [0])
    for (base_label, rows, data, probe, n), train_seed in ((m, s) for m in models for s in seeds):
        label = base_label if len(seeds) == 1 else f"{base_label}, seed {train_seed}"
        recipe = make_config(recipe_name, data=str(data), class_set=class_set, seed=train_seed)
        run = run_folder(recipe)
        ckpt = run / CHECKPOINT
        hours = recipe.epochs * n * _crop_cost(recipe) / costs["train_images_per_second_224"] / 3600
        train_args = ["train", str(data), "--preset", recipe_name, "--set", f"class_set={class_set}"] + (["--set", f"seed={train_seed}"] if train_seed else [])
        stages.append(Stage("train", label, rows, train_args, is_done(run), hours, costs["checkpoint_gb"]))
        roots = {k: v for k, v in (p.get("eval_roots") or {}).items() if v}
        ev = EvalConfig(checkpoint=str(ckpt), suite=p.get("eval_suite", "imagenet"), class_set=class_set,
                        max_images=p.get("eval_max_images") or None, **{f"{k}_root": v for k, v in roots.items()})
        eval_args = ["evaluate", str(ckpt), "--suite", ev.suite, *[x for k, v in roots.items() for x in (f"--{k}", str(v))],
                     "--class-set", class_set] + (["--max-images", str(ev.max_images)] if ev.max_images else [])
        n_test = sum(_a("test_set_images").get(k, 0) for k in roots)
        out = eval_results_folder(ev)
        stages.append(Stage("evaluate", label, rows, eval_args, _done(out), n_test / costs["inference_images_per_second"] / 3600,
                            0.0, output=out))
        if probe and p.get("transfer_roots"):
            stages.append(_transfer_stage(p, str(ckpt), label, rows, costs, TransferConfig))
    if p.get("transfer_suite", "paper") == "paper" and p.get("transfer_roots"):
        stages.append(_transfer_stage(p, "random:resnet50", "random weights", paper_row("table2", model="Random weights"), costs, TransferConfig))
    return stages


def paper_clones(table: str, class_set: str) -> list[tuple[str, float]]:
    """(variant, guidance) of the paper's 1x clones of a class set in Table 1 or 2 (the rows with a recipe)."""
    rows = _paper_rows()[table]["rows"]
    return [(r["variant"], float(r["guidance"])) for r in rows if r["train"] == class_set and r["data"] == "synthetic" and r["scale"] == 1]


# The published models a paper-scale run checks first or sets beside its own: the authors' released checkpoints
# (project page) and the real ImageNet-1K ResNet-50s of Table 1 rows 13-14 (torchvision and timm weights).
PUBLISHED_MODELS = {
    "imagenet100": [("the authors' ImageNet-100-SD model", "imagenet_100_sd.pth", {"row": 12}, {"row": 3})],
    "imagenet1k": [("the authors' ImageNet-1K-SD model", "imagenet_1k_sd.pth", {"row": 17}, {"row": 8}),
                   ("PyTorch ResNet-50 (torchvision IMAGENET1K_V1 weights)", "resnet50_torchvision.pth", {"row": 13}, {"row": 4}),
                   ("RSB-A1 ResNet-50 (timm resnet50.a1_in1k weights)", "resnet50_a1_in1k.pth", {"row": 14}, {"row": 5})],
}


def _published_models(p: dict, costs: dict) -> list[Stage]:
    """Evaluate and transfer stages of the published models of the preset's class set (files the user downloads)."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer import TransferConfig

    stages = []
    roots = {k: v for k, v in (p.get("eval_roots") or {}).items() if v}
    n_test = sum(_a("test_set_images").get(k, 0) for k in roots)
    for label, file, t1, t2 in PUBLISHED_MODELS.get(p["class_set"], []):
        args = ["evaluate", file, "--suite", "imagenet", *[x for k, v in roots.items() for x in (f"--{k}", str(v))], "--class-set", p["class_set"]]
        wait = f"downloading {file}"
        ev = EvalConfig(checkpoint=file, suite="imagenet", class_set=p["class_set"], **{f"{k}_root": v for k, v in roots.items()})
        out = eval_results_folder(ev) if roots else None
        stages.append(Stage("evaluate", label, paper_row("table1", **t1), args, _done(out),
                            n_test / costs["inference_images_per_second"] / 3600, 0.0, wait, out))
        if p.get("transfer_roots"):
            stages.append(_transfer_stage(p, file, label, paper_row("table2", **t2), costs, TransferConfig))
            stages[-1].waits_for = wait
    return stages


def _transfer_stage(p: dict, checkpoint: str, label: str, rows: str, costs: dict, TransferConfig) -> Stage:
    from ..core.params import from_dict
    from ..evaluation.transfer import results_folder as transfer_results_folder

    args = _transfer_args(p)
    values = {"checkpoint": checkpoint, "suite": p.get("transfer_suite", "paper")}
    for flag, value in zip(args[::2], args[1::2]):
        values[f"{flag[2:]}_root"] = value
    tc = from_dict(TransferConfig, values)
    images, flops = _transfer_images(p)
    hours = images / costs["inference_images_per_second"] / 3600 + flops / costs["probe_flops_per_second"] / 3600
    out = transfer_results_folder(tc)  # None while the checkpoint (or a published model's file) is not there
    return Stage("transfer", label, rows, ["transfer", checkpoint, "--suite", tc.suite, *args], _done(out), hours,
                 images * costs["feature_bytes_per_image"] / 2**30, output=out)


def _quote(arg: str) -> str:
    """A shell word; environment variables left to the shell ("$IMAGENET_VAL/x" stays expandable)."""
    if "$" in arg and all(c.isalnum() or c in "$_-./:{}" for c in arg):
        return f'"{arg}"'
    return shlex.quote(arg)


def command_text(stage: Stage) -> str:
    """The stage's command line."""
    return "fakeit " + " ".join(_quote(a) for a in stage.command)


def totals(stages: list[Stage]) -> tuple[float, float]:
    """(GPU-hours, disk GB) of all stages."""
    return sum(s.gpu_hours for s in stages), sum(s.disk_gb for s in stages)


def plan_text(preset: str, stages: list[Stage]) -> str:
    """The plan for a terminal: one block per stage, then the totals and the assumptions."""
    lines = [f"Plan of preset {preset}: {len(stages)} stages, in order ('after ...': its input is not there yet)", ""]
    for i, s in enumerate(stages, 1):
        lines.append(f"{i:3d}. [{s.status}] {s.step} {s.what}  {s.paper}  ~{s.gpu_hours:,.1f} GPU-h, {s.disk_gb:,.1f} GB")
        lines.append(f"     {command_text(s)}")
    hours, disk = totals(stages)
    todo = sum(s.gpu_hours for s in stages if s.done is not True)
    lines += ["", f"total: ~{hours:,.0f} GPU-hours ({todo:,.0f} still to run), ~{disk:,.0f} GB", "", assumptions_text()]
    return "\n".join(lines)


def assumptions_text() -> str:
    a = assumptions()
    lines = [f"Assumptions (one {a['gpu']}; fakeit_lib/data/paper_costs.yaml):"]
    for k, v in a.items():
        if isinstance(v, dict) and "source" in v:
            lines.append(f"- {k} = {v['value']}: {v['source']}")
    lines.append(f"- PNG size per generated image = {png_kb_per_image():.0f} KB: measured here, scikit-image's bundled photographs at 512 px")
    return "\n".join(lines)


def plan_markdown(stages: list[Stage], title: str) -> str:
    """The plan as a markdown table with its grand total (for the book)."""
    lines = [f"**{title}**", "", "| # | stage | clone or model | paper | output | GPU-hours | disk GB | command |",
             "|---:|---|---|---|---|---:|---:|---|"]
    for i, s in enumerate(stages, 1):
        lines.append(f"| {i} | {s.step} | {s.what} | {s.paper} | {s.status} | {s.gpu_hours:,.1f} | {s.disk_gb:,.1f} | `{command_text(s)}` |")
    hours, disk = totals(stages)
    lines.append(f"| | **total** | | | | **{hours:,.0f}** | **{disk:,.0f}** | |")
    return "\n".join(lines) + "\n"
