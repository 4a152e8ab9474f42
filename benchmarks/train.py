"""Inside real training runs of the mini recipe: how much of the wall time goes to waiting for data.

Trains the mini preset's model on real Fashion-MNIST (50 images per class, the size of a 1x mini clone), once with
the loader the mini preset uses (`memory`: the set held in memory, whole batches augmented in torch) and once with
the per-image worker loader (`workers`, PIL multi-crop in DataLoader workers, as at paper scale) for comparison,
each in a fresh run folder. The training loop is not changed: the loader it gets is wrapped so that the time spent
inside `next()` (waiting for a batch) is summed, and the wall time of each epoch comes from the run's own metrics.
Prints, per loader, images/s and the share of wall time spent waiting for data. Last line:
`ratio <model-bound time / wall time>` of the mini preset's loader (1.0: the loader never makes the model wait).

    python benchmarks/train.py [--epochs 10] [--per-class 50]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fakeit_lib.core.parallel import pin_threads
from fakeit_lib.datasets.images import export_fashion_mnist
from fakeit_lib.training import loop as train_module
from fakeit_lib.training.loop import train
from fakeit_lib.training.train import make_config


class TimedLoader:
    """A training loader whose iteration sums the time spent waiting for each batch."""

    def __init__(self, loader, clock: dict):
        self.loader, self.clock = loader, clock

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            finally:
                self.clock["wait"] += time.perf_counter() - t0
            yield batch


def timed_run(data: Path, out: Path, loader: str, epochs: int) -> dict:
    """Train once with `loader`; returns wall seconds of the epochs, seconds waiting for data and images/s."""
    clock = {"wait": 0.0}
    originals = train_module.memory_training_loader, train_module.training_loader

    def wrap(make):
        def wrapped(*args, **kwargs):
            ld, sampler, drop_last = make(*args, **kwargs)
            return TimedLoader(ld, clock), sampler, drop_last
        return wrapped

    train_module.memory_training_loader, train_module.training_loader = (wrap(f) for f in originals)
    try:
        overrides = {"loader": loader, "epochs": epochs, "warmup_epochs": min(2, epochs - 1)}
        if loader == "workers":
            overrides.update(workers=2, threads=1)  # the worker loader's setting on 2 cores: one compute thread
        cfg = make_config("mini", data=str(data), class_set="fashion-mnist", **overrides)
        folder = train(cfg, out, log=lambda *a, **k: None)
    finally:
        train_module.memory_training_loader, train_module.training_loader = originals
    rows = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]
    wall = sum(r["seconds"] for r in rows)
    images = sum(r["images"] for r in rows)
    return {"wall": wall, "wait": clock["wait"], "images_per_s": images / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (the mini recipe trains 30)")
    parser.add_argument("--per-class", type=int, default=50, help="real training images per class")
    args = parser.parse_args()
    # the runs' compute thread is the recipe's (one); every other pool of this process pinned to one too
    print(f"thread pools: {pin_threads(1)}")
    with tempfile.TemporaryDirectory() as tmp:
        data = export_fashion_mnist(Path(tmp) / "real", "train", args.per_class)
        results = {loader: timed_run(data, Path(tmp) / f"run-{loader}", loader, args.epochs) for loader in ("memory", "workers")}
    print(f"mini recipe, real Fashion-MNIST {args.per_class} images per class, {args.epochs} epochs per run")
    for loader, r in results.items():
        print(f"  loader {loader:8s} {r['images_per_s']:7.0f} images/s, wall {r['wall']:6.1f} s, waiting for data "
              f"{r['wait']:6.1f} s ({100 * r['wait'] / r['wall']:.1f}%)")
    mini = results["memory"]
    print(f"  the mini preset's loader is {results['memory']['images_per_s'] / results['workers']['images_per_s']:.2f}x "
          f"the worker loader in images/s")
    print(f"ratio {(mini['wall'] - mini['wait']) / mini['wall']:.3f}")


if __name__ == "__main__":
    main()
