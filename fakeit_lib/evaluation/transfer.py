"""`fakeit transfer`: linear probes of a frozen encoder on transfer datasets (paper Table 2, Fig. 1, Fig. 4).

Protocol (paper Sec. 5.3, after the authors' transfer code, naver/trex `transfer/`): penultimate features are
extracted once per (checkpoint, dataset split) and cached; an L2-regularised multinomial logistic regression is
fitted on them, its hyper-parameters chosen on a validation split carved from the training split, then refitted on
train+val and scored (top-1) on the test split. The solver (full-batch L-BFGS, or minibatch SGD for the large sets)
is chosen by size and recorded: see `probe`.

Suites:
- `paper`: the ten datasets of Table 2 (Aircraft, Cars, DTD, EuroSAT, Flowers, Pets, Food101, SUN397, iNaturalist
  2018/2019), the five ImageNet-CoG levels of Fig. 1 and the ImageNet-1K linear probe, from the user's roots, with
  the authors' splits, transform (bicubic resize to 224, centre crop) and feature normalisation: see
  `datasets.transfer_data`. `random:resnet50` as the checkpoint probes a randomly initialised encoder (Table 2 row 1).
- `mini` (offline, real images of other classes and domains than the mini clone's Fashion-MNIST): scikit-learn's
  digits, MNIST digits, notMNIST-style font letters and Open Clip Art objects, with the fixed splits of
  `fakeit_lib.datasets.minidata` (TRANSFER_SETS). Fashion-MNIST is the in-domain test set and never a transfer dataset:
  `out_of_domain_average` refuses it.

Feature extraction runs on the GPU when there is one (fp16 autocast, pinned-memory workers) and, under torchrun, is
sharded over the processes and gathered; the probes are then spread over the processes (the largest data sets
first, each to the least busy process), each on its own GPU and its share of the machine's cores. Each data set's
result is written (atomically, under `datasets/` of the results folder) as soon as its probe is fitted, so a stopped
run resumes with the data sets still to do.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..core.devices import cores_per_process, precision, prepare_for_inference, resolve_device
from ..core.distributed import Ranks, env_rank
from ..core.errors import FakeitError
from ..core.params import from_dict
from ..core.store import atomic_write_json, claim_explained, claim_folder, data_identity, is_done, mark_done, stage_dir
from ..datasets.minidata import TRANSFER_SETS as _MINI
from ..datasets.minidata import as_dataset, check_out_of_domain, content_sha256, transfer_split
from ..datasets.transfer_data import ALL_SETS, COG_LEVELS, authors_transform, split_samples
from ..training.models import encoder
from .evaluate import load_results, provenance
from .features import cached_features, encoder_identity, feature_path, load_encoder
from .probe import DEFAULT_WDS, PAPER_WDS, SOLVERS, choose_solver, linear_probe
from .repmetrics import representation_metrics
from .transfer_config import MINI_SETS, ROOTED, TransferConfig, root_identity

RESULTS = "results.json"


def paper_splits(name: str, root: str, transform, seed: int = 0, check_sizes: bool = True, **cog):
    """(training split, test split) datasets of a paper transfer dataset, with the authors' split (transfer_data)."""
    from ..datasets.torch_datasets import ImageListDataset

    trainval, test = split_samples(name, root, seed, check_sizes, **cog)
    return ImageListDataset(trainval, transform, f"{name}-trainval"), ImageListDataset(test, transform, f"{name}-test")


def mini_splits(name: str, transform, config: TransferConfig | None = None):
    """(training split, test split) of a mini-suite dataset (real images of other classes, offline)."""
    check_out_of_domain(name)
    return tuple(as_dataset(transfer_split(name, split), transform, f"{name}-{split}") for split in ("train", "test"))


def out_of_domain_average(suite: str, top1: dict[str, float]) -> float:
    """The mean top-1 over a suite's transfer datasets; raises if one of them shares the training domain."""
    if not top1:
        raise FakeitError("no transfer dataset to average")
    for name in top1:
        if suite == "mini":
            check_out_of_domain(name)
        elif name not in ALL_SETS:
            raise FakeitError(f"{name!r} is not a transfer dataset of the paper suite; valid: {', '.join(ALL_SETS)}")
    return float(np.mean(list(top1.values())))


def probe_owners(sizes: dict[str, int], world: int) -> dict[str, int]:
    """Which process fits each data set's probe: the largest first, each to the process with the least work so far
    (work counted in training images), so that no process waits long for another."""
    load = [0] * world
    owners = {}
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        r = min(range(world), key=lambda i: (load[i], i))
        owners[name] = r
        load[r] += max(1, sizes[name])
    return owners


# --------------------------------------------------------------------------------------------- driver


