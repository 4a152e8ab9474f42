"""Peak memory of the probe's two solvers as the number of images grows: full-batch L-BFGS against minibatch SGD.

An iNaturalist-like problem scaled down: long-tailed classes (Zipf frequencies, every class at least 3 images),
Gaussian class centres in feature space, at two training-set sizes. Each (solver, size) runs in a fresh process
that builds the features, resets the kernel's peak-RSS counter (Linux /proc/self/clear_refs) and then runs one
probe (one hyper-parameter value, validation split, refit, test; L-BFGS 30 iterations, SGD 20 epochs at lr 100 on
L2-normalised features, batch 1024), after a tiny probe has paid the process's one-time costs: the memory it reports is the solver's working
memory beyond the features themselves, which every solver holds. L-BFGS keeps (classes x images) logits, so its
memory grows with the images; SGD keeps one batch and the weights, so its memory should not. Accuracy and seconds
are printed for both. Last line: `ratio <L-BFGS peak / SGD peak at the larger size>`.

    python benchmarks/probe_scale.py                               # 1,000 classes, 8k and 16k images, 256-d
    python benchmarks/probe_scale.py --classes 8142 --images 50000 100000 --dim 2048   # iNat-2018-like, needs RAM
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def problem(classes: int, images: int, dim: int, seed: int = 0):
    """(train x, train y, test x, test y): long-tailed class sizes, Gaussian clusters, 3 test images a class."""
    import numpy as np
    import torch

    freq = 1.0 / np.arange(1, classes + 1) ** 0.6
    counts = np.maximum(3, np.floor(freq / freq.sum() * images)).astype(int)
    y = torch.as_tensor(np.repeat(np.arange(classes), counts))
    yte = torch.arange(classes).repeat_interleave(3)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g)
    x = centres[y] + 1.5 * torch.randn(len(y), dim, generator=g)
    xte = centres[yte] + 1.5 * torch.randn(len(yte), dim, generator=g)
    return x.relu(), y, xte.relu(), yte  # non-negative, as post-ReLU features


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def child(solver: str, classes: int, images: int, dim: int) -> dict:
    """One probe in this process; its peak memory beyond the features."""

    from fakeit_lib.core.parallel import pin_threads
    from fakeit_lib.evaluation.probe import SGDSettings, linear_probe

    pin_threads(1)  # every pool on one thread, whatever the caller's environment
    run = {
        "lbfgs": lambda *d: linear_probe(*d, [1e-4], solver="lbfgs", norm="none", split="per-class", max_iter=30),
        "sgd": lambda *d: linear_probe(*d, solver="sgd", norm="l2", split="per-class",
                                       sgd=SGDSettings(lrs=[100.0], wds=[1e-6], epochs=20, batch_size=1024)),
    }[solver]
    run(*problem(20, 200, dim, seed=1))  # one-time costs of a process (kernels, thread pools) paid before measuring
    xtr, ytr, xte, yte = problem(classes, images, dim)
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    base = _status("VmRSS")
    t0 = time.perf_counter()
    res = run(xtr, ytr, xte, yte)
    return {"solver": solver, "images": len(ytr), "classes": classes, "peak_mb": (_status("VmHWM") - base) / 2**20,
            "seconds": time.perf_counter() - t0, "top1": res["top1"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--images", type=int, nargs=2, default=[8000, 16000], help="two training-set sizes")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        solver, classes, images, dim = args.child
        print(json.dumps(child(solver, int(classes), int(images), int(dim))))
        return
    print(f"probe working memory beyond the features: {args.classes} classes, {args.dim}-d features, "
          f"training sets of {args.images[0]:,} and {args.images[1]:,} images (one process each)")
    print(f"{'solver':8} {'images':>8} {'peak MB':>9} {'seconds':>8} {'top-1':>6}")
    rows = {}
    for n in args.images:
        for solver in ("lbfgs", "sgd"):
            out = subprocess.run([sys.executable, __file__, "--child", solver, str(args.classes), str(n), str(args.dim)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows[solver, n] = r
            print(f"{solver:8} {r['images']:>8,} {r['peak_mb']:>9.1f} {r['seconds']:>8.1f} {r['top1']:>6.3f}")
    small, large = args.images
    for solver in ("lbfgs", "sgd"):
        a, b = rows[solver, small], rows[solver, large]
        print(f"{solver}: peak at {b['images']:,} images / peak at {a['images']:,} images = {b['peak_mb'] / max(a['peak_mb'], 1e-9):.2f}")
    print(f"ratio {rows['lbfgs', large]['peak_mb'] / max(rows['sgd', large]['peak_mb'], 1e-9):.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
