"""`fakeit evaluate`: top-1/top-5 of a classifier on real test images (paper Table 1).

Suites:
- `imagenet`: ImageNet val, v2, Sketch, R and A from their usual layouts (roots given by the user).
- `mini`: the real Fashion-MNIST test split (10,000 images), the in-domain test of the mini scale.
- `mini-shifts`: its constructed domain shifts (fakeit_lib.datasets.minidata.SHIFTS: sketch, inverted, noise, blur, contrast).
- `folder`: a user's real test images (`test_root`): one folder per class named as the model's class set names its
  classes (`ClassInfo.folder`: the wnid, or a slug of the class file's name), e.g. to test a clone of your own classes.

Label mapping (paper Sec. 5.1 and its footnote): a test image counts only if its class is one the model knows, and
the model's logits are restricted to the classes that the test set and the model share. So an ImageNet-1K model
is scored on IN-R/IN-A over their 200 classes; an ImageNet-100 model on val/v2/Sketch over its 100 classes and on
IN-R/IN-A over the classes they share with ImageNet-100. Unreadable image files are skipped and listed.
Results: one JSON per (model, suite) with per-dataset top-1/top-5, image counts and the model's provenance.

Runs on the GPU when there is one (fp16 autocast, channels-last, pinned-memory loader workers); under torchrun the
test images are sharded over the processes (process r scores images r, r + W, ...) and the predictions gathered,
so the results equal a single process's. A result's identity is the checkpoint's content (sha256), the suite, the
test sets' content (their files' names and sizes), the class set and max_images: not the checkpoint's path nor the
test sets', the device, the batch size or the workers.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import __version__
from ..core.devices import amp_dtype, check_device, loader_kwargs, precision, precision_of, prepare_for_inference, resolve_device
from ..core.distributed import Ranks, env_rank, shard
from ..core.errors import FakeitError
from ..core.params import from_dict
from ..core.store import (
    atomic_write_json, claim_explained, claim_folder, code_version, data_identity, is_done, mark_done, stage_dir,
)
from ..datasets.classes import load_class_set
from ..datasets.fashion_mnist import fashion_mnist
from ..paper.results import TEST_SETS
from ..training.models import load_model, model_class_set, sha256_file

IMAGENET_SETS = tuple(TEST_SETS)  # val, v2, sketch, r, a (fakeit_lib.paper.results names them once)
SUITES = ("imagenet", "mini", "mini-shifts", "folder")
RESULTS = "results.json"
MAX_LISTED_SKIPS = 20


@dataclass
class EvalConfig:
    """What to evaluate and where the test sets are."""

    checkpoint: str = ""  # our checkpoint.pt or the authors' resnet50 .pth
    suite: str = "imagenet"  # imagenet (val, v2, sketch, r, a) or mini (real Fashion-MNIST test split)
    val_root: str | None = None  # ImageNet val in wnid folders
    v2_root: str | None = None  # ImageNet-v2 in class-index folders 0..999
    sketch_root: str | None = None  # ImageNet-Sketch (wnid folders, or its parent holding `sketch/`)
    r_root: str | None = None  # ImageNet-R (200 wnid folders)
    a_root: str | None = None  # ImageNet-A (200 wnid folders)
    class_set: str | None = None  # the model's class set; None: recorded in the checkpoint (or 1000/100 outputs)
    batch_size: int = 128  # images per forward pass (per process)
    workers: int | None = None  # DataLoader worker processes; None: 0 on the CPU, up to 8 per GPU
    max_images: int | None = None  # evaluate only the first N images of each test set (smoke tests)
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu
    amp: bool = True  # autocast for the forward passes: fp16 on CUDA, bf16 on a CPU with fast bf16 (else float32)
    test_root: str | None = None  # suite folder: real test images, one folder per class named by ClassInfo.folder

    def validate(self) -> None:
        if not self.checkpoint:
            raise FakeitError("parameter checkpoint is empty; give a checkpoint file")
        if self.suite not in SUITES:
            raise FakeitError(f"parameter suite={self.suite!r} is not valid; valid: {', '.join(SUITES)}")
        if self.suite == "imagenet" and not self.roots():
            raise FakeitError("suite imagenet needs at least one test-set root: val_root, v2_root, sketch_root, r_root, a_root")
        if self.suite == "folder" and not self.test_root:
            raise FakeitError("suite folder needs test_root: a folder of real test images, one folder per class")
        if self.suite != "folder" and self.test_root:
            raise FakeitError(f"test_root {self.test_root} is read by suite folder only, not by suite {self.suite!r}")
        if self.batch_size < 1 or (self.workers is not None and self.workers < 0):
            raise FakeitError(f"batch_size must be >= 1 and workers >= 0 or None, got {self.batch_size} and {self.workers}")
        check_device(self.device)

    def roots(self) -> dict[str, str]:
        """Test-set name -> root, for the roots given."""
        return {n: getattr(self, f"{n}_root") for n in IMAGENET_SETS if getattr(self, f"{n}_root")}


    def identity(self, sha256: str, class_set: str | None) -> dict:
        """What a result folder is named by: the checkpoint's content and what is scored (each test set by its files'
        names and sizes, store.data_identity) and the precision of the forward passes on the device the config names
        (devices.precision_of: bf16 on one CPU and float32 on another score differently), not where it ran nor where
        the test sets are mounted."""
        roots = {f"{n}_root": data_identity(r) for n, r in self.roots().items()}
        if self.test_root:
            roots["test_root"] = data_identity(self.test_root)
        return {"suite": self.suite, **roots, "class_set": class_set, "max_images": self.max_images,
                "precision": precision_of("auto", self.device, self.amp, self.suite == "imagenet"),
                "checkpoint_sha256": sha256, "code": code_version("fakeit_lib.evaluation.evaluate")}


def checkpoint_label(path: str | Path) -> str:
    """A readable name for a checkpoint in folder names: its run folder's name, or the file's stem."""
    p = Path(path)
    return p.parent.name if p.name == "checkpoint.pt" else p.stem


def results_folder(config: EvalConfig, sha256: str | None = None, class_set: str | None = None) -> Path | None:
    """The folder of `config`'s results under the output root, `eval-<suite>-<checkpoint label>-<hash>`, named by
    what is scored (EvalConfig.identity: the checkpoint's sha256, computed when not given, and the model's class set,
    default `config.class_set`); None while the checkpoint does not exist."""
    if sha256 is None:
        if not Path(config.checkpoint).is_file():
            return None
        sha256 = sha256_file(config.checkpoint)
    return stage_dir(f"eval-{config.suite}-{checkpoint_label(config.checkpoint)}",
                     config.identity(sha256, class_set or config.class_set))


@torch.no_grad()
def predict_topk(model: torch.nn.Module, loader, class_idx: list[int], k: int = 5, desc: str = "",
                 device: str = "cpu", amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(top-k predictions as positions in `class_idx`, targets) over a loader; logits restricted to `class_idx`."""
    index = torch.tensor(class_idx, device=device)
    dtype = amp_dtype(device, amp)
    preds, targets = [], []
    for images, labels in tqdm(loader, desc=desc, leave=False, disable=None):
        images = images.to(device, non_blocking=True)
        images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            logits = model(images).float()[:, index]
        preds.append(logits.topk(min(k, len(class_idx)), dim=1).indices.cpu())
        targets.append(torch.as_tensor(labels))
    if not preds:
        return torch.zeros(0, k, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.cat(preds), torch.cat(targets)


def score_dataset(loaded, dataset, labels_wnids: list[str], config: EvalConfig, name: str, ranks=None,
                  device: str = "cpu") -> dict:
    """Top-1/top-5 of a loaded model on a dataset whose labels index `labels_wnids`, with counts; with `ranks`
    (distributed.Ranks), this process scores its shard and the predictions of all are gathered."""
    from torch.utils.data import DataLoader, Subset

    from ..datasets.images import SKIPPED

    model_cs = model_class_set(loaded)
    model_index = {(c.wnid or c.folder): c.index for c in model_cs}  # classes outside WordNet: by folder name
    shared = [w for w in labels_wnids if w in model_index]
    if not shared:
        raise FakeitError(f"the model's class set {model_cs.name} shares no class with test set {name}")
    position = {w: i for i, w in enumerate(shared)}
    # test-set label -> position among shared classes, or -2 for images of classes the model does not know
    remap = torch.tensor([position.get(w, -2) for w in labels_wnids] + [SKIPPED])
    targets_all = torch.tensor(getattr(dataset, "targets"))
    keep = [i for i, t in enumerate(targets_all.tolist()) if t == SKIPPED or remap[t] >= 0]
    excluded = len(targets_all) - len(keep)
    if config.max_images is not None:
        keep = keep[: config.max_images]
    rank, world = (ranks.rank, ranks.world) if ranks is not None and ranks.distributed else (0, 1)
    mine = [keep[i] for i in shard(len(keep), rank, world)]
    loader = DataLoader(Subset(dataset, mine), batch_size=config.batch_size, **loader_kwargs(device, config.workers))
    topk, targets = predict_topk(loaded.model, loader, [model_index[w] for w in shared], desc=name, device=device,
                                 amp=config.amp)
    if ranks is not None and ranks.distributed:
        topk, targets = ranks.gather(topk, len(keep)), ranks.gather(targets, len(keep))
    targets = remap[targets.clamp(min=-1)]  # SKIPPED (-1) maps to the appended -1
    ok = targets >= 0
    skipped_files = [dataset.samples[keep[i]][0] for i in torch.nonzero(~ok).flatten().tolist()] if hasattr(dataset, "samples") else []
    n = int(ok.sum())
    if n == 0:
        raise FakeitError(f"test set {name}: no readable image of a class the model knows ({len(keep)} files tried)")
    hits = topk[ok] == targets[ok, None]
    return {
        "top1": round(hits[:, :1].any(1).float().mean().item(), 6),
        "top5": round(hits[:, :5].any(1).float().mean().item(), 6),
        "images": n,
        "classes": len(shared),
        "excluded_images": excluded,
        "skipped": int((~ok).sum()),
        "skipped_files": skipped_files[:MAX_LISTED_SKIPS],
    }


def fashion_mnist_test(transform):
    """The real Fashion-MNIST test split as a dataset (labels index the fashion-mnist class set) and its wnids."""
    from ..datasets.torch_datasets import ArrayImages

    ds = fashion_mnist("test")
    wnids = [c.wnid for c in load_class_set("fashion-mnist")]
    return ArrayImages(ds.data.numpy(), ds.targets.tolist(), transform, name="fashion-mnist-test"), wnids


def folder_test_set(root: str | Path, class_set, transform):
    """A user's real test set (one folder per class, named by the class set's `folder`) and its class keys."""
    from ..datasets.images import folder_samples
    from ..datasets.torch_datasets import ImageListDataset

    root = Path(root).expanduser()
    if not root.is_dir():
        raise FakeitError(f"test_root {root} is not a folder; expected one folder of real images per class of {class_set.name}")
    keys = [c.wnid or c.folder for c in class_set]
    samples, _ = folder_samples(root, {c.folder: i for i, c in enumerate(class_set)})
    return ImageListDataset(samples, transform, name=root.name), keys


def provenance(loaded) -> dict:
    """Where a model comes from: checkpoint path and sha256, architecture, class set, run config hash."""
    meta = loaded.meta
    return {
        "checkpoint": loaded.path,
        "sha256": loaded.sha256,
        "arch": meta["arch"],
        "num_classes": meta["num_classes"],
        "class_set": meta.get("class_set"),
        "source": meta.get("source", "fakeit train"),
        **{k: v for k, v in loaded.provenance.items() if v is not None},
    }


def eval_sets(config: EvalConfig, loaded) -> dict:
    """name -> (dataset, its class keys, where it comes from) of the suite's test sets, through the model's eval
    transform."""
    from ..datasets.images import imagenet_eval_set
    from ..datasets.torch_datasets import ImageListDataset
    from ..training.augment import eval_transform

    meta = loaded.meta
    transform = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
    sets = {}
    if config.suite == "imagenet":
        for name, root in config.roots().items():
            es = imagenet_eval_set(name, root)
            sets[name] = (ImageListDataset(es.samples, transform, name=name), es.wnids, str(root))
    elif config.suite == "mini":
        ds, wnids = fashion_mnist_test(transform)
        sets["fashion-mnist-test"] = (ds, wnids, "fashion-mnist test split")
    elif config.suite == "folder":
        ds, keys = folder_test_set(config.test_root, model_class_set(loaded), transform)
        sets[Path(config.test_root).name or "test"] = (ds, keys, str(config.test_root))
    else:
        from ..datasets.classes import load_class_set
        from ..datasets.minidata import as_dataset
        from .shifts import SHIFTS, shifted_test

        wnids = [c.wnid for c in load_class_set("fashion-mnist")]
        for name, shift in SHIFTS.items():
            sets[name] = (as_dataset(shifted_test(name), transform, name), wnids, f"fashion-mnist test, {shift.rule}")
    return sets


def evaluate(config: EvalConfig, out: Path | str | None = None) -> dict:
    """Results of a checkpoint on a suite (computed, or loaded when its folder is done); written to results.json."""
    t0 = time.perf_counter()
    config.validate()
    if not Path(config.checkpoint).is_file():
        raise FakeitError(f"checkpoint {config.checkpoint} does not exist")
    sha = sha256_file(config.checkpoint)
    # check the model (and its class set, which names the result) before any image is read
    loaded = load_model(config.checkpoint, config.class_set)
    model_class_set(loaded)
    keyed = config.identity(sha, loaded.meta.get("class_set"))
    folder = Path(out) if out else results_folder(config, sha, loaded.meta.get("class_set"))
    # ImageNet's test sets through a ResNet-50: hours on a CPU, so "auto" does not fall back to it silently
    device = resolve_device(config.device, "evaluating on the ImageNet test sets" if config.suite == "imagenet" else None)
    ranks = Ranks(device, stage="evaluate")
    if ranks.agree(is_done(folder)):  # process 0 looks, every process follows (Ranks.agree)
        ranks.close()
        claim_folder(folder, keyed)  # refuses a folder holding another model's or settings' results
        return load_results(folder / RESULTS, sha256=sha)
    try:
        sets = eval_sets(config, loaded)
    except BaseException:
        ranks.close()  # a process group left open makes torchrun report an abort
        raise
    results = {"suite": config.suite, "model": provenance(loaded), "datasets": {}, "fakeit_version": __version__,
               "torch_version": torch.__version__, "precision": precision(device, config.amp)}
    with ranks:
        if ranks.rank == 0:
            claim_explained(folder, keyed, explain=out is None)
        loaded.model = prepare_for_inference(loaded.model, device)
        for name, (ds, wnids, root) in sets.items():
            results["datasets"][name] = {**score_dataset(loaded, ds, wnids, config, name, ranks, device), "root": root}
        results["processes"] = ranks.world
        if ranks.rank == 0:
            atomic_write_json(folder / RESULTS, results)
            mark_done(folder, {"datasets": list(results["datasets"]), "seconds": round(time.perf_counter() - t0, 1)})
        ranks.barrier()
    return results


def load_results(path: Path | str, sha256: str | None = None) -> dict:
    """A results JSON; with `sha256`, checked to belong to that checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FakeitError(f"results file {path} does not exist")
    results = json.loads(path.read_text())
    found = results.get("model", {}).get("sha256")
    if sha256 is not None and found != sha256:
        raise FakeitError(
            f"results file {path} belongs to another model (checkpoint sha256 {str(found)[:12]}..., "
            f"expected {sha256[:12]}...); evaluate this checkpoint into another folder"
        )
    return results


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file: ours (checkpoint.pt) or the authors' resnet50 .pth")
    parser.add_argument("--suite", default="imagenet", choices=list(SUITES))
    for name in IMAGENET_SETS:
        parser.add_argument(f"--{name}", dest=f"{name}_root", metavar="DIR", help=f"root of ImageNet-{name}")
    parser.add_argument("--test-root", metavar="DIR", help="suite folder: real test images, one folder per class (named as the class set's folders)")
    parser.add_argument("--class-set", help="the model's class set (default: recorded, or by its number of outputs)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per forward pass and process (default 128)")
    parser.add_argument("--workers", type=int, help="loader processes (default: 0 on the CPU, up to 8 per GPU)")
    parser.add_argument("--device", default="auto", help="auto (default: cuda:LOCAL_RANK when CUDA is available), cpu, cuda, cuda:N")
    parser.add_argument("--max-images", type=int, help="evaluate only the first N images per test set")
    parser.add_argument("--out", help="results folder (default: <output root>/eval-<suite>-<run>-<hash>)")


def run(args: argparse.Namespace) -> int:
    """`fakeit evaluate`: score a checkpoint (torchrun: sharded over processes) and print its results."""
    keys = ("checkpoint", "suite", "class_set", "batch_size", "workers", "max_images", "device", "test_root")
    values = {k: getattr(args, k) for k in keys}
    values.update({f"{n}_root": getattr(args, f"{n}_root") for n in IMAGENET_SETS})
    config = from_dict(EvalConfig, values)
    results = evaluate(config, args.out)
    if env_rank()[0] == 0:
        print(json.dumps(results["datasets"], indent=1))
    return 0