def results_folder(config: TransferConfig, identity: tuple[str, str] | None = None) -> Path | None:
    """The folder of `config`'s results under the output root, `transfer-<suite>-<encoder label>-<hash>`, named by
    the encoder's content and label (encoder_identity, computed when not given) and the probe's settings
    (TransferConfig.identity); None while the checkpoint does not exist."""
    known = identity or encoder_identity(config)
    if known is None:
        return None
    return stage_dir(f"transfer-{config.suite}-{known[1]}", config.identity(known[0]))


def _probe_settings(config: TransferConfig) -> dict:
    """The probe's protocol per suite: the authors' for paper (per-class val split, features as they are for
    L-BFGS and L2-normalised for SGD, their regularisation range), this library's for mini."""
    if config.suite == "paper":
        return {"split": "per-class", "weight_decays": config.weight_decays or PAPER_WDS, "norms": {"lbfgs": "none", "sgd": "l2"}}
    return {"split": "stratified", "weight_decays": config.weight_decays or DEFAULT_WDS, "norms": {"lbfgs": "standard", "sgd": "l2"}}


def probe_features(xtr, ytr, xte, yte, config: TransferConfig, device: str = "cpu") -> dict:
    """The linear probe of one dataset's features with the suite's protocol (solver chosen by size, recorded)."""
    s = _probe_settings(config)
    n_fit = int(len(ytr) * (1 - config.val_fraction))
    solver = choose_solver(config.solver, n_fit, len(torch.unique(ytr)))
    return linear_probe(xtr, ytr, xte, yte, s["weight_decays"], config.val_fraction, config.seed, config.max_iter,
                        solver=solver, norm=s["norms"][solver], split=s["split"], sgd=config.sgd(), device=device)


PER_DATASET = "datasets"  # a results folder's subfolder: one JSON per data set probed, written as each finishes


def transfer(config: TransferConfig, out: Path | str | None = None) -> dict:
    """Linear-probe results of a checkpoint's encoder on a suite (computed, or loaded when done). Each data set's
    result is written as soon as it is fitted, so a stopped run resumes with the data sets still to do; under
    torchrun the features are extracted by every process and the probes spread over the processes."""
    from ..training.augment import eval_transform

    t0 = time.perf_counter()
    config.validate()
    known = encoder_identity(config)
    if known is None:
        raise FakeitError(f"checkpoint {config.checkpoint} does not exist")
    loaded, sha = load_encoder(config.checkpoint, config.seed, config.random_init)
    keyed = config.identity(sha)
    folder = Path(out) if out else results_folder(config, known)
    # the paper suite's probes of ImageNet-scale features: days on a CPU, so "auto" does not fall back to it silently
    work = "probing the paper suite's transfer datasets" if config.suite == "paper" else None
    device = resolve_device(config.device, work)
    with Ranks(device, stage="transfer") as ranks:
        if ranks.agree(is_done(folder)):  # process 0 looks, every process follows (Ranks.agree)
            claim_folder(folder, keyed)  # refuses a folder holding another model's or settings' results
            return load_results(folder / RESULTS, sha256=sha)
        meta = loaded.meta
        if config.suite == "paper":
            transform, roots = authors_transform(), config.roots()
            cog = {"cog_levels_file": config.cog_levels_file, "cog_splits_file": config.cog_splits_file}
            splits = {n: paper_splits(n, r, transform, config.seed, config.check_sizes, **(cog if n in COG_LEVELS else {}))
                      for n, r in roots.items()}
        else:
            transform = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
            splits = {name: mini_splits(name, transform, config) for name in config.mini_sets}
            roots = {name: _MINI[name].source for name in config.mini_sets}
        if ranks.rank == 0:
            claim_explained(folder, keyed, explain=out is None)
        ranks.barrier()
        keys = {}
        for name in splits:
            root_key = f"{'cog' if name in COG_LEVELS else name}_root"
            key = {"dataset": name, "root": root_identity(root_key, roots[name]) if config.suite == "paper" else roots[name],
                   "transform": "authors-224" if config.suite == "paper" else [meta["eval_resize"], meta["eval_crop"]],
                   "seed": config.seed if name == "eurosat" else None,
                   # features made in another precision (bf16 on one CPU, float32 on another) are never reused
                   "precision": precision(device)}
            if name in COG_LEVELS and config.suite == "paper":  # the images of a level are those its split file names
                key["splits"] = data_identity(config.cog_splits_file) if config.cog_splits_file else None
            if config.suite == "mini":  # the data's own content: another machine's data is never taken for this one's
                key["content_sha256"] = content_sha256(name)
            keys[name] = key
        # data sets probed by an earlier, stopped run of this folder are kept (the folder is claimed by this config)
        todo = [name for name in splits if not ranks.agree((folder / PER_DATASET / f"{name}.json").is_file())]
        enc = prepare_for_inference(encoder(loaded.model), device) if todo else None
        for name in todo:  # every process extracts its shard of every split still to probe (process 0 caches them)
            for split, ds in zip(("train", "test"), splits[name]):
                cached_features(enc, sha, {**keys[name], "split": split}, ds, config, ranks, device, load=False)
        ranks.barrier()  # every cache file written
        owners = probe_owners({name: len(splits[name][0]) for name in todo}, ranks.world)
        for name in todo:
            if owners[name] == ranks.rank:
                atomic_write_json(folder / PER_DATASET / f"{name}.json",
                                  probe_dataset(name, sha, keys[name], roots[name], config, device, ranks.rank))
        ranks.barrier()  # every probe written
        if ranks.rank == 0:
            results = {"suite": config.suite, "model": provenance(loaded), "fakeit_version": __version__,
                       "precision": precision(device), "datasets": {n: json.loads((folder / PER_DATASET / f"{n}.json").read_text()) for n in splits}}
            atomic_write_json(folder / RESULTS, results)
            mark_done(folder, {"datasets": list(results["datasets"]), "seconds": round(time.perf_counter() - t0, 1)})
        ranks.barrier()
    return load_results(folder / RESULTS, sha256=sha)


