"""The paper's experiments as chains of cached stages: prompts -> generate -> train (per seed) -> evaluate / transfer.

Each function returns the output of one stage, computing it only when its folder (named by a hash of its
settings, under the output root) is not finished yet, so chapters that need the same synthetic set or model share
it. A "model" of the book is one training set trained with every seed of `train_seeds` (`ModelRuns`): the synthetic
set stays fixed, the seeds change the initialisation and the augmentation stream, and every verdict is computed over
them (fakeit_lib.paper.findings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import FakeitError
from ..core.parallel import job_slots, run_jobs
from ..core.params import from_dict
from ..core.store import code_version, stage_dir
from ..datasets.classes import class_set_name
from ..generation.config import GenerateConfig, dataset_dir
from ..generation.generate import generate_clones, generate_dataset
from ..paper.results import variant_name
from ..paper.stats import Family
from .params import PipelineParams, TransferParams


def images_spec(p: PipelineParams, multiplier: float = 1.0) -> int | str:
    """The images-per-class spec of a clone `multiplier` times the 1x size (a count, or a spec of the real counts)."""
    if p.images_per_class == "match":
        if not p.real_root:
            raise FakeitError("images_per_class 'match' needs real_root, the real training set whose counts are matched")
        return f"match:{p.real_root}" if multiplier == 1 else f"x{multiplier:g}:{p.real_root}"
    return max(1, round(int(p.images_per_class) * multiplier))


DRAW_SETTING = ("c_dc", 2.0)  # the clone drawn twice to measure the variance of the draw (the paper's best prompt)


def draw_setting(variants: list[str], guidances: list[float]) -> tuple[str, float]:
    """The (variant, guidance) Table 1 draws a second time: the paper's best, c_dc at 2.0, when the run has it, else
    the first of the run's."""
    return DRAW_SETTING if DRAW_SETTING[0] in variants and DRAW_SETTING[1] in [float(g) for g in guidances] else (variants[0], float(guidances[0]))


def clone_config(p: PipelineParams, variant: str, guidance: float, multiplier: float = 1.0, seed: int | None = None):
    """The GenerateConfig of the clone of `p.class_set` with this prompt variant and guidance, `multiplier` times the
    1x size (drawn with generation seed `seed`, default `p.seed`): the one definition of a clone that the notebooks,
    the plan and the commands it prints share."""
    return from_dict(GenerateConfig, dict(classes=p.class_set, variant=variant, generator=p.generator,
                                          guidance=float(guidance), steps=p.steps, images_per_class=images_spec(p, multiplier),
                                          seed=p.seed if seed is None else seed, batch_size=p.gen_batch_size,
                                          storage=p.storage))


def _generate_job(config, rank: int = 0, world: int = 1) -> str:
    """A clone, or one rank's share of its batches (batches rank, rank + world, ...: the layout torchrun gives); the
    last rank to finish writes the manifest and DONE (generation.generate), so shards of one clone run side by side."""
    import os

    if world == 1:
        return str(generate_dataset(config, progress=False))
    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK="0")
    try:
        return str(generate_dataset(config, progress=False))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _generate_done(config) -> bool:
    from ..core.store import is_done

    return is_done(dataset_dir(config))


def synthetic_clone(p: PipelineParams, variant: str, guidance: float, multiplier: float = 1.0) -> Path:
    """The folder of a synthetic clone of `p.class_set`, `multiplier` times the 1x size (generated unless complete)."""
    return synthetic_clones(p, [(variant, guidance, multiplier)])[0]


def synthetic_clones(p: PipelineParams, keys: list[tuple]) -> list[Path]:
    """The folders of several clones (variant, guidance, multiplier[, generation seed]), generated side by side in
    worker processes (fakeit_lib.core.parallel; on a GPU one after another in this process): each missing clone split
    into as many shards of its batches as there are job slots, so one large clone keeps every core busy too."""
    configs = [clone_config(p, *k) for k in keys]
    done = [_generate_done(c) for c in configs]
    slots = job_slots() if not all(done) else 1
    jobs, finished, owner = [], [], []
    for i, (config, is_done) in enumerate(zip(configs, done)):
        world = 1 if is_done or slots == 1 else slots
        for rank in range(world):  # shards of a clone submitted together: rank 0 (which claims the folder) first
            jobs.append((config, rank, world))
            finished.append(is_done)
            owner.append(i)
    folders = run_jobs(_generate_job, jobs, finished, desc="generate")
    return [Path(next(f for f, o in zip(folders, owner) if o == i)) for i in range(len(configs))]


