"""`fakeit generate`: a class set's prompts turned into a synthetic dataset by a text-to-image model (paper Sec. 3-5).

`generate_dataset(GenerateConfig(...))` writes one ImageFolder-compatible folder per class (named by
`ClassInfo.folder`), or with `storage="shards"` WebDataset-style tar shards of about `shard_images` images
(`shards/shard-NNNNNN.tar`: a file per ~1 GB instead of a file per image), a `manifest.jsonl` with one row per image
(its label is `class_index`: for Fashion-MNIST the official label, which sorted folder names would not give), the
resolved `config.yaml`, and a `DONE` marker last. What is planned before any image is drawn (seeds, prompts,
prefix-stable batches, shards) is in `generation.config`; how it lands on disk (manifest files, tar shards, resume,
views) in `generation.writer`; the pipeline in `generation.pipeline`.

- Resumable: a killed run, rerun with the same command, skips the batches whose manifest rows were written and ends
  byte-identical to an uninterrupted run.
- Sharded: under `torchrun` / `accelerate launch` (RANK, WORLD_SIZE, LOCAL_RANK), batch `b` goes to rank
  `b % WORLD_SIZE` (storage shards: tar shard `s` to rank `s % WORLD_SIZE`, so a shard has one writer); each rank
  appends to its own manifest file; the files are merged when all are finished.
- Prefix clones: a dataset whose folder is not finished is made as a view of a finished larger clone with the same
  settings (same folder family under the output root) when there is one, without drawing an image;
  `generate_clones` (or `fakeit generate` with several --images-per-class values) draws the largest once and makes
  the others views of it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..core import store
from ..core.distributed import Ranks, env_rank
from ..core.errors import FakeitError
from ..core.params import from_dict
from ..datasets.classes import load_class_set
from ..prompts.variants import build_prompts
from .config import (
    DTYPES, REAL_COUNTS_KNOWN, SCHEDULERS, STORAGES, GenerateConfig, ImageJob, dataset_dir, dataset_slug, identity,
    plan_batches, plan_images, plan_shards, resolve_counts,
)
from .pipeline import generate_images, load_generator
from .writer import (
    append_rows, append_samples, batch_layout, check_output_folder, check_storage, complete_batches, done_batches,
    find_superset, finish, finish_shard, open_shard, read_rows, record_seconds, remove_temporaries, repair_shard,
    shard_file, shard_path, write_image, write_view,
)


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise FakeitError(f"{path} did not appear within {seconds:.0f} s; did rank 0 fail?")
        time.sleep(0.5)


def recorded_config(config: GenerateConfig) -> tuple[dict, object, list]:
    """(the config a dataset folder records, its class set, its prompts): identity, class set name and counts."""
    config.validate()
    class_set = load_class_set(config.classes)
    prompts = build_prompts(class_set, config.variant)
    counts = resolve_counts(config.images_per_class, class_set)
    return {**identity(config), "class_set": class_set.name, "counts": counts}, class_set, prompts


def generate_dataset(config: GenerateConfig, out: str | Path | None = None, progress: bool = True,
                     prefix_of: Path | None = None) -> Path:
    """Write (or finish, or find finished, or view from a larger finished clone) the synthetic dataset of `config`
    in `out` (default: its folder under the output root) and return its folder."""
    recorded, class_set, prompts = recorded_config(config)
    folder = Path(out).expanduser() if out is not None else dataset_dir(config)
    if check_output_folder(folder, recorded):
        print(f"complete dataset found: {folder}", file=sys.stderr)
        return folder
    source = prefix_of or find_superset(folder, recorded, dataset_slug(config))
    if source is not None and not any(folder.glob("manifest.rank*.jsonl")):  # not begun, or a cut-short view
        source_revision = (store.read_config(source) or {}).get("generator_revision")
        print(f"{folder.name}: a view of the first images of each class of {source}", file=sys.stderr)
        if env_rank()[0] == 0:
            return write_view(folder, source, plan_images(class_set, prompts, recorded["counts"], config.seed),
                              {**recorded, "generator_revision": source_revision})
        _wait_for(folder / store.DONE_MARKER, 3600)
        return folder
    gen = load_generator(config.generator, config.device, config.dtype, config.scheduler, config.safety_checker, config.revision)
    fixed = getattr(gen.pipe, "native_size", None)  # generators that draw one size only (the mini generator)
    if config.size is not None and fixed is not None and config.size != fixed:
        raise FakeitError(f"generator {config.generator!r} draws only {fixed}x{fixed} images; got size {config.size}")
    if config.size is not None and fixed is None and config.size % 8:
        raise FakeitError(f"size must be a multiple of 8 for {config.generator!r}, got {config.size}")
    recorded["generator_revision"] = gen.revision
    _draw(folder, config, recorded, class_set, prompts, gen, progress)
    return folder


def _draw(folder: Path, config: GenerateConfig, recorded: dict, class_set, prompts, gen, progress: bool) -> None:
    """Draw this rank's missing batches, then merge the rank files and write DONE when every batch is there."""
    batches = plan_batches(class_set, prompts, recorded["counts"], config.seed, config.batch_size)
    jobs = [j for b in batches for j in b.kept]
    batch_of, sizes = batch_layout(batches)
    class_folders = [c.folder for c in class_set]
    shards = plan_shards(batches, config.shard_images) if config.storage == "shards" else None
    shard_of = {b: s for s, numbers in enumerate(shards) for b in numbers} if shards is not None else None
    summary = {"images": len(jobs), "classes": len(class_set), "generator": config.generator, "revision": gen.revision,
               "drawn": sum(len(b.jobs) for b in batches), "storage": config.storage,
               **({"shards": len(shards)} if shards is not None else {})}
    with Ranks(gen.device, stage="generate") as ranks:
        if ranks.rank == 0 and not any(folder.glob("manifest*.jsonl")):
            note = store.recompute_note(folder, recorded)
            if note:
                print(note, file=sys.stderr)
        if ranks.rank == 0 and summary["drawn"] > summary["images"] and progress:
            print(f"batch_size {config.batch_size} does not divide every class's image count: {summary['drawn']} images are "
                  f"drawn to keep {summary['images']} (whole batches keep seeds prefix-stable); a batch size dividing the "
                  "counts draws none in vain", flush=True)
        if ranks.rank == 0:
            store.claim_folder(folder, recorded)
            ranks.barrier()
        else:
            ranks.barrier()
            _wait_for(folder / store.CONFIG_FILE, 600)
            store.claim_folder(folder, recorded)
        if ranks.world == 1:
            remove_temporaries(folder, class_folders)
        if shards is None:
            for name in class_folders:
                (folder / name).mkdir(exist_ok=True)
        rank_file = shard_path(folder, ranks.rank)
        done = done_batches(folder, batch_of, sizes)
        check_storage(folder, done, shard_of)
        if shards is None:  # batch b is rank b % WORLD_SIZE's
            mine = list(range(ranks.rank, len(batches), ranks.world))
        else:  # shard s is rank s % WORLD_SIZE's, written batch after batch
            mine = [b for s in range(ranks.rank, len(shards), ranks.world) for b in shards[s]]
        repair_shard(rank_file, complete_batches(read_rows(rank_file)[0], batch_of, sizes))
        todo = [b for b in mine if b not in done]
        ends = {}  # shard number -> where its next sample goes
        for s in dict.fromkeys(shard_of[b] for b in todo) if shards is not None else ():
            finished = [b for b in shards[s] if b in done]
            if finished != shards[s][: len(finished)]:
                raise FakeitError(f"{folder / shard_file(s)}: batches {finished} are complete but not the first of the "
                                  "shard's; remove the folder and generate it again")
            ends[s] = open_shard(folder, shard_file(s), [r for b in finished for r in done[b]])
        n_mine, n_todo = sum(sizes[b] for b in mine), sum(sizes[b] for b in todo)
        from tqdm.auto import tqdm

        desc = "generate" if ranks.world == 1 else f"generate rank {ranks.rank}"
        bar = tqdm(total=n_mine, initial=n_mine - n_todo, unit="img", desc=desc, position=ranks.rank, disable=not progress, dynamic_ncols=True)
        start = time.perf_counter()

        def save(b: int, kept: tuple[ImageJob, ...], images: list) -> None:  # images first, then the batch's manifest rows
            if shards is None:
                append_rows(rank_file, [write_image(folder, j, image, config, gen.revision) for j, image in zip(kept, images)])
            else:
                s = shard_of[b]
                rows, ends[s] = append_samples(folder, shard_file(s), ends[s], kept, images, config, gen.revision)
                append_rows(rank_file, rows)
                if b == shards[s][-1]:
                    finish_shard(folder, shard_file(s), ends[s])
            bar.update(len(kept))

        # one writer thread saves batch b (PNG or shard, fsync, rows) while batch b+1 is generated; at most one waits
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending = None
            for b in todo:
                batch = batches[b]
                images = generate_images(gen, [j.text for j in batch.jobs], [j.seed for j in batch.jobs], config.guidance, config.steps, config.size)
                if pending is not None:
                    pending.result()  # raises the writer's error, if any
                pending = writer.submit(save, b, batch.kept, images[: batch.keep])
            if pending is not None:
                pending.result()
        bar.close()
        seconds = time.perf_counter() - start
        who = "" if ranks.world == 1 else f"rank {ranks.rank}: "
        print(f"{who}generated {n_todo} images in {seconds:.1f} s ({n_todo / max(seconds, 1e-9):.2f} images/s); "
              f"{n_mine - n_todo} were already done -> {folder}", file=sys.stderr)
        ranks.barrier()
        record_seconds(folder, ranks.rank, seconds)  # cost.json, beside DONE: the build's cost page sums them
        if ranks.rank == 0 or not ranks.distributed:
            finished = finish(folder, jobs, batch_of, sizes, class_folders, summary, shards)
            if not finished and ranks.distributed:
                raise FakeitError(f"{folder}: some batches are missing after every rank finished; rerun the same command")
            if not finished:
                print(f"{who}waiting for the other ranks; the last to finish writes {store.DONE_MARKER}", file=sys.stderr)
        ranks.barrier()


