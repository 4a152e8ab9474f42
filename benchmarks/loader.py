"""Multi-crop samples/s that one CPU core of the training loader gives at paper resolution, per storage format.

Builds a clone of 512-px colour images (crops of scikit-image's bundled photographs, saved as PNG as `fakeit
generate` saves them) stored as class folders and as tar shards, and as JPEG (quality 95) files for comparison only
(not a storage the project writes: a lossy format changes the images). Each is read through the real training code
(`training.loaders.training_dataset` + `training.loaders.training_loader`, the paper recipe: 1 x 224 px + 8 x 96 px
crops), once with the colour operations in the workers (PIL per image, as the authors' code) and once with them on
the device (the paper recipe's default: the workers decode and crop, `batch_augment.BatchColour` runs on the GPU and is
left out here). The loader runs in this process (workers=0), one thread, so the CPU time it takes per sample is what
one worker process costs a core; each side's best of several rounds counts. With the plan's cost model
(`fakeit_lib/experiments/costs.py`: an A100's published ResNet-50 training rate over the counted FLOPs of a multi-crop
sample) it prints the cores an A100 and 8 A100s need. Last line: `ratio <samples/s a core of the default loader / the rate
that feeds an A100 from 16 cores>` (>= 1: a DGX A100's 16 cores per GPU keep it fed).

    python benchmarks/loader.py [--images 48] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fakeit_lib.core.parallel import pin_threads

CORES_PER_GPU = 16  # a DGX A100: 128 cores for 8 GPUs


def photographs(n: int, size: int = 512, seed: int = 0) -> list[Image.Image]:
    """n colour images of `size` px: random square crops (85-100% of the short side) of four of scikit-image's bundled
    photographs, resized and flipped: about 400 KB as PNG, as a 512-px Stable Diffusion image."""
    from skimage import data

    rng = np.random.default_rng(seed)
    names = ("astronaut", "coffee", "chelsea", "immunohistochemistry")
    sources = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in names]
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        side = int(min(w, h) * rng.uniform(0.85, 1.0))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        img = src.crop((x, y, x + side, y + side)).resize((size, size), Image.BICUBIC)
        out.append(img.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else img)
    return out


def write_clones(images: list[Image.Image], root: Path) -> dict[str, Path]:
    """The images as a clone in class folders, in tar shards (the generation writer's own functions) and as JPEG."""
    from fakeit_lib.generation.config import GenerateConfig, ImageJob
    from fakeit_lib.generation.writer import append_samples, finish_shard, open_shard, shard_file, write_image

    config = GenerateConfig(classes="fashion-mnist", generator="bench", size=512)
    jobs = [ImageJob(f"c{i % 4}/c{i % 4}_{i:05d}.png", i % 4, None, "a photograph", None, i) for i in range(len(images))]
    folders = {name: root / name for name in ("png-folder", "png-shards", "jpeg95-folder")}
    rows = [write_image(folders["png-folder"], j, im, config, "bench") for j, im in zip(jobs, images)]
    open_shard(folders["png-shards"], shard_file(0), [])
    shard_rows, end = append_samples(folders["png-shards"], shard_file(0), 0, tuple(jobs), images, config, "bench")
    finish_shard(folders["png-shards"], shard_file(0), end)
    jpeg_rows = []
    for j, im, row in zip(jobs, images, rows):
        path = folders["jpeg95-folder"] / j.path.replace(".png", ".jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        im.save(path, format="JPEG", quality=95)
        jpeg_rows.append({**row, "path": j.path.replace(".png", ".jpg")})
    for name, manifest in (("png-folder", rows), ("png-shards", shard_rows), ("jpeg95-folder", jpeg_rows)):
        (folders[name] / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest))
    return folders


def cpu_seconds_per_sample(folder: Path, colour: str, epochs: int) -> float:
    """CPU seconds this process spends per multi-crop sample, the loader run in-process over `epochs` epochs."""
    from fakeit_lib.training.loaders import training_loader
    from fakeit_lib.training.loaders import training_dataset
    from fakeit_lib.training.train import make_config

    config = make_config("paper", data=str(folder), class_set="fashion-mnist", colour_ops=colour, workers=0, device="cpu")
    dataset = training_dataset(config)[0]
    loader, sampler, _ = training_loader(dataset, config, 16)
    inner = getattr(loader, "loader", loader)  # colour on the device: the workers' part only (BatchColour runs on the GPU)
    n, t0 = 0, time.process_time()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in inner:
            n += len(batch[1])
    return (time.process_time() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="images of the clone (default 48)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side; the best counts (default 3)")
    args = parser.parse_args()
    print(f"thread pools: {pin_threads(1)}")
    from fakeit_lib.experiments import costs
    from fakeit_lib.training.train import make_config

    recipe = make_config("paper", data="-")
    per_gpu = costs.assumed_rates(8, 2.0)["training_flops"] / costs.multicrop_flops(recipe)
    recorded = costs.figure("multicrop_synthetic_per_core")
    images = photographs(args.images)
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_clones(images, Path(tmp))
        kb = np.mean([p.stat().st_size for p in folders["png-folder"].rglob("*.png")]) / 1024
        jkb = np.mean([p.stat().st_size for p in folders["jpeg95-folder"].rglob("*.jpg")]) / 1024
        sides = [(f, c) for f in folders for c in ("device", "workers")]
        best = {s: float("inf") for s in sides}
        for _ in range(args.rounds):
            for f, c in sides:
                best[(f, c)] = min(best[(f, c)], cpu_seconds_per_sample(folders[f], c, epochs=1))
    print(f"{args.images} images of 512 x 512 px (PNG {kb:.0f} KB, JPEG q95 {jkb:.0f} KB), paper multi-crop 1 x 224 + "
          f"8 x 96 px, one loader process on one core, best of {args.rounds} rounds")
    print(f"an A100 trains {per_gpu:,.0f} multi-crop samples/s (the plan's cost model: its published ResNet-50 rate over the "
          f"FLOPs of a sample); fed from {CORES_PER_GPU} cores it needs {per_gpu / CORES_PER_GPU:.1f} samples/s a core, "
          f"from the recipe's {recipe.workers} workers {per_gpu / recipe.workers:.1f}")
    print(f"  {'storage':14s} {'colour ops':10s} {'ms/sample':>9s} {'samples/s/core':>14s} {'cores/A100':>10s} {'cores/8 A100':>12s}")
    for (f, c), sec in best.items():
        rate = 1.0 / sec
        note = "  (comparison only: lossy, not written by the project)" if f.startswith("jpeg") else ""
        print(f"  {f:14s} {c:10s} {1000 * sec:9.1f} {rate:14.1f} {per_gpu / rate:10.1f} {8 * per_gpu / rate:12.0f}{note}")
    default = 1.0 / best[("png-folder", "device")]
    print(f"  colour ops on the device: {best[('png-folder', 'workers')] / best[('png-folder', 'device')]:.2f}x the samples a core "
          f"(PNG folders), {best[('png-shards', 'workers')] / best[('png-shards', 'device')]:.2f}x (PNG shards)")
    print(f"the plan's figure (paper_costs.yaml, multicrop_synthetic_per_core, measured by --calibrate on other "
          f"photographs): {recorded} samples/s a core; this run's default loader: {default:.1f}")
    print(f"ratio {default / (per_gpu / CORES_PER_GPU):.2f}")


if __name__ == "__main__":
    main()
