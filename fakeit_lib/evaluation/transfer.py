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
  `transfer_data`. `random:resnet50` as the checkpoint probes a randomly initialised encoder (Table 2 row 1).
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
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.errors import FakeitError
from ..core.params import from_dict
from ..core.store import (
    atomic_write_bytes, atomic_write_json, claim_explained, claim_folder, code_version, config_hash, data_identity, is_done,
    mark_done, output_root, stage_dir,
)
from ..datasets.minidata import TRANSFER_SETS as _MINI
from ..datasets.minidata import content_sha256
from .probe import (  # noqa: F401 (public API)
    DEFAULT_WDS, PAPER_WDS, SOLVERS, SGDSettings, carve_validation, linear_probe, per_class_validation,
)
from ..datasets.transfer_data import ALL_SETS, COG_LEVELS, PAPER_SETS, authors_transform, split_samples  # noqa: F401

MINI_SETS = tuple(_MINI)
RESULTS = "results.json"
ROOTED = tuple(n for n in ALL_SETS if n not in COG_LEVELS)  # one root each; the CoG levels share cog_root
NOT_IDENTITY = ("checkpoint", "batch_size", "workers", "device")  # the checkpoint counts by its content


@dataclass
class TransferConfig:
    """Which encoder, which datasets, and the probe's settings."""

    checkpoint: str = ""  # our checkpoint.pt, the authors' resnet50 .pth (an encoder without fc is fine), or random:<arch>
    suite: str = "paper"  # paper (Table 2's ten datasets, CoG levels, ImageNet-1K; user roots) or mini (offline)
    aircraft_root: str | None = None  # FGVC-Aircraft (fgvc-aircraft-2013b/ with data/images_variant_*.txt)
    cars_root: str | None = None  # Stanford Cars (cars_annos.mat, car_ims/)
    dtd_root: str | None = None  # DTD (images/, labels/train1.txt ...)
    eurosat_root: str | None = None  # EuroSAT RGB (the 10 class folders, or eurosat/2750/ above them)
    flowers_root: str | None = None  # Flowers-102 (jpg/, imagelabels.mat, setid.mat)
    pets_root: str | None = None  # Oxford-IIIT Pets (images/, annotations/trainval.txt, test.txt)
    food101_root: str | None = None  # Food-101 (images/, meta/train.txt, test.txt)
    sun397_root: str | None = None  # SUN397 (ClassName.txt, Training_01.txt, Testing_01.txt, SUN397/<class>/...)
    inat2018_root: str | None = None  # iNaturalist 2018 root: train2018.json, val2018.json, train_val2018/
    inat2019_root: str | None = None  # iNaturalist 2019 root: train2019.json, val2019.json, train_val2019/
    in1k_root: str | None = None  # ImageNet-1K (train/, val/ in wnid folders): the linear probe of the CoG protocol
    cog_root: str | None = None  # ImageNet-CoG: the ImageNet-21K images the CoG split files name (all five levels)
    cog_levels_file: str | None = None  # ImageNet-CoG: the levels' concept lists (pickle published with CoG)
    cog_splits_file: str | None = None  # ImageNet-CoG: each concept's train/test images (pickle published with CoG)
    mini_sets: list[str] = field(default_factory=lambda: list(MINI_SETS))  # mini: out-of-domain datasets probed
    weight_decays: list[float] | None = None  # L-BFGS grid searched on the val split; None: the suite's (probe.py)
    val_fraction: float = 0.2  # share of the training split held out to choose hyper-parameters; the authors: 0.2
    max_iter: int = 300  # L-BFGS iterations per fit
    solver: str = "auto"  # auto (by size, see probe.py), lbfgs (full batch) or sgd (minibatch)
    sgd_lrs: list[float] = field(default_factory=lambda: list(SGDSettings().lrs))  # minibatch solver: learning rates searched
    sgd_wds: list[float] = field(default_factory=lambda: list(SGDSettings().wds))  # minibatch solver: weight decays searched
    sgd_epochs: int = 100  # minibatch solver: epochs per fit; the authors: 100
    sgd_batch_size: int = 1024  # minibatch solver: batch; the authors: 1024
    check_sizes: bool = True  # refuse a paper dataset whose split sizes differ from the authors' published ones
    batch_size: int = 128  # feature extraction batch per process
    workers: int | None = None  # DataLoader worker processes; None: 0 on the CPU, up to 8 per GPU
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu
    seed: int = 0  # seeds the validation split, the minibatch solver, EuroSAT's split and a random encoder
    random_init: bool = False  # probe the checkpoint's network at its own initialisation (its training seed, before any
    # step): Table 2 row 1's "random weights" for this very architecture and preprocessing

    def validate(self) -> None:
        from ..core.devices import check_device

        if not self.checkpoint:
            raise FakeitError("parameter checkpoint is empty; give a checkpoint file")
        if self.suite not in ("paper", "mini"):
            raise FakeitError(f"parameter suite={self.suite!r} is not valid; valid: 'paper', 'mini'")
        if self.suite == "paper" and not self.roots():
            raise FakeitError(f"suite paper needs at least one dataset root: {', '.join(n + '_root' for n in ROOTED)}, cog_root")
        unknown = sorted(set(self.mini_sets) - set(MINI_SETS))
        if unknown or not self.mini_sets:
            raise FakeitError(f"parameter mini_sets={self.mini_sets} must list datasets of {', '.join(MINI_SETS)}")
        if not 0 < self.val_fraction < 1:
            raise FakeitError(f"parameter val_fraction={self.val_fraction} must be in (0, 1)")
        if self.weight_decays is not None and (not self.weight_decays or min(self.weight_decays) < 0):
            raise FakeitError(f"parameter weight_decays={self.weight_decays} must be a non-empty list of values >= 0 or null")
        if self.solver not in SOLVERS:
            raise FakeitError(f"parameter solver={self.solver!r} is not valid; valid: {', '.join(SOLVERS)}")
        if not self.sgd_lrs or not self.sgd_wds or self.sgd_epochs < 1 or self.sgd_batch_size < 1:
            raise FakeitError("parameters sgd_lrs and sgd_wds must be non-empty, sgd_epochs and sgd_batch_size >= 1")
        check_device(self.device)

    def roots(self) -> dict[str, str]:
        """Dataset name -> root, for the roots given (the five CoG levels when cog_root is given)."""
        out = {n: getattr(self, f"{n}_root") for n in ROOTED if getattr(self, f"{n}_root")}
        out.update({n: self.cog_root for n in COG_LEVELS if self.cog_root})
        return {n: out[n] for n in ALL_SETS if n in out}

    def identity(self, sha256: str) -> dict:
        """What a result folder is named by: the encoder's content, the datasets' content and the probe's settings,
        not where it ran nor where the datasets are mounted (root_identity)."""
        plain = {k: v for k, v in asdict(self).items() if k not in NOT_IDENTITY}
        for k, v in plain.items():
            if k.endswith(("_root", "_file")) and v:
                plain[k] = root_identity(k, v)
        return {**plain, "checkpoint_sha256": sha256, "code": code_version("fakeit_lib.evaluation.transfer")}

    def sgd(self) -> SGDSettings:
        return SGDSettings(self.sgd_lrs, self.sgd_wds, self.sgd_epochs, self.sgd_batch_size)


