"""How good a learner is the mini recipe? Its top-1 on real Fashion-MNIST beside three simple baselines, same images.

Trains the mini recipe (fakeit_lib/training/train.py PRESETS["mini"]) on the book's real 1x set (the first
`images_per_class` real Fashion-MNIST training images of each class, 50 in the mini preset: the images Table 1's
real model trains on), once per seed of the mini preset's `train_seeds`, and scores each model on the whole real
test split (10,000 images) as the book's evaluation does. Beside it, on the same training images and test images,
the three baselines of fakeit_lib/evaluation/baselines.py: logistic regression on raw pixels (C = 0.1), an RBF
support-vector machine on raw pixels (C = 10), and a textbook small CNN trained with the same seeds. Every model
trains in its own worker process with one thread (every thread pool pinned), as many at once as there are job slots
(`FAKEIT_JOBS`, default one per core); its cost is the CPU time of its training (core-seconds), evaluation not
included.

Prints each side's mean top-1 with its 95% Student-t interval over seeds (a learner without a seed: one fit) and
its core-seconds a model; last line `ratio <mini recipe top-1 / best baseline top-1>` (>= 1: the recipe beats them).

    python benchmarks/mini_learner.py [--seeds 0 1 2 3 4] [--per-class 50] [--max-images 0] [--fast]

`--fast` (seconds, for the tests): 5 images per class, seed 0, 200 test images, one epoch of each trained model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

FAST = dict(per_class=5, seeds=[0], max_images=200, epochs=1)


def mini_recipe_job(data: str, seed: int, max_images: int | None, epochs: int | None, out: str,
                    changes: dict | None = None) -> dict:
    """Train the mini recipe (with `changes` to its fields) on `data` with `seed` and score it on the real test split:
    {top1, cpu_seconds}."""
    from fakeit_lib.evaluation.evaluate import EvalConfig, evaluate
    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import CHECKPOINT, make_config

    overrides = {**(changes or {}), **({"epochs": epochs, "warmup_epochs": 0} if epochs else {})}
    t0 = time.process_time()
    folder = train(make_config("mini", data=data, class_set="fashion-mnist", seed=seed, **overrides),
                   Path(out) / f"mini-{seed}", log=lambda *a, **k: None)
    cpu = time.process_time() - t0
    result = evaluate(EvalConfig(checkpoint=str(Path(folder) / CHECKPOINT), suite="mini", class_set="fashion-mnist",
                                 max_images=max_images), Path(out) / f"eval-{seed}")
    return {"top1": 100.0 * result["datasets"]["fashion-mnist-test"]["top1"], "cpu_seconds": cpu}


def baseline_job(learner: str, data: str, seed: int, max_images: int | None, epochs: int | None) -> dict:
    """Train one baseline on `data` and score it on the real test split: {top1, cpu_seconds}."""
    from fakeit_lib.evaluation.baselines import CNNRecipe, fitted_learner, test_arrays, training_arrays

    train_x, train_y = training_arrays(data)
    test_x, test_y = test_arrays(max_images)
    recipe = CNNRecipe(epochs=epochs) if epochs else CNNRecipe()
    t0 = time.process_time()
    predict = fitted_learner(learner, train_x, train_y, seed, recipe)
    cpu = time.process_time() - t0
    return {"top1": 100.0 * float((predict(test_x) == test_y.numpy()).mean()), "cpu_seconds": cpu}


def run(kind: str, *args) -> dict:
    """One job of the benchmark (module-level, for the worker processes)."""
    return mini_recipe_job(*args) if kind == "mini" else baseline_job(kind, *args)


def summary(values: list[float]) -> str:
    from fakeit_lib.paper.stats import mean_interval

    est = mean_interval(values)
    if est.low is None:
        return f"{est.mean:5.1f} (one fit)"
    return f"{est.mean:5.1f} [{est.low:5.1f}, {est.high:5.1f}]"


def main() -> None:
    from fakeit_lib.evaluation.baselines import LEARNERS
    from fakeit_lib.experiments.presets import load_preset, project_root

    mini = load_preset("mini", project_root(Path(__file__).parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=mini["train_seeds"],
                        help=f"training seeds of the mini recipe and the CNN (default: the mini preset's, {mini['train_seeds']})")
    parser.add_argument("--per-class", type=int, default=mini["images_per_class"],
                        help=f"real training images per class (default: the mini preset's, {mini['images_per_class']})")
    parser.add_argument("--max-images", type=int, default=0, help="score on the first N test images (default 0: all 10,000)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs of each trained model (default 0: each recipe's own)")
    parser.add_argument("--fast", action="store_true", help="seconds: 5 images a class, seed 0, 200 test images, 1 epoch")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one field of the mini recipe (TrainConfig), value parsed as YAML (repeatable): "
                             "how each change of the recipe was measured")
    parser.add_argument("--learners", nargs="*", default=list(LEARNERS), choices=list(LEARNERS),
                        help="baselines to train beside the recipe (default: all three; none: the recipe alone)")
    args = parser.parse_args()
    from fakeit_lib.core.params import yaml_value

    changes = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r} must be FIELD=VALUE")
        changes[key.strip()] = yaml_value(value, f"--set {item!r}")
    if changes:  # every change checked before any model trains (YAML reads 1e-3 as text: write 0.001)
        from fakeit_lib.core.errors import FakeitError
        from fakeit_lib.training.train import make_config

        try:
            make_config("mini", data="(checked before training)", class_set="fashion-mnist", **changes)
        except (FakeitError, TypeError) as e:
            parser.error(f"--set: {e}")
    if args.fast:
        args.per_class, args.seeds, args.max_images, args.epochs = FAST["per_class"], FAST["seeds"], FAST["max_images"], FAST["epochs"]
    import sklearn.svm  # noqa: F401  (its libraries loaded before the pools are pinned)

    from fakeit_lib.core.parallel import job_slots, pin_threads, run_jobs
    from fakeit_lib.datasets.images import export_fashion_mnist

    print(f"thread pools (this process and each worker): {pin_threads(1)}; {job_slots()} models at once")
    max_images, epochs = args.max_images or None, args.epochs or None
    with tempfile.TemporaryDirectory() as tmp:
        data = str(export_fashion_mnist(Path(tmp) / "real", "train", args.per_class))
        jobs = [("mini", data, s, max_images, epochs, tmp, changes) for s in args.seeds]
        for learner, (_, seeded) in ((k, LEARNERS[k]) for k in args.learners):
            jobs += [(learner, data, s, max_images, epochs) for s in (args.seeds if seeded else args.seeds[:1])]
        results = run_jobs(run, jobs, desc="models")
    rows: dict[str, list[dict]] = {}
    for job, r in zip(jobs, results):
        rows.setdefault(job[0], []).append(r)
    images = f"the first {max_images:,}" if max_images else "all 10,000"
    print(f"real Fashion-MNIST, {args.per_class} training images per class ({10 * args.per_class} images), scored on "
          f"{images} real test images; top-1 % mean [95% interval over seeds], training core-seconds a model")
    names = {"mini": "mini recipe (narrow ResNet from scratch, SGD)", **{k: v[0] for k, v in LEARNERS.items()}}
    if changes:
        print(f"  the mini recipe with {', '.join(f'{k}={v}' for k, v in changes.items())}")
    for kind, rs in rows.items():
        top1 = [r["top1"] for r in rs]
        cpu = np.mean([r["cpu_seconds"] for r in rs])
        print(f"  {names[kind]:48s} {summary(top1)}  {len(rs)} model(s), {cpu:6.1f} core-s a model")
    if len(rows) == 1:
        return  # the recipe alone: no ratio
    best = max((k for k in rows if k != "mini"), key=lambda k: np.mean([r["top1"] for r in rows[k]]))
    recipe, other = np.mean([r["top1"] for r in rows["mini"]]), np.mean([r["top1"] for r in rows[best]])
    print(f"best baseline: {names[best]} ({other:.1f}); mini recipe {recipe:.1f}")
    print(f"ratio {recipe / other:.3f}")


if __name__ == "__main__":
    main()