def clone_ladder(p: PipelineParams, variant: str, guidance: float, multipliers: list[float]) -> dict[float, Path]:
    """The folders of one clone at several sizes (a scaling study): the largest drawn once (its batches shared out
    over the job slots), the others views of it."""
    synthetic_clones(p, [(variant, guidance, max(multipliers))])
    configs = [clone_config(p, variant, guidance, m) for m in multipliers]
    return dict(zip(multipliers, generate_clones(configs, progress=False)))


def real_training_set(p: PipelineParams) -> Path:
    """The real training set of the baseline: `p.real_root`, or real Fashion-MNIST train images at mini scale."""
    from ..datasets.images import export_fashion_mnist

    if p.real_root:
        root = Path(p.real_root).expanduser()
        if not root.is_dir():
            raise FakeitError(f"real_root {root} is not a folder; give the real training set (ImageFolder of wnid folders)")
        return root
    if p.class_set != "fashion-mnist":
        raise FakeitError(f"real_root is empty; class set {p.class_set} needs its real training images (e.g. ImageNet-100 train)")
    if p.images_per_class == "match":
        raise FakeitError("images_per_class 'match' needs real_root; at mini scale give a number of images per class")
    n = int(p.images_per_class)
    folder = stage_dir(f"real-fashion-mnist-train{n}", {"split": "train", "per_class": n, "code": code_version("fakeit_lib.datasets.images")})
    return export_fashion_mnist(folder, "train", n)


def trained_checkpoint(p: PipelineParams, data: Path, seed: int, **recipe) -> Path:
    """The checkpoint of a classifier trained from scratch on `data` with `p.recipe` and `seed` (trained unless done)."""
    return Path(_train_job(p.recipe, str(data), p.class_set, seed, recipe))


def real_baseline_checkpoint(p: PipelineParams) -> Path | None:
    """The checkpoint of the run's real-trained baseline (its first training seed) once its training has finished,
    else None; never trains (the paper scale's judge falls back on it: evaluation.judges)."""
    from ..training.train import CHECKPOINT, make_config, run_folder

    root = Path(p.real_root).expanduser() if p.real_root else None
    if root is None or not root.is_dir() or not p.train_seeds:
        return None
    job = (p.recipe, str(root), p.class_set, p.train_seeds[0], {})
    return run_folder(make_config(p.recipe, data=str(root), class_set=p.class_set, seed=p.train_seeds[0])) / CHECKPOINT \
        if _train_done(*job) else None


def scale_judge(p: PipelineParams) -> tuple[object | None, str]:
    """(judge, the judge in words) of the run's generated images (evaluation.judges): the Fashion-MNIST judge shipped
    with the package, or a real-trained ImageNet classifier on disk (torchvision's ResNet-50, else the run's finished
    real baseline); (None, why) when there is none. Nothing is downloaded or trained for it."""
    from ..evaluation.judges import judge_candidates, judge_for

    if p.class_set == "fashion-mnist":
        return judge_for(p.class_set)
    return judge_for(p.class_set, judge_candidates(real_baseline_checkpoint(p)))


def _train_job(recipe: str, data: str, class_set: str, seed: int, overrides: dict) -> str:
    from ..training.loop import train
    from ..training.train import CHECKPOINT, make_config

    cfg = make_config(recipe, data=data, class_set=class_set, seed=seed, **overrides)
    return str(Path(train(cfg, log=lambda *a, **k: None)) / CHECKPOINT)


def _train_done(recipe: str, data: str, class_set: str, seed: int, overrides: dict) -> bool:
    from ..core.store import is_done
    from ..training.train import make_config, run_folder

    return is_done(run_folder(make_config(recipe, data=data, class_set=class_set, seed=seed, **overrides)))


def _eval_values(p: PipelineParams, checkpoint: Path, suite: str | None = None) -> dict:
    suite = suite or p.eval_suite
    roots = {f"{k}_root": v for k, v in p.eval_roots.items()} if suite == "imagenet" else {}
    return dict(checkpoint=str(checkpoint), suite=suite, class_set=p.class_set, max_images=p.eval_max_images or None, **roots)