def probe_dataset(name: str, sha: str, key: dict, root: str, config: TransferConfig, device: str, rank: int) -> dict:
    """One data set's probe result from its cached features (the solver's threads: this process's share of the
    machine's cores, not torchrun's OMP_NUM_THREADS=1)."""
    train_x = torch.load(feature_path(sha, {**key, "split": "train"}), map_location="cpu", weights_only=True)
    test_x = torch.load(feature_path(sha, {**key, "split": "test"}), map_location="cpu", weights_only=True)
    xtr, ytr, xte, yte = train_x["x"], train_x["y"], test_x["x"], test_x["y"]
    threads = torch.get_num_threads()
    torch.set_num_threads(cores_per_process())
    try:
        probe = probe_features(xtr, ytr, xte, yte, config, device)
    finally:
        torch.set_num_threads(threads)
    return {**probe, "root": root, "feature_dim": int(xtr.shape[1]),
            **({"content_sha256": key["content_sha256"]} if "content_sha256" in key else {}),
            "repmetrics_test": representation_metrics(xte, yte), "probed_by_process": rank}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file: ours (checkpoint.pt), the authors' resnet50 .pth, or random:resnet50")
    parser.add_argument("--suite", default="paper", choices=["paper", "mini"])
    for name in ROOTED:
        parser.add_argument(f"--{name}", dest=f"{name}_root", metavar="DIR", help=f"root of {name}")
    parser.add_argument("--cog", dest="cog_root", metavar="DIR", help="ImageNet-CoG: root of the ImageNet-21K images")
    parser.add_argument("--cog-levels-file", metavar="PKL", help="ImageNet-CoG: the levels' concept lists (CoG release)")
    parser.add_argument("--cog-splits-file", metavar="PKL", help="ImageNet-CoG: each concept's train/test images (CoG release)")
    parser.add_argument("--mini-sets", nargs="+", metavar="NAME", help=f"mini: datasets to probe (default: {' '.join(MINI_SETS)})")
    parser.add_argument("--random-init", action="store_true",
                        help="probe the checkpoint's network at its initialisation (its training seed), not its weights")
    parser.add_argument("--solver", default="auto", choices=list(SOLVERS), help="probe solver (default auto: by size)")
    parser.add_argument("--batch-size", type=int, default=128, help="feature extraction batch per process (default 128)")
    parser.add_argument("--workers", type=int, help="loader processes (default: 0 on the CPU, up to 8 per GPU)")
    parser.add_argument("--device", default="auto", help="auto (default: cuda:LOCAL_RANK when CUDA is available), cpu, cuda, cuda:N")
    parser.add_argument("--out", help="results folder (default: <output root>/transfer-<suite>-<run>-<hash>)")


def run(args: argparse.Namespace) -> int:
    """`fakeit transfer`: probe a checkpoint's encoder (torchrun: features sharded) and print the top-1 per dataset."""
    keys = ("checkpoint", "suite", "batch_size", "workers", "device", "solver", "cog_root",
            "cog_levels_file", "cog_splits_file")
    values = {k: getattr(args, k) for k in keys}
    values.update({f"{n}_root": getattr(args, f"{n}_root") for n in ROOTED})
    if args.mini_sets:
        values["mini_sets"] = args.mini_sets
    if args.random_init:
        values["random_init"] = True
    results = transfer(from_dict(TransferConfig, values), args.out)
    if env_rank()[0] == 0:
        print(json.dumps({k: v["top1"] for k, v in results["datasets"].items()}, indent=1))
    return 0
