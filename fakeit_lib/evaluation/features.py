"""The frozen encoder a transfer probe reads (a checkpoint, a random network, or a checkpoint's own initialisation) with
its identity, and its penultimate features of a dataset split: extracted once (sharded under torchrun) and cached."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..core.devices import amp_dtype, loader_kwargs, precision
from ..core.distributed import shard
from ..core.errors import FakeitError
from ..core.store import atomic_write_bytes, code_version, config_hash, output_root
from ..training.models import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, build_model, load_model, sha256_file
from .evaluate import checkpoint_label
from .transfer_config import TransferConfig


@torch.no_grad()
def extract_features(enc: torch.nn.Module, dataset, batch_size: int = 128, workers: int | None = 0, desc: str = "",
                     device: str = "cpu", ranks=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of a dataset through a frozen encoder (fp16 autocast on CUDA); unreadable images
    (label -1) are dropped. With `ranks` (distributed.Ranks), this process extracts its shard and all are gathered."""
    from torch.utils.data import DataLoader, Subset

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


def random_sha(spec: str, seed: int) -> str:
    """The identity of a randomly initialised encoder `random:<arch>` seeded by `seed`."""
    return hashlib.sha256(f"{spec}:{seed}".encode()).hexdigest()


def encoder_identity(config: TransferConfig) -> tuple[str, str] | None:
    """(content sha256, readable label) of the encoder a config probes: a checkpoint by its file's sha256,
    `random:<arch>` by its seed, a checkpoint's initialisation (`random_init`) by its architecture and training seed;
    None while the checkpoint does not exist."""
    if config.checkpoint.startswith("random:"):
        return random_sha(config.checkpoint, config.seed), checkpoint_label(config.checkpoint)
    if not Path(config.checkpoint).is_file():
        return None
    if config.random_init:
        key, arch, init_seed = _initialisation(config.checkpoint, config.seed)
        return random_sha(key, init_seed), f"{arch}-init{init_seed}"
    return sha256_file(config.checkpoint), checkpoint_label(config.checkpoint)


def _initialisation(checkpoint: str, seed: int) -> tuple[str, str, int]:
    """(identity key, architecture, seed) of a checkpoint's initial network: its recorded training seed, else `seed`."""
    loaded = load_model(checkpoint)
    meta, init_seed = loaded.meta, loaded.provenance.get("seed")
    init_seed = seed if init_seed is None else int(init_seed)
    key = f"init:{meta['arch']}:{meta.get('cifar_stem', False)}:{meta['num_classes']}:{meta.get('fc_bias', True)}"
    return key, meta["arch"], init_seed


def load_encoder(spec: str, seed: int = 0, random_init: bool = False):
    """(LoadedModel, content sha256) of a checkpoint file; of `random:<arch>`, a randomly initialised encoder seeded by
    `seed` (Table 2 row 1, "Random weights"); or, with `random_init`, of the checkpoint's network at its own
    initialisation (the weights `fakeit train` started from: same architecture, preprocessing and seed)."""
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