def _evaluate_job(values: dict) -> dict:
    from ..evaluation.evaluate import EvalConfig, evaluate

    return evaluate(from_dict(EvalConfig, values))


def _evaluate_done(values: dict) -> bool:
    from ..core.store import is_done
    from ..evaluation.evaluate import EvalConfig, results_folder

    folder = results_folder(from_dict(EvalConfig, values))
    return folder is not None and is_done(folder)


def evaluation(p: PipelineParams, checkpoint: Path, suite: str | None = None) -> dict:
    """Top-1/top-5 of a checkpoint on the real test sets of `suite` (default `p.eval_suite`; evaluated unless done)."""
    return _evaluate_job(_eval_values(p, checkpoint, suite))


def evaluations(p: PipelineParams, checkpoints: list[Path], suite: str | None = None) -> list[dict]:
    """`evaluation` of several checkpoints, side by side in worker processes (fakeit_lib.core.parallel)."""
    jobs = [(_eval_values(p, c, suite),) for c in checkpoints]
    return run_jobs(_evaluate_job, jobs, [_evaluate_done(*j) for j in jobs], desc=f"evaluate {suite or p.eval_suite}")


def _transfer_values(p: TransferParams, checkpoint: Path, suite: str, roots: dict, **settings) -> dict:
    sets = list(p.transfer_sets)
    if suite == "mini" and sets:
        settings = {"mini_sets": sets, **settings}
    return dict(checkpoint=str(checkpoint), suite=suite, **{f"{k}_root": v for k, v in roots.items()}, **settings)


def _transfer_job(values: dict) -> dict:
    from ..evaluation.transfer import transfer
    from ..evaluation.transfer_config import TransferConfig

    return transfer(from_dict(TransferConfig, values))


def _transfer_done(values: dict) -> bool:
    from ..core.store import is_done
    from ..evaluation.transfer import results_folder
    from ..evaluation.transfer_config import TransferConfig

    folder = results_folder(from_dict(TransferConfig, values))
    return folder is not None and is_done(folder)


def transfer_results(p: TransferParams, checkpoint: Path, suite: str, roots: dict, **settings) -> dict:
    """Linear-probe top-1 of a checkpoint's frozen encoder on a transfer suite (probed unless done)."""
    return _transfer_job(_transfer_values(p, checkpoint, suite, roots, **settings))


def transfers(p: TransferParams, checkpoints: list[Path], suite: str, roots: dict, random_init: bool = False) -> list[dict]:
    """`transfer_results` of several checkpoints (or of their initialisations, `random_init`), side by side in worker
    processes (fakeit_lib.core.parallel)."""
    extra = {"random_init": True} if random_init else {}
    jobs = [(_transfer_values(p, c, suite, roots, **extra),) for c in checkpoints]
    return run_jobs(_transfer_job, jobs, [_transfer_done(*j) for j in jobs], desc=f"transfer {suite}")


@dataclass
class ModelRuns:
    """One training set trained once per seed, and what each seed's model scored on the in-domain test sets."""

    label: str  # how tables name it: "real", or "class name + definition, guidance 2 (1x)"
    data: str  # real or synthetic
    variant: str | None  # prompt variant of a synthetic set
    guidance: float | None  # guidance scale of a synthetic set
    multiplier: float  # size relative to the 1x set
    dataset: Path  # the training set's folder
    images: int  # its number of images
    seeds: list[int]
    checkpoints: list[Path]
    results: list[dict]  # evaluation results, one per seed

    def scores(self, metric: str = "top1", test: str | None = None) -> list[float]:
        """Per-seed score (%) on one test set (default: the first, i.e. the in-domain one)."""
        out = []
        for r in self.results:
            name = test or next(iter(r["datasets"]))
            if name not in r["datasets"]:
                raise FakeitError(f"model {self.label} was not evaluated on {name}; it was on {', '.join(r['datasets'])}")
            out.append(100.0 * r["datasets"][name][metric])
        return out

    def saw(self, class_set: str) -> str:
        """What this model's training saw, in words."""
        if self.data == "real":
            return f"{self.images} real training images of the {class_set_name(class_set)} classes"
        return (f"{self.images} synthetic images of the {class_set_name(class_set)} classes (prompt {variant_name(self.variant)}, guidance "
                f"{self.guidance:g}, {self.multiplier:g}x), no real image")