def root_identity(field_name: str, path: str) -> str:
    """The identity of a transfer dataset's root or file (store.data_identity: files' names and sizes, a file's
    bytes). ImageNet-CoG's root is the ImageNet-21K tree (14 M files): the images a probe reads are those its split
    file names, so that root counts by name alone and the split file by its bytes."""
    if field_name == "cog_root":
        return "imagenet-21k (the images cog_splits_file names)"
    return data_identity(path)


def paper_splits(name: str, root: str, transform, seed: int = 0, check_sizes: bool = True, **cog):
    """(training split, test split) datasets of a paper transfer dataset, with the authors' split (transfer_data)."""
    from ..datasets.torch_datasets import ImageListDataset

    trainval, test = split_samples(name, root, seed, check_sizes, **cog)
    return ImageListDataset(trainval, transform, f"{name}-trainval"), ImageListDataset(test, transform, f"{name}-test")


def mini_splits(name: str, transform, config: TransferConfig | None = None):
    """(training split, test split) of a mini-suite dataset (real images of other classes, offline)."""
    from ..datasets.minidata import as_dataset, check_out_of_domain, transfer_split

    check_out_of_domain(name)
    return tuple(as_dataset(transfer_split(name, split), transform, f"{name}-{split}") for split in ("train", "test"))


