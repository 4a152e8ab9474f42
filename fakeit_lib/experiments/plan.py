"""The plan of a preset before any work: every stage with its command (under torchrun over the plan's GPUs), whether
its output exists, its estimated hours and disk, and every file it needs from outside this repository.

The stages and their output folders are derived from the very configs the notebooks build (same clones, same
recipe, same identities), so running the printed commands by hand, on any number of GPUs, leaves outputs that the
book then finds instead of recomputing; `launch.run_stages` runs them the same way for `make book PRESET=paper`.
Hours come from the cost model of `costs` (FLOPs counted from the networks' configurations, throughputs with their
sources in data/paper_costs.yaml, or measured on the user's machine by `calibrate`); the files needed from outside,
with where to get them and their checksums, from data/paper_artefacts.yaml. The preset is read through the typed
`params.PresetParams`, the defaults the notebooks have. `fakeit book --preset paper --plan [--gpus N] [--calibrate]`
prints the plan (`report.plan_report`); the book's "Reproduce at paper scale" page shows the same tables
(`report.plan_markdown`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import io
import re
from pathlib import Path

import yaml

from ..core.errors import FakeitError
from . import costs
from . import estimates
from ..core.params import from_dict
from ..datasets.classes import imagenet100_wnids, imagenet1k_wnids, load_class_set
from ..datasets.transfer_data import COG_LEVELS, PUBLISHED, PUBLISHED_CLASSES
from ..generation.config import parse_images_per_class, resolve_counts
from ..generation.generate import command as generate_command, dataset_dir
from .commands import Stage, finder_word, hours_text
from .costs import Rates, figure
from .estimates import Cluster
from .params import PresetParams, preset_params
from .stages import clone_config as config, draw_setting

TEST_SET_FLAGS = ("val", "v2", "sketch", "r", "a")


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


def clone_config(p: dict | PresetParams, variant: str, guidance: float, multiplier: float, seed: int | None = None):
    """The GenerateConfig of one clone of a preset (stages.clone_config, the notebooks' own)."""
    return config(preset_params(p), variant, guidance, multiplier, seed)


class _Folders(list):
    """A class set as far as counting images needs it: class folders and indices, and a name."""

    def __init__(self, name: str, wnids: list[str]):
        from types import SimpleNamespace

        super().__init__(SimpleNamespace(folder=w, index=i, wnid=w) for i, w in enumerate(wnids))
        self.name = name


@functools.lru_cache(maxsize=None)
def class_set_of(name: str):
    """The class set of a clone as far as a plan needs it: the ImageNet sets by their wnids alone (no WordNet to load)."""
    if name == "imagenet1k":
        return _Folders(name, list(imagenet1k_wnids()))
    if name == "imagenet100":
        return _Folders(name, list(imagenet100_wnids()))
    return load_class_set(name)


def _drawn_images(cfg) -> tuple[int, int]:
    """(images kept, images drawn) of a clone: counted from the real root when it is here, else estimated from the
    published size of the class set's training set."""
    cs = class_set_of(cfg.classes)
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


def _transfer_args(p: PresetParams) -> list[str]:
    return [x for name, root in p.transfer_roots.items() if root for x in (f"--{name}", str(root))]


def _transfer_estimate(p: PresetParams, arch: str, rates: Rates, cluster: Cluster) -> tuple[float, str, int]:
    """(seconds, what limits it, images) of probing one encoder on the preset's transfer roots: features sharded over
    the GPUs, then the probes spread over the processes (minibatch SGD on a process's GPU, full-batch L-BFGS on its
    share of the CPU cores)."""
    from ..evaluation.probe import PAPER_WDS, SGDSettings, choose_solver
    from ..evaluation.transfer_config import TransferConfig

    roots = dict(p.transfer_roots)
    names = [n for n in roots if n in PUBLISHED] + (list(COG_LEVELS) if "cog" in roots else [])
    d = costs.classifier_flops(arch, 224).features
    sgd, val_fraction = SGDSettings(), TransferConfig().val_fraction
    images, probe, train_images = 0, {}, {}
    for n in names:
        trainval, test = PUBLISHED[n]
        images += trainval + test
        train_images[n] = trainval
        k, fit = PUBLISHED_CLASSES[n], int(trainval * (1 - val_fraction))
        if choose_solver("auto", fit, k) == "sgd":
            probe[n] = estimates.sgd_probe_seconds(fit, trainval, d, k, len(sgd.lrs) * len(sgd.wds), sgd.epochs, rates)
        else:
            probe[n] = estimates.lbfgs_probe_seconds(fit, trainval, d, k, len(PAPER_WDS), rates, cluster)
    features = estimates.inference_estimate(images, arch, 224, rates, cluster)
    probes = estimates.spread_probes(probe, train_images, cluster)
    bound = f"features {hours_text(features.seconds / 3600)} ({features.bound}), {probes.bound}"
    return features.seconds + probes.seconds, bound, images


def plan_rates(p: PresetParams, rates: Rates | None = None) -> Rates:
    """The rates a plan uses: the given (a calibration's) or the assumed ones at the preset's generation batch."""
    return rates or costs.assumed_rates(p.gen_batch_size, max(p.guidances))


def unset_variables(p: PresetParams) -> dict[str, list[str]]:
    """The environment variables a preset's values still name because they were not set when it was read
    (`$IMAGENET100_TRAIN` left as is by presets.expand_vars), each with the parameters naming it."""
    found: dict[str, list[str]] = {}

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
        elif isinstance(value, str):
            for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value):
                found.setdefault(name, []).append(where)

    for f in dataclasses.fields(p):
        walk(getattr(p, f.name), f.name)
    return found


