"""The mini recipe's training step on the CPU, three ways of running it side by side in one process.

The mini book trains about 70 (model, seed) runs; on a CPU the model's step is most of their cost (the memory
loader waits little: benchmarks/train.py). This benchmark times one optimiser step of the mini recipe's network
(resnet10_narrow with its CIFAR stem, batch 16, one 28 px and two 14 px crops, SGD with momentum) in the precision
the library trains in on this CPU (bf16 autocast where bf16 kernels are fast, else float32: core/devices.amp_dtype)
on random inputs, every thread pool pinned to `--threads` (default 1, as each training job of the book runs):
- contiguous (NCHW) tensors, as the library trained before;
- channels-last tensors, as it trains now (training/train.py: under `amp` on every device);
- S seeds fused into one network as grouped convolutions (each seed its own group, BatchNorm channels and head),
  against the same S models stepped one after another, both channels-last: a lever measured and not taken.
Rounds alternate; each side's best round counts. Last line: `ratio <contiguous ms / channels-last ms per step>`.

    python benchmarks/train_step.py [--seeds 5] [--steps 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from fakeit_lib.core.devices import amp_dtype
from fakeit_lib.core.parallel import pin_threads
from fakeit_lib.training.models import MultiCropClassifier, build_model

BATCH, CLASSES = 16, 10
DTYPE = amp_dtype("cpu")  # the library's choice for this CPU


class GroupedLinear(nn.Module):
    """S linear heads applied to their own slices of the fused features."""

    def __init__(self, heads: list[nn.Linear]):
        super().__init__()
        self.s = len(heads)
        self.weight = nn.Parameter(torch.stack([h.weight.detach() for h in heads]))
        self.bias = nn.Parameter(torch.stack([h.bias.detach() for h in heads]))

    def forward(self, x):
        y = torch.einsum("bsc,skc->bsk", x.view(x.shape[0], self.s, -1), self.weight) + self.bias
        return y.reshape(x.shape[0], -1)


def fuse(models: list[nn.Module]) -> nn.Module:
    """One network computing S models at once: every convolution grouped by model, BatchNorm and heads side by side."""
    s, fused = len(models), copy.deepcopy(models[0])
    named = [dict(m.named_modules()) for m in models]
    for name, mod in list(fused.named_modules()):
        parts = [n[name] for n in named]
        if isinstance(mod, nn.Conv2d):
            new = nn.Conv2d(mod.in_channels * s, mod.out_channels * s, mod.kernel_size, mod.stride, mod.padding,
                            mod.dilation, mod.groups * s, mod.bias is not None)
            new.weight.data = torch.cat([q.weight.data for q in parts])
        elif isinstance(mod, nn.BatchNorm2d):
            new = nn.BatchNorm2d(mod.num_features * s, mod.eps, mod.momentum)
            for attr in ("weight", "bias", "running_mean", "running_var"):
                getattr(new, attr).data = torch.cat([getattr(q, attr).data for q in parts])
        elif isinstance(mod, nn.Linear):
            new = GroupedLinear(parts)
        else:
            continue
        parent, _, leaf = name.rpartition(".")
        setattr(fused.get_submodule(parent) if parent else fused, leaf, new)
    return fused


def ms_per_step(seeds: int, fused: bool, channels_last: bool, steps: int) -> float:
    """Milliseconds per step for `seeds` models (fused or one after another)."""
    torch.manual_seed(0)
    models = [build_model("resnet10_narrow", CLASSES, cifar_stem=True) for _ in range(seeds)]
    nets = [MultiCropClassifier(fuse(models))] if fused else [MultiCropClassifier(m) for m in models]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    nets = [n.to(memory_format=fmt) for n in nets]
    opts = [torch.optim.SGD(n.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4) for n in nets]
    c = 3 * (seeds if fused else 1)
    crops = [torch.randn(BATCH, c, 28, 28), torch.randn(BATCH, c, 14, 14), torch.randn(BATCH, c, 14, 14)]
    crops = [x.contiguous(memory_format=fmt) for x in crops]
    y = torch.randint(0, CLASSES, (3 * BATCH,))
    for k in range(steps + 5):
        if k == 5:
            t0 = time.perf_counter()
        for net, opt in zip(nets, opts):
            with torch.autocast("cpu", dtype=DTYPE, enabled=DTYPE is not None):
                logits = net(crops).float()
            if fused:
                logits = logits.view(3 * BATCH, seeds, CLASSES)
                loss = sum(F.cross_entropy(logits[:, i], y) for i in range(seeds))
            else:
                loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return 1000 * (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="models fused into one network (default 5)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads of every pool (default 1, as a book job)")
    args = parser.parse_args()
    print(f"thread pools: {pin_threads(args.threads)}")
    best = {k: float("inf") for k in ("contiguous", "channels-last", "separate", "fused")}
    for _ in range(args.rounds):
        best["contiguous"] = min(best["contiguous"], ms_per_step(1, False, False, args.steps))
        best["channels-last"] = min(best["channels-last"], ms_per_step(1, False, True, args.steps))
        best["separate"] = min(best["separate"], ms_per_step(args.seeds, False, True, args.steps))
        best["fused"] = min(best["fused"], ms_per_step(args.seeds, True, True, args.steps))
    precision = "bf16 autocast" if DTYPE is not None else "float32 (this CPU has no fast bf16 kernels)"
    print(f"mini recipe step (batch {BATCH}, 1 x 28 px + 2 x 14 px crops, {precision}), best of {args.rounds} rounds:")
    print(f"  one model: contiguous {best['contiguous']:.1f} ms, channels-last {best['channels-last']:.1f} ms "
          f"({best['contiguous'] / best['channels-last']:.2f}x)")
    print(f"  {args.seeds} models: one after another {best['separate']:.1f} ms, fused as grouped convolutions "
          f"{best['fused']:.1f} ms ({best['separate'] / best['fused']:.2f}x, not taken: small, and fusion would "
          "cost the book's scheduling of one (model, seed) per job)")
    print(f"ratio {best['contiguous'] / best['channels-last']:.2f}")


if __name__ == "__main__":
    main()