def clone_label(variant: str, guidance: float, multiplier: float = 1.0) -> str:
    """How a clone is named in tables and legends: `class name + definition, guidance 2 (1x)`."""
    return f"{variant_name(variant)}, guidance {guidance:g} ({multiplier:g}x)"


def _count_images(folder: Path) -> int:
    from ..datasets.images import read_manifest, training_samples

    if (Path(folder) / "manifest.jsonl").exists():
        return len(read_manifest(folder))
    return len(training_samples(folder)[0])


def model_runs(p: PipelineParams, variant: str | None = None, guidance: float | None = None,
               multiplier: float = 1.0, **recipe) -> ModelRuns:
    """The real baseline (variant None) or a clone, trained with every seed of `p.train_seeds` and evaluated."""
    return model_runs_many(p, [(variant, guidance, multiplier, recipe)])[0]


def model_runs_many(p: PipelineParams, specs: list[tuple]) -> list[ModelRuns]:
    """Several models at once, each (variant or None for real, guidance, multiplier, recipe overrides[, generation
    seed of its clone, default p.seed]): their training sets made here (generation, side by side), then every
    (model, seed) trained and evaluated side by side."""
    specs = [tuple(s) + (p.seed,) * (5 - len(s)) for s in specs]
    if any(v is not None and g is None for v, g, _, _, _ in specs):
        raise FakeitError("a synthetic clone needs a guidance scale")
    clone_keys = list(dict.fromkeys((v, float(g), float(m), int(seed)) for v, g, m, _, seed in specs if v is not None))
    folders = dict(zip(clone_keys, synthetic_clones(p, clone_keys)))

    def label(v, g, m, seed):
        return clone_label(v, g, m) + ("" if seed == p.seed else f", generation seed {seed}")

    made = [(real_training_set(p), "real", "real") if v is None else
            (folders[(v, float(g), float(m), int(seed))], label(v, g, m, seed), "synthetic") for v, g, m, _, seed in specs]
    jobs = [(p.recipe, str(dataset), p.class_set, seed, dict(spec[3])) for (dataset, _, _), spec in zip(made, specs)
            for seed in p.train_seeds]
    checkpoints = [Path(c) for c in run_jobs(_train_job, jobs, [_train_done(*j) for j in jobs], desc="train")]
    results = evaluations(p, checkpoints)
    out, n = [], len(p.train_seeds)
    for k, ((dataset, label_, data), (variant, guidance, multiplier, _, _)) in enumerate(zip(made, specs)):
        out.append(ModelRuns(label_, data, variant, guidance, multiplier, dataset, _count_images(dataset),
                             list(p.train_seeds), checkpoints[k * n:(k + 1) * n], results[k * n:(k + 1) * n]))
    return out


def family(name: str, models: dict[str, ModelRuns], test: str | None = None, metric: str = "top1"):
    """The per-seed scores (%) of several models on one test set (default: each model's in-domain test) as a
    paper.stats.Family: every comparison among them takes its seed error from all of them."""
    return Family(name, {label: runs.scores(metric, test) for label, runs in models.items()})


def transfer_scores(p: TransferParams, runs: ModelRuns, suite: str, roots: dict) -> list[dict[str, float]]:
    """Per seed: linear-probe top-1 (%) on each transfer dataset, and their `average` (out-of-domain sets only)."""
    return transfer_scores_many(p, [runs], suite, roots)[0]


def transfer_scores_many(p: TransferParams, models: list[ModelRuns], suite: str, roots: dict,
                         random_init: bool = False) -> list[list[dict[str, float]]]:
    """`transfer_scores` of several models, every probe side by side in worker processes; with `random_init`, of
    each checkpoint's network at its own initialisation (the random-weights control of Table 2 row 1)."""
    from ..evaluation.transfer import out_of_domain_average

    results = transfers(p, [c for m in models for c in m.checkpoints], suite, roots, random_init)
    out, k = [], 0
    for m in models:
        per_model = []
        for _ in m.checkpoints:
            per = {name: 100.0 * d["top1"] for name, d in results[k]["datasets"].items()}
            per_model.append({**per, "average": out_of_domain_average(suite, per)})
            k += 1
        out.append(per_model)
    return out