def refuse_unset(p: PresetParams) -> None:
    """Raise FakeitError naming every environment variable the preset needs that is not set here, with what each
    holds: a plan without them would name outputs after folders that are not there."""
    unset = unset_variables(p)
    if unset:
        named = "; ".join(f"{name} (used by {', '.join(where)})" for name, where in unset.items())
        raise FakeitError(f"the preset names environment variables that are not set: {named}. Set each to its folder "
                          "(README, 'Paper scale', says what each holds; e.g. export IMAGENET100_TRAIN=/data/imagenet100/train) "
                          "and plan again, or remove the entries that use one you do not have from the preset")


def plan(p: dict | PresetParams, gpus: int = 1, cpus: int = 0, rates: Rates | None = None, *,
         refuse_unset_data: bool = False) -> list[Stage]:
    """The stages of a preset's experiments, in the order to run them, costed for `gpus` GPUs and `cpus` CPU cores
    (0: the reference node's, estimates.Cluster) at `rates` (default: the assumed ones, costs.assumed_rates).

    A preset value naming an environment variable not set here (its data is elsewhere) is refused with
    `refuse_unset_data` (the terminal plan, the launcher); else the stages reading that data are listed with it as a
    variable, and a checkpoint trained on it as the command that finds its folder (the book's page)."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer_config import TransferConfig
    from ..training.train import CHECKPOINT, make_config, run_folder

    if gpus < 1 or cpus < 0:
        raise FakeitError(f"a plan needs at least one GPU and cores >= 0 (0: the reference node's), got gpus={gpus}, cpus={cpus}")
    p = preset_params(p)
    if refuse_unset_data:
        refuse_unset(p)
    unset = unset_variables(p)
    cluster, rates = Cluster(gpus, cpus), plan_rates(p, rates)
    sizes_gb = {"checkpoint": figure("checkpoint_gb"), "feature": figure("feature_bytes_per_image") / 2**30}
    png_gb = png_kb_per_image() / 2**20
    class_set, recipe_name = p.class_set, p.recipe
    num_classes = len(class_set_of(class_set))
    clones = [(v, float(g)) for g in p.guidances for v in p.variants]
    at_paper_scale = p.scale == "paper"
    if at_paper_scale:  # the paper's own 1x clones of this class set (ImageNet-1K: rows 15-17, not a full grid)
        clones = list(dict.fromkeys(clones + paper_clones("table1", class_set)))
    ladder = (p.scaling_variant, p.scaling_guidance)
    sizes: dict[tuple, set] = {}
    for v, g in clones:
        sizes.setdefault((v, float(g)), set()).add(1.0)
    for m in p.multipliers:
        sizes.setdefault(ladder, set()).add(m)
    best = (p.best_variant, p.best_guidance, p.best_multiplier)
    sizes.setdefault(best[:2], set()).update({best[2], 1.0})  # Table 2 sets the best clone beside its 1x size
    probed = {best, (*best[:2], 1.0)} | {(*ladder, m) for m in p.multipliers}
    if at_paper_scale:  # every clone the paper probes in Table 2
        probed |= {(v, g, 1.0) for v, g in paper_clones("table2", class_set)}

    stages: list[Stage] = _published_models(p, rates, cluster, sizes_gb) if at_paper_scale else []
    from ..core.store import is_done

    models: list[tuple[str, str, Path, bool, int]] = []  # (label, paper rows, training data, transfer too, images)
    real = p.real_root
    if real and (not at_paper_scale or paper_row("table1", train=class_set, data="real", model="Baseline")):
        rows = f"{paper_row('table1', train=class_set, data='real')} {paper_row('table2', train=class_set, data='real')}".strip()
        models.append(("real", rows, Path(real), True, _drawn_images(clone_config(p, "c", 2.0, 1.0))[0]))
    gen_flops = costs.generator_flops(p.generator)
    for (v, g), ms in sizes.items():
        configs = {m: clone_config(p, v, g, m) for m in sorted(ms)}
        largest = configs[max(ms)]
        kept, drawn = _drawn_images(largest)
        rows = ", ".join(r for m in sorted(ms) if (r := paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)))
        what = f"{v}, gs {g:g}, " + "/".join(f"{m:g}x" for m in sorted(ms))
        est = estimates.generation_estimate(drawn, gen_flops, largest.steps, g, rates, cluster)
        stages.append(Stage("generate", what, rows, generate_command(largest, [configs[m].images_per_class for m in sorted(ms)]),
                            all(is_done(dataset_dir(c)) for c in configs.values()), est.seconds / 3600, kept * png_gb,
                            gpus=gpus, bound=f"{drawn:,} images drawn"))
        for m, c in configs.items():
            row = paper_row("table1", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            if (v, g) == ladder and len(p.multipliers) > 1 and m in p.multipliers:
                row = f"{row} Fig. 4".strip()
            t2 = paper_row("table2", train=class_set, data="synthetic", variant=v, guidance=g, scale=int(m) if m >= 1 else m)
            models.append((f"{v}, gs {g:g}, {m:g}x", f"{row} {t2}".strip(), dataset_dir(c), (v, g, m) in probed, _drawn_images(c)[0]))

    # Table 1's extra draws: one clone again with the next generation seeds (the variance of a draw, `draws` in all)
    for d in range(1, p.draws if p.variants and p.guidances else 1):
        v, g = draw_setting(p.variants, p.guidances)
        again = clone_config(p, v, g, 1.0, seed=p.seed + d)
        kept, drawn = _drawn_images(again)
        est = estimates.generation_estimate(drawn, gen_flops, again.steps, g, rates, cluster)
        what, which = f"{v}, gs {g:g}, 1x, generation seed {again.seed}", "second draw" if d == 1 else f"draw {d + 1}"
        stages.append(Stage("generate", what, which, generate_command(again, [again.images_per_class]),
                            is_done(dataset_dir(again)), est.seconds / 3600, kept * png_gb, gpus=gpus, bound=f"{drawn:,} images drawn"))
        # Table 2 and Fig. 1 probe the draws of their 1x clone in transfer (the variance of a draw measured there)
        models.append((f"{what} ({which})", "", dataset_dir(again), (v, g, 1.0) == (*best[:2], 1.0), kept))

    seeds = list(p.train_seeds)
    initialised = []  # the checkpoints whose initialisations Table 2's random-weights row probes
    for (base_label, rows, data, probe, n), train_seed in ((m, s) for m in models for s in seeds):
        label = base_label if len(seeds) == 1 else f"{base_label}, seed {train_seed}"
        recipe = make_config(recipe_name, data=str(data), class_set=class_set, seed=train_seed)
        run = run_folder(recipe)
        est = estimates.training_estimate(recipe.epochs * n, recipe, num_classes, base_label != "real", rates, cluster)
        train_args = ["train", str(data), "--preset", recipe_name, "--set", f"class_set={class_set}"] + (["--set", f"seed={train_seed}"] if train_seed else [])
        var = next((f"{v} is set" for v in unset if f"${v}" in str(data) or f"${{{v}}}" in str(data)), None)
        if var is None and base_label == "real" and not Path(data).expanduser().is_dir():
            var = f"{data} is there"  # a real set is named by its files: its run folder is known where it is
        ckpt = finder_word(train_args) if var else run / CHECKPOINT
        image_bytes = figure("jpeg_bytes_per_image") if base_label == "real" else png_kb_per_image() * 1024
        stages.append(Stage("train", label, rows, train_args, None if var else is_done(run), est.seconds / 3600,
                            sizes_gb["checkpoint"], waits_for=var or "", gpus=gpus, bound=est.bound,
                            read_gb_s=recipe.epochs * n * image_bytes / est.seconds / 1e9 if est.seconds else 0.0))
        roots = {k: v for k, v in p.eval_roots.items() if v}
        ev = EvalConfig(checkpoint=str(ckpt), suite=p.eval_suite, class_set=class_set, max_images=p.eval_max_images or None,
                        **{f"{k}_root": v for k, v in roots.items()})
        eval_args = ["evaluate", str(ckpt), "--suite", ev.suite, *[x for k, v in roots.items() for x in (f"--{k}", str(v))],
                     "--class-set", class_set] + (["--max-images", str(ev.max_images)] if ev.max_images else [])
        est = estimates.inference_estimate(sum(figure("test_set_images").get(k, 0) for k in roots), recipe.arch, recipe.eval_crop,
                                       rates, cluster)
        out = eval_results_folder(ev)
        stages.append(Stage("evaluate", label, rows, eval_args, _done(out), est.seconds / 3600, 0.0, output=out, gpus=gpus,
                            bound=est.bound))
        if probe and p.transfer_roots:
            stages.append(_transfer_stage(p, str(ckpt), label, rows, rates, cluster, sizes_gb, TransferConfig, recipe.arch))
        if base_label == f"{best[0]}, gs {best[1]:g}, 1x":
            initialised.append((str(ckpt), label, recipe.arch))
    if p.transfer_roots:
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


def _published_models(p: PresetParams, rates: Rates, cluster: Cluster, sizes_gb: dict) -> list[Stage]:
    """Evaluate and transfer stages of the published models of the preset's class set (files the user downloads)."""
    from ..evaluation.evaluate import EvalConfig
    from ..evaluation.evaluate import results_folder as eval_results_folder
    from ..evaluation.transfer_config import TransferConfig

    stages = []
    roots = {k: v for k, v in p.eval_roots.items() if v}
    est = estimates.inference_estimate(sum(figure("test_set_images").get(k, 0) for k in roots), "resnet50", 224, rates, cluster)
    for label, file, t1, t2 in PUBLISHED_MODELS.get(p.class_set, []):
        args = ["evaluate", file, "--suite", "imagenet", *[x for k, v in roots.items() for x in (f"--{k}", str(v))], "--class-set", p.class_set]
        wait = f"downloading {file}"
        ev = EvalConfig(checkpoint=file, suite="imagenet", class_set=p.class_set, **{f"{k}_root": v for k, v in roots.items()})
        out = eval_results_folder(ev) if roots else None
        stages.append(Stage("evaluate", label, paper_row("table1", **t1), args, _done(out), est.seconds / 3600, 0.0, wait, out,
                            gpus=cluster.gpus, bound=est.bound))
        if p.transfer_roots:
            stages.append(_transfer_stage(p, file, label, paper_row("table2", **t2), rates, cluster, sizes_gb, TransferConfig, "resnet50"))
            stages[-1].waits_for = wait
    return stages


def _transfer_stage(p: PresetParams, checkpoint: str, label: str, rows: str, rates: Rates, cluster: Cluster, sizes_gb: dict,
                    TransferConfig, arch: str, random_init: bool = False) -> Stage:
    from ..evaluation.transfer import results_folder as transfer_results_folder

    args = _transfer_args(p)
    values = {"checkpoint": checkpoint, "suite": p.transfer_suite} | ({"random_init": True} if random_init else {})
    for flag, value in zip(args[::2], args[1::2]):
        values[f"{flag[2:]}_root"] = value
    tc = from_dict(TransferConfig, values)
    seconds, bound, images = _transfer_estimate(p, arch, rates, cluster)
    out = transfer_results_folder(tc)  # None while the checkpoint (or a published model's file) is not there
    flags = ["--random-init"] if random_init else []
    return Stage("transfer", label, rows, ["transfer", checkpoint, "--suite", tc.suite, *flags, *args], _done(out), seconds / 3600,
                 images * sizes_gb["feature"], output=out, gpus=cluster.gpus, bound=bound)