def generate_clones(configs: list[GenerateConfig], progress: bool = True) -> list[Path]:
    """The folders of several clones that differ only in size: the largest is drawn once (unless finished), the
    others are views of it (prefix-stable batches make them identical to separate runs)."""
    recorded = [recorded_config(c)[0] for c in configs]
    order = sorted(range(len(configs)), key=lambda i: -sum(recorded[i]["counts"]))
    largest = order[0]
    base = {k: v for k, v in recorded[largest].items() if k not in ("images_per_class", "counts")}
    for i in order[1:]:
        if {k: v for k, v in recorded[i].items() if k not in ("images_per_class", "counts")} != base:
            raise FakeitError("generate_clones takes clones that differ only in images_per_class; "
                              f"{configs[i].images_per_class!r} differs from {configs[largest].images_per_class!r} in other settings")
    folders: dict[int, Path] = {largest: generate_dataset(configs[largest], progress=progress)}
    for i in order[1:]:
        folders[i] = generate_dataset(configs[i], progress=progress, prefix_of=folders[largest])
    return [folders[i] for i in range(len(configs))]


# ----------------------------------------------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of `fakeit generate` (defaults: GenerateConfig, the paper's)."""
    d = GenerateConfig()
    parser.add_argument("--classes", required=True, metavar="SET", help="imagenet1k, imagenet100, imagenet-r, imagenet-a, fashion-mnist or a class file")
    parser.add_argument("--variant", default=d.variant, metavar="V", help=f"prompt variant (default {d.variant})")
    parser.add_argument("--generator", default=d.generator, metavar="ID|PATH|mini", help=f"hub id, local diffusers folder or mini (default {d.generator})")
    parser.add_argument("--revision", default=None, help="hub revision of the generator (branch, tag or commit)")
    parser.add_argument(
        "--images-per-class", nargs="+", default=[str(d.images_per_class)], metavar="N|match[:ROOT]|xM[:ROOT]",
        help="N, the real per-class counts of an ImageFolder ROOT (match:ROOT), or M times them (x0.1:ROOT ... x50:ROOT); "
        f"without ROOT the known real counts (only {', '.join(REAL_COUNTS_KNOWN)}). Several values: the largest clone is "
        f"drawn once and the others are views of it. Default {d.images_per_class}",
    )  # fmt: skip
    parser.add_argument("--guidance", type=float, default=d.guidance, help=f"classifier-free guidance scale (default {d.guidance})")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"denoising steps (default {d.steps})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"dataset seed (default {d.seed})")
    parser.add_argument("--size", default="native", metavar="PX|native", help="image side in pixels (default: the generator's native size)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"images per pipeline call, part of the result (default {d.batch_size})")
    parser.add_argument("--scheduler", default=None, choices=list(SCHEDULERS), help="sampler (default: the generator's own)")
    parser.add_argument("--dtype", default=d.dtype, choices=list(DTYPES), help="auto: float16 on CUDA, float32 on CPU")
    parser.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N (default auto: cuda:LOCAL_RANK if available)")
    parser.add_argument("--storage", default=d.storage, choices=list(STORAGES),
                        help=f"folder: a PNG file an image; shards: tar shards of --shard-images images (default {d.storage})")
    parser.add_argument("--shard-images", type=int, default=d.shard_images, metavar="N",
                        help=f"images a tar shard holds at least, whole batches (default {d.shard_images}, ~1 GB of 512 px PNGs)")
    parser.add_argument("--keep-safety-checker", action="store_true", help="keep the generator's NSFW filter (off: it blacks out false positives)")
    parser.add_argument("--out", default=None, metavar="DIR", help="dataset folder (default: <output root>/<slug>-<config hash>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _images_per_class(text: str) -> int | str:
    return int(text) if re.fullmatch(r"-?\d+", text.strip()) else text


def configs_from_args(args: argparse.Namespace) -> list[GenerateConfig]:
    """The GenerateConfig of each --images-per-class value of a parsed `fakeit generate` command line."""
    if args.size == "native":
        size = None
    elif re.fullmatch(r"\d+", args.size):
        size = int(args.size)
    else:
        raise FakeitError(f"--size must be a number of pixels or 'native', got {args.size!r}")
    return [from_dict(GenerateConfig, {
        "classes": args.classes, "variant": args.variant, "generator": args.generator,
        "images_per_class": _images_per_class(ipc), "guidance": args.guidance, "steps": args.steps, "seed": args.seed,
        "size": size, "batch_size": args.batch_size, "scheduler": args.scheduler, "dtype": args.dtype,
        "device": args.device, "safety_checker": args.keep_safety_checker, "revision": args.revision,
        "storage": args.storage, "shard_images": args.shard_images,
    }) for ipc in args.images_per_class]  # fmt: skip


def command(config: GenerateConfig, sizes: list[int | str] | None = None) -> list[str]:
    """The `fakeit generate` arguments that make `config` (with several sizes: one run, the largest drawn once)."""
    d = GenerateConfig()
    args = ["generate", "--classes", config.classes, "--variant", config.variant, "--generator", config.generator,
            "--images-per-class", *[str(s) for s in (sizes or [config.images_per_class])]]
    for flag, name in (("--guidance", "guidance"), ("--steps", "steps"), ("--seed", "seed"), ("--batch-size", "batch_size"),
                       ("--scheduler", "scheduler"), ("--dtype", "dtype"), ("--revision", "revision"), ("--size", "size"),
                       ("--storage", "storage"), ("--shard-images", "shard_images")):
        value = getattr(config, name)
        if value != getattr(d, name) or name == "guidance":
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if config.safety_checker:
        args.append("--keep-safety-checker")
    return args


def run(args: argparse.Namespace) -> int:
    """`fakeit generate`: write a synthetic dataset (or several sizes of one) and print its folder(s)."""
    configs = configs_from_args(args)
    if len(configs) > 1:
        if args.out:
            raise FakeitError("--out names one folder; with several --images-per-class values each clone goes to its "
                              "default folder under the output root (set FAKEIT_OUTPUT)")
        for folder in generate_clones(configs, progress=not args.no_progress):
            print(folder)
        return 0
    print(generate_dataset(configs[0], args.out, progress=not args.no_progress))
    return 0

