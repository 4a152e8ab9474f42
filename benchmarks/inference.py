"""Images/s of the mini encoder's forward pass on the CPU: bf16 autocast + channels-last against float32, side by side.

This is what `evaluate` and `transfer` run on the mini scale's test and transfer sets (`devices.amp_dtype`,
`devices.prepare_for_inference`). Both sides run the same randomly initialised `resnet10_narrow` encoder on the same
28x28 batches, alternately, several rounds in one process; each side's best round counts (timeit's convention),
and the agreement of the two sides' features is printed (cosine similarity), since bf16 changes the numbers.
Last line: `ratio <bf16 images/s / float32 images/s>`.

    python benchmarks/inference.py [--batch 512] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from fakeit_lib.core.parallel import pin_threads
from fakeit_lib.training.models import build_model, encoder


def images_per_s(model, x: torch.Tensor, amp: bool) -> tuple[float, torch.Tensor]:
    """(images/s of one forward pass over x, the features)."""
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        t0 = time.perf_counter()
        out = model(x).float()
        return len(x) / (time.perf_counter() - t0), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads of every pool, both sides (default: the machine's cores)")
    args = parser.parse_args()
    print(f"thread pools (both sides): {pin_threads(args.threads)}")
    torch.manual_seed(0)
    plain = encoder(build_model("resnet10_narrow", 10, cifar_stem=True)).eval()
    fast = encoder(build_model("resnet10_narrow", 10, cifar_stem=True)).eval()
    fast.load_state_dict(plain.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, 28, 28)
    xc = x.contiguous(memory_format=torch.channels_last)
    images_per_s(plain, x[:64], False), images_per_s(fast, xc[:64], True)  # warm-up
    best = {"float32": 0.0, "bf16 + channels-last": 0.0}
    for _ in range(args.rounds):
        r32, f32 = images_per_s(plain, x, False)
        r16, f16 = images_per_s(fast, xc, True)
        best["float32"], best["bf16 + channels-last"] = max(best["float32"], r32), max(best["bf16 + channels-last"], r16)
    cos = torch.nn.functional.cosine_similarity(f32, f16, dim=1)
    print(f"mini encoder (resnet10_narrow, 28 px), batch {args.batch}, {torch.get_num_threads()} threads, best of {args.rounds}")
    for side, rate in best.items():
        print(f"  {side:22s} {rate:8.0f} images/s")
    print(f"  feature agreement: cosine similarity min {cos.min():.4f}, mean {cos.mean():.4f}")
    print(f"ratio {best['bf16 + channels-last'] / best['float32']:.2f}")


if __name__ == "__main__":
    main()