def out_of_domain_average(suite: str, top1: dict[str, float]) -> float:
    """The mean top-1 over a suite's transfer datasets; raises if one of them shares the training domain."""
    from ..datasets.minidata import check_out_of_domain

    if not top1:
        raise FakeitError("no transfer dataset to average")
    for name in top1:
        if suite == "mini":
            check_out_of_domain(name)
        elif name not in ALL_SETS:
            raise FakeitError(f"{name!r} is not a transfer dataset of the paper suite; valid: {', '.join(ALL_SETS)}")
    return float(np.mean(list(top1.values())))


# ------------------------------------------------------------------------------------- features + cache


@torch.no_grad()
def extract_features(enc: torch.nn.Module, dataset, batch_size: int = 128, workers: int | None = 0, desc: str = "",
                     device: str = "cpu", ranks=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of a dataset through a frozen encoder (fp16 autocast on CUDA); unreadable images
    (label -1) are dropped. With `ranks` (distributed.Ranks), this process extracts its shard and all are gathered."""
    from torch.utils.data import DataLoader, Subset

    from ..core.devices import amp_dtype, loader_kwargs
    from ..core.distributed import shard

    enc.eval()
    rank, world = (ranks.rank, ranks.world) if ranks is not None and ranks.distributed else (0, 1)
    part = Subset(dataset, list(shard(len(dataset), rank, world))) if world > 1 else dataset
    dtype = amp_dtype(device)
    feats, labels = [], []
    for images, y in tqdm(DataLoader(part, batch_size=batch_size, **loader_kwargs(device, workers)), desc=desc, leave=False, disable=None):
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            feats.append(enc(images).flatten(1).float().cpu())
        labels.append(torch.as_tensor(y))
    x, y = torch.cat(feats), torch.cat(labels)
    if ranks is not None and ranks.distributed:
        x, y = ranks.gather(x, len(dataset)), ranks.gather(y, len(dataset))
    return x[y >= 0], y[y >= 0]


def feature_path(sha256: str, key: dict) -> Path:
    """Where the features of a dataset split (`key`: its dataset, split and content) through an encoder are cached."""
    key = {**key, "code": code_version("fakeit_lib.evaluation.transfer")}  # features made by other code are never reused
    return output_root() / "features" / f"{sha256[:16]}-{key['dataset']}-{key['split']}-{config_hash(key, 10)}.pt"


def cached_features(enc, sha256: str, key: dict, dataset, config: TransferConfig, ranks=None,
                    device: str = "cpu", load: bool = True) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Features of a dataset split, extracted once per (checkpoint sha256, dataset key) and cached on disk; with
    `load` False, only made sure to be cached (None returned). Process 0 alone decides whether the cache holds them."""
    from ..core.devices import precision

    key = {"precision": precision(device), **key}  # features made in another precision are never reused
    path = feature_path(sha256, key)
    if ranks is not None:
        ranks.barrier()  # a file process 0 wrote before this point is there for every process
    cached = ranks.agree(path.exists()) if ranks is not None else path.exists()
    if cached:
        if not load:
            return None
        obj = torch.load(path, map_location="cpu", weights_only=True)
        return obj["x"], obj["y"]
    x, y = extract_features(enc, dataset, config.batch_size, config.workers, f"{key['dataset']}/{key['split']}", device, ranks)
    if ranks is None or ranks.rank == 0:
        buf = io.BytesIO()
        torch.save({"x": x, "y": y}, buf)
        atomic_write_bytes(path, buf.getvalue())
    return (x, y) if load else None


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


def random_sha(spec: str, seed: int) -> str:
    """The identity of a randomly initialised encoder `random:<arch>` seeded by `seed`."""
    return hashlib.sha256(f"{spec}:{seed}".encode()).hexdigest()


def encoder_identity(config: TransferConfig) -> tuple[str, str] | None:
    """(content sha256, readable label) of the encoder a config probes: a checkpoint by its file's sha256,
    `random:<arch>` by its seed, a checkpoint's initialisation (`random_init`) by its architecture and training seed;
    None while the checkpoint does not exist."""
    from ..training.models import sha256_file
    from .evaluate import checkpoint_label

    if config.checkpoint.startswith("random:"):
        return random_sha(config.checkpoint, config.seed), checkpoint_label(config.checkpoint)
    if not Path(config.checkpoint).is_file():
        return None
    if config.random_init:
        key, arch, init_seed = _initialisation(config.checkpoint, config.seed)
        return random_sha(key, init_seed), f"{arch}-init{init_seed}"
    return sha256_file(config.checkpoint), checkpoint_label(config.checkpoint)


def results_folder(config: TransferConfig, identity: tuple[str, str] | None = None) -> Path | None:
    """The folder of `config`'s results under the output root, `transfer-<suite>-<encoder label>-<hash>`, named by
    the encoder's content and label (encoder_identity, computed when not given) and the probe's settings
    (TransferConfig.identity); None while the checkpoint does not exist."""
    known = identity or encoder_identity(config)
    if known is None:
        return None
    return stage_dir(f"transfer-{config.suite}-{known[1]}", config.identity(known[0]))


def _initialisation(checkpoint: str, seed: int) -> tuple[str, str, int]:
    """(identity key, architecture, seed) of a checkpoint's initial network: its recorded training seed, else `seed`."""
    from ..training.models import load_model

    loaded = load_model(checkpoint)
    meta, init_seed = loaded.meta, loaded.provenance.get("seed")
    init_seed = seed if init_seed is None else int(init_seed)
    key = f"init:{meta['arch']}:{meta.get('cifar_stem', False)}:{meta['num_classes']}:{meta.get('fc_bias', True)}"
    return key, meta["arch"], init_seed


def load_encoder(spec: str, seed: int = 0, random_init: bool = False):
    """(LoadedModel, content sha256) of a checkpoint file; of `random:<arch>`, a randomly initialised encoder seeded by
    `seed` (Table 2 row 1, "Random weights"); or, with `random_init`, of the checkpoint's network at its own
    initialisation (the weights `fakeit train` started from: same architecture, preprocessing and seed)."""
    from ..training.models import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, build_model, load_model, sha256_file

    if spec.startswith("random:"):
        arch = spec.split(":", 1)[1]
        torch.manual_seed(seed)
        model = build_model(arch, 1000, fc_bias=False).eval()
        meta = dict(arch=arch, num_classes=1000, cifar_stem=False, fc_bias=False, class_set=None, eval_resize=256,
                    eval_crop=224, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), source=f"random init, seed {seed}")
        return LoadedModel(model, meta, spec, random_sha(spec, seed), {"config_hash": None}), random_sha(spec, seed)
    if not Path(spec).is_file():
        raise FakeitError(f"checkpoint {spec} does not exist")
    if random_init:
        key, arch, init_seed = _initialisation(spec, seed)
        loaded = load_model(spec)
        meta = loaded.meta
        torch.manual_seed(init_seed)  # as `fakeit train` seeds before building its model
        loaded.model = build_model(arch, max(1, meta["num_classes"]), meta.get("cifar_stem", False),
                                   fc_bias=meta.get("fc_bias", True)).eval()
        loaded.meta = {**meta, "source": f"the initialisation of {spec} (seed {init_seed}), before any training step"}
        sha = random_sha(key, init_seed)
        loaded.sha256 = sha
        return loaded, sha
    return load_model(spec), sha256_file(spec)


def _probe_settings(config: TransferConfig) -> dict:
    """The probe's protocol per suite: the authors' for paper (per-class val split, features as they are for
    L-BFGS and L2-normalised for SGD, their regularisation range), this library's for mini."""
    if config.suite == "paper":
        return {"split": "per-class", "weight_decays": config.weight_decays or PAPER_WDS, "norms": {"lbfgs": "none", "sgd": "l2"}}
    return {"split": "stratified", "weight_decays": config.weight_decays or DEFAULT_WDS, "norms": {"lbfgs": "standard", "sgd": "l2"}}


def probe_features(xtr, ytr, xte, yte, config: TransferConfig, device: str = "cpu") -> dict:
    """The linear probe of one dataset's features with the suite's protocol (solver chosen by size, recorded)."""
    from .probe import choose_solver

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
    from .. import __version__
    from ..core.devices import precision, prepare_for_inference, resolve_device
    from ..core.distributed import Ranks
    from ..training.augment import eval_transform
    from ..training.models import encoder
    from .evaluate import load_results, provenance

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
    from ..core.devices import cores_per_process
    from .repmetrics import representation_metrics

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
    from ..core.distributed import env_rank

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
