"""Images/s of `generate_dataset` against a bare loop calling the same diffusers pipeline with the same settings.

Both sides start from nothing (load the pipeline the same way, then make every image) and are measured alternately
in one process, several rounds; the ratio compares each side's best round (timeit's convention), and the
median of per-round ratios and a CPU-time ratio are printed too, for a machine shared with other work. The dataset side also reads the class set,
builds prompts, writes PNGs, the manifest and fsyncs; the bare loop keeps its images in memory.
Both make the same pipeline calls: whole batches within a class (generation.config.plan_batches), so a batch size that
does not divide the images per class draws images that are not kept, on both sides alike.
Defaults: the mini preset's batch of 10 images per pipeline call, 200 images a side per round, so that a
round's fixed costs (class set, folder records, manifest merge) weigh as in a real run rather than dominate.
Device and dtype as `fakeit generate` takes them (default: CUDA in float16 when available, else CPU float32).
Last line: `ratio <dataset images/s / bare images/s>` (goal >= 0.95).

    python benchmarks/generation.py                       # the mini generator if shipped, else a tiny random SD
    python benchmarks/generation.py --generator PATH --size 64 --steps 20 --images-per-class 20
    python benchmarks/generation.py --generator PATH --device cuda --dtype float16 --steps 50 --batch-size 8
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeit_lib.core.errors import FakeitError  # noqa: E402
from fakeit_lib.core.parallel import pin_threads  # noqa: E402
from fakeit_lib.datasets.classes import load_class_set  # noqa: E402
from fakeit_lib.datasets.images import read_manifest  # noqa: E402
from fakeit_lib.generation import config, generate  # noqa: E402
from fakeit_lib.prompts.variants import build_prompts  # noqa: E402


def bare_loop(cfg: generate.GenerateConfig) -> int:
    """Make the same images as generate_dataset with the pipeline alone; returns the number of images."""
    gen = generate.load_generator(cfg.generator, cfg.device, cfg.dtype, cfg.scheduler)  # the same loading
    class_set = load_class_set(cfg.classes)
    texts = {p.class_index: p.text for p in build_prompts(class_set, cfg.variant)}
    n_per_class, b = int(cfg.images_per_class), cfg.batch_size
    # the same pipeline calls as generate_dataset (generation.config.plan_batches): whole batches within a class
    batches = [([(texts[c.index], config.image_seed(cfg.seed, c.index, i)) for i in range(start, start + b)],
                min(b, n_per_class - start)) for c in class_set for start in range(0, n_per_class, b)]
    size = {} if cfg.size is None else {"height": cfg.size, "width": cfg.size}
    # bf16 on the CPU runs under autocast, as generate_dataset runs it
    autocast = torch.autocast("cpu", dtype=gen.autocast) if gen.autocast is not None else contextlib.nullcontext()
    n = 0
    for batch, kept in batches:
        gens = [torch.Generator("cpu").manual_seed(seed) for _, seed in batch]
        with autocast:
            gen.pipe([t for t, _ in batch], num_inference_steps=cfg.steps, guidance_scale=cfg.guidance,
                     generator=gens, **size).images
        n += kept  # a class's last batch is drawn whole, as generate_dataset draws it (prefix-stable seeds)
    return n


def _sync(device: str) -> None:
    """Wait for queued GPU work, so that a timer stops when the images are made."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default=None, help="mini, or a local diffusers folder (default: mini if shipped, else tiny SD)")
    parser.add_argument("--images-per-class", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=10, help="images per pipeline call (default: the mini preset's gen_batch_size)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads of every pool, both sides (1 is steadier on a shared 2-core machine)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", choices=list(generate.DTYPES),
                        help="auto: float16 on CUDA, float32 on CPU; bfloat16 on the CPU runs under autocast")
    args = parser.parse_args()
    print(f"thread pools (both sides): {pin_threads(args.threads)}")
    work = Path(tempfile.mkdtemp(prefix="fakeit-bench-"))
    gen = args.generator
    if gen is None:
        from fakeit_lib.generation.mini.model import mini_generator_path

        if (mini_generator_path() / "model_index.json").exists():
            gen = "mini"
        else:
            from tiny_sd import build_tiny_sd

            gen = str(build_tiny_sd(work / "tiny-sd"))
            args.size = args.size or 32
    cfg = generate.GenerateConfig(
        classes="fashion-mnist", variant="c", generator=gen, images_per_class=args.images_per_class, guidance=2.0,
        steps=args.steps, size=args.size, batch_size=args.batch_size, dtype=args.dtype, device=args.device,
    )  # fmt: skip
    try:
        cfg.validate()
    except FakeitError as e:
        parser.error(str(e))
    from fakeit_lib.core.devices import resolve_device

    device = resolve_device(args.device)
    n_images = 10 * args.images_per_class
    print("compares: generate_dataset (class set, prompts, the pipeline, PNGs, manifest) against a bare loop "
          "calling the same pipeline with the same prompts and seeds, images/s of each")
    print(f"generator {gen} on {device} ({args.dtype}): {n_images} images, {args.steps} steps, size "
          f"{args.size or 'native'}, batch {args.batch_size}, {args.threads} CPU thread(s)")
    bare_loop(cfg)  # warm up imports and caches for both sides
    wall: dict[str, list[float]] = {"bare": [], "dataset": []}  # images per second of elapsed time
    cpu: dict[str, list[float]] = {"bare": [], "dataset": []}  # images per second of this process's CPU time
    for r in range(args.rounds):
        order = ["bare", "dataset"] if r % 2 == 0 else ["dataset", "bare"]
        for side in order:
            _sync(device)
            t, c = time.perf_counter(), time.process_time()
            if side == "bare":
                assert bare_loop(cfg) == n_images
            else:
                folder = generate.generate_dataset(cfg, work / f"ds{r}", progress=False)
                assert len(read_manifest(folder)) == n_images
            _sync(device)
            wall[side].append(n_images / (time.perf_counter() - t))
            cpu[side].append(n_images / (time.process_time() - c))
        print(f"round {r}: bare {wall['bare'][-1]:.2f} images/s, generate_dataset {wall['dataset'][-1]:.2f} images/s")
    # best round of each side (timeit's convention: the least disturbed run), elapsed time and CPU time
    print(f"best: bare {max(wall['bare']):.2f} images/s, generate_dataset {max(wall['dataset']):.2f} images/s")
    print(f"cpu-time ratio {max(cpu['dataset']) / max(cpu['bare']):.3f} (CPU time only; fsync waits not counted)")
    print(f"median of per-round ratios {statistics.median(d / b for d, b in zip(wall['dataset'], wall['bare'])):.3f}")
    print(f"ratio {max(wall['dataset']) / max(wall['bare']):.3f}")


if __name__ == "__main__":
    main()
