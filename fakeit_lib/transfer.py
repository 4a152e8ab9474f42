"""`fakeit transfer`: linear probes of a frozen encoder on transfer datasets (paper Table 2, Fig. 4).

Protocol (paper Sec. 5.3, after the authors' t-ReX transfer code): penultimate features are extracted once per
(checkpoint, dataset split) and cached; an L2-regularised multinomial logistic regression is fitted on them with
full-batch, preconditioned L-BFGS in torch along the weight-decay grid (strongest first, each fit warm-started
from the previous one); the weight decay is chosen on a validation split carved (stratified, seeded) from the
training split, then the probe is refitted on train+val and scored (top-1) on the test split.

Suites:
- `paper`: Aircraft, Cars, DTD, EuroSAT, Flowers, Pets, Food101, SUN397 (torchvision.datasets, user roots) and
  iNaturalist 2018/2019 (official layout: `train<year>.json`, `val<year>.json`, images under the root; the
  official val split is the test split). EuroSAT and SUN397 ship no official split in torchvision: a fixed
  seeded, stratified 80/20 train/test split is used.
- `mini` (offline, real images of other classes and domains than the mini clone's Fashion-MNIST): scikit-learn's
  digits, MNIST digits, notMNIST-style font letters and Open Clip Art objects, with the fixed splits of
  `fakeit_lib.minidata` (TRANSFER_SETS). Fashion-MNIST is the in-domain test set and never a transfer dataset:
  `out_of_domain_average` refuses it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import FakeitError
from .minidata import TRANSFER_SETS as _MINI
from .params import from_dict
from .store import atomic_write_bytes, atomic_write_json, claim_folder, config_hash, is_done, mark_done, output_root, stage_dir

PAPER_SETS = ("aircraft", "cars", "dtd", "eurosat", "flowers", "pets", "food101", "sun397", "inat2018", "inat2019")
MINI_SETS = tuple(_MINI)
DEFAULT_WDS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
RESULTS = "results.json"


@dataclass
class TransferConfig:
    """Which encoder, which datasets, and the probe's settings."""

    checkpoint: str = ""  # our checkpoint.pt or the authors' resnet50 .pth (an encoder without fc is fine)
    suite: str = "paper"  # paper (10 datasets, user roots) or mini (digits, Fashion-MNIST; offline)
    aircraft_root: str | None = None  # FGVCAircraft root (torchvision layout)
    cars_root: str | None = None  # StanfordCars root (torchvision layout)
    dtd_root: str | None = None  # DTD root
    eurosat_root: str | None = None  # EuroSAT (RGB) root
    flowers_root: str | None = None  # Flowers102 root
    pets_root: str | None = None  # OxfordIIITPet root
    food101_root: str | None = None  # Food101 root
    sun397_root: str | None = None  # SUN397 root
    inat2018_root: str | None = None  # iNaturalist 2018 root: train2018.json, val2018.json, train_val2018/
    inat2019_root: str | None = None  # iNaturalist 2019 root: train2019.json, val2019.json, train_val2019/
    mini_sets: list[str] = field(default_factory=lambda: list(MINI_SETS))  # mini: out-of-domain datasets probed
    weight_decays: list[float] = field(default_factory=lambda: list(DEFAULT_WDS))  # L2 grid searched on the val split
    val_fraction: float = 0.2  # share of the training split held out to choose the weight decay
    max_iter: int = 300  # L-BFGS iterations per fit
    batch_size: int = 128  # feature extraction batch
    amp: bool = True  # bf16 autocast and channels_last for feature extraction on the CPU
    workers: int = 4  # DataLoader worker processes
    seed: int = 0  # seeds the validation split

    def validate(self) -> None:
        if not self.checkpoint:
            raise FakeitError("parameter checkpoint is empty; give a checkpoint file")
        if self.suite not in ("paper", "mini"):
            raise FakeitError(f"parameter suite={self.suite!r} is not valid; valid: 'paper', 'mini'")
        if self.suite == "paper" and not self.roots():
            raise FakeitError(f"suite paper needs at least one dataset root: {', '.join(n + '_root' for n in PAPER_SETS)}")
        unknown = sorted(set(self.mini_sets) - set(MINI_SETS))
        if unknown or not self.mini_sets:
            raise FakeitError(f"parameter mini_sets={self.mini_sets} must list datasets of {', '.join(MINI_SETS)}")
        if not 0 < self.val_fraction < 1:
            raise FakeitError(f"parameter val_fraction={self.val_fraction} must be in (0, 1)")
        if not self.weight_decays or min(self.weight_decays) < 0:
            raise FakeitError(f"parameter weight_decays={self.weight_decays} must be a non-empty list of values >= 0")

    def roots(self) -> dict[str, str]:
        """Dataset name -> root, for the roots given."""
        return {n: getattr(self, f"{n}_root") for n in PAPER_SETS if getattr(self, f"{n}_root")}


# ---------------------------------------------------------------------------------------------- the probe


class _Problem:
    """Mean cross-entropy + wd/2 ||W||^2 of a multinomial logistic regression on features x (n, d), labels y.

    L-BFGS runs on V with W = P V, P = (S/2 + wd I)^(-1/2), S = x^T x / n: the same objective and optimum,
    reparametrised so that Boehning's bound on the Hessian, (I_K - 11^T/K)/2 (x) S + wd I, becomes about the
    identity. On correlated features this cuts the iterations several-fold. Gradients are written out by hand
    (softmax minus one-hot), without autograd, and everything is kept class-major ((K, d) weights, (K, n)
    logits): with few classes, BLAS multiplies these shapes several times faster than their transposes."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int):
        self.x, self.xt = x.contiguous(), x.T.contiguous()
        self.onehot_t = F.one_hot(y, num_classes).to(x.dtype).T.contiguous()  # (K, n)
        self.n, self.k = x.shape[0], num_classes
        self.eig = torch.linalg.eigh(self.xt @ self.x / self.n)  # depends on the data only, shared by every wd

    def fit(self, wd: float, max_iter: int, init: tuple[torch.Tensor, torch.Tensor] | None = None,
            tolerance: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(W (d, K), b (K), number of objective evaluations) minimising the objective for weight decay wd."""
        s, u = self.eig
        scale = s.clamp(min=0) / 2 + max(wd, 1e-6 * float(s.max()))
        p = (u * scale.rsqrt()) @ u.T  # symmetric
        d = self.x.shape[1]
        vt = (init[0].T @ ((u * scale.sqrt()) @ u.T)).contiguous() if init else torch.zeros(self.k, d, dtype=self.x.dtype)
        b = (init[1].clone() if init else torch.zeros(self.k, dtype=self.x.dtype))[:, None].contiguous()
        vt.requires_grad_(True)
        b.requires_grad_(True)
        opt = torch.optim.LBFGS([vt, b], lr=1.0, max_iter=max_iter, history_size=10, tolerance_grad=tolerance,
                                tolerance_change=1e-9, line_search_fn="strong_wolfe")
        evals = [0]

        def closure():
            evals[0] += 1
            with torch.no_grad():
                wt = vt @ p
                z = torch.addmm(b, wt, self.xt)  # (K, n) logits
                lse = z.logsumexp(0, keepdim=True)
                loss = (lse.sum() - (z * self.onehot_t).sum()) / self.n + 0.5 * wd * (wt * wt).sum()
                g = z.sub_(lse).exp_().sub_(self.onehot_t).div_(self.n)  # d loss / d logits
                vt.grad = torch.addmm(wt, g, self.x, beta=wd) @ p
                b.grad = g.sum(1, keepdim=True)
            return loss

        opt.step(closure)
        return (vt @ p).T.detach(), b.detach()[:, 0], evals[0]


def _accuracy(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> float:
    return float((torch.addmm(b, x, w).argmax(1) == y).double().mean())


def carve_validation(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of a stratified, seeded split (plain random split if a class has a single image)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    _, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 else None
    return train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)


def linear_probe(train_x, train_y, test_x, test_y, weight_decays: list[float] = DEFAULT_WDS,
                 val_fraction: float = 0.2, seed: int = 0, max_iter: int = 300) -> dict:
    """Top-1 of an L2 logistic-regression probe: weight decay chosen on a val split of train, refit on train+val."""
    xtr, xte = torch.as_tensor(train_x, dtype=torch.float32), torch.as_tensor(test_x, dtype=torch.float32)
    ytr, yte = torch.as_tensor(train_y, dtype=torch.long), torch.as_tensor(test_y, dtype=torch.long)
    classes = torch.unique(ytr)
    if len(classes) < 2:
        raise FakeitError(f"linear probe needs at least two classes in the training split, got {len(classes)}")
    remap = torch.full((int(max(ytr.max(), yte.max())) + 1,), -1, dtype=torch.long)
    remap[classes] = torch.arange(len(classes))
    ytr, yte = remap[ytr], remap[yte]
    if (yte < 0).any():
        raise FakeitError("the test split has classes absent from the training split")
    mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    t0 = time.time()
    fit_idx, val_idx = carve_validation(ytr.numpy(), val_fraction, seed)
    fit_idx, val_idx = torch.as_tensor(fit_idx), torch.as_tensor(val_idx)
    # the regularisation path, strongest first, each fit warm-started from the previous solution
    problem, init, solutions, val_top1, evals = _Problem(xtr[fit_idx], ytr[fit_idx], len(classes)), None, {}, {}, 0
    for wd in sorted(set(weight_decays), reverse=True):
        w, b, n = problem.fit(wd, max_iter, init)
        init, solutions[wd], evals = (w, b), (w, b), evals + n
        val_top1[wd] = _accuracy(xtr[val_idx], ytr[val_idx], w, b)
    best = max(val_top1, key=lambda k: (val_top1[k], k))  # ties: the stronger regularisation
    w, b, n = _Problem(xtr, ytr, len(classes)).fit(best, max_iter, solutions[best])  # refit on train+val
    return {
        "top1": round(_accuracy(xte, yte, w, b), 6),
        "weight_decay": best,
        "val_top1": {str(k): round(v, 6) for k, v in sorted(val_top1.items())},
        "train_images": len(ytr),
        "test_images": len(yte),
        "classes": len(classes),
        "evaluations": evals + n,
        "seconds": round(time.time() - t0, 2),
    }


# ------------------------------------------------------------------------------------------- datasets


class _INaturalistOfficial(torch.utils.data.Dataset):
    """iNaturalist 2018/2019 from the official COCO-style JSON (`train<year>.json` / `val<year>.json`)."""

    def __init__(self, root: Path, year: str, split: str, transform):
        from .datasets import ImageListDataset

        path = root / f"{split}{year}.json"
        if not path.is_file():
            raise FakeitError(f"iNaturalist {year} root {root} lacks {path.name} (the official annotation file)")
        data = json.loads(path.read_text())
        label = {a["image_id"]: a["category_id"] for a in data["annotations"]}
        samples = [(str(root / im["file_name"]), int(label[im["id"]])) for im in data["images"] if im["id"] in label]
        self.inner = ImageListDataset(samples, transform, name=f"inat{year}-{split}")

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        return self.inner[i]


def _split_fixed(ds, fraction: float, seed: int = 0):
    """A fixed stratified (train, test) split of a dataset without official splits."""
    from torch.utils.data import Subset

    targets = np.asarray(getattr(ds, "targets", None) if hasattr(ds, "targets") else [ds[i][1] for i in range(len(ds))])
    train_idx, test_idx = carve_validation(targets, fraction, seed)
    return Subset(ds, sorted(train_idx.tolist())), Subset(ds, sorted(test_idx.tolist()))


def paper_splits(name: str, root: str, transform):
    """(training split, test split) of a paper transfer dataset from its root, via torchvision.datasets."""
    from torch.utils.data import ConcatDataset
    from torchvision import datasets as D

    root_p = Path(root).expanduser()
    if not root_p.is_dir():
        raise FakeitError(f"{name} root {root_p} does not exist or is not a folder")
    r = str(root_p)
    try:
        if name == "aircraft":
            return D.FGVCAircraft(r, split="trainval", transform=transform), D.FGVCAircraft(r, split="test", transform=transform)
        if name == "cars":
            return D.StanfordCars(r, split="train", transform=transform), D.StanfordCars(r, split="test", transform=transform)
        if name == "dtd":
            return (ConcatDataset([D.DTD(r, split="train", transform=transform), D.DTD(r, split="val", transform=transform)]),
                    D.DTD(r, split="test", transform=transform))
        if name == "eurosat":
            return _split_fixed(D.EuroSAT(r, transform=transform), 0.2)
        if name == "flowers":
            return (ConcatDataset([D.Flowers102(r, split="train", transform=transform), D.Flowers102(r, split="val", transform=transform)]),
                    D.Flowers102(r, split="test", transform=transform))
        if name == "pets":
            return D.OxfordIIITPet(r, split="trainval", transform=transform), D.OxfordIIITPet(r, split="test", transform=transform)
        if name == "food101":
            return D.Food101(r, split="train", transform=transform), D.Food101(r, split="test", transform=transform)
        if name == "sun397":
            return _split_fixed(D.SUN397(r, transform=transform), 0.2)
        if name in ("inat2018", "inat2019"):
            year = name[-4:]
            return _INaturalistOfficial(root_p, year, "train", transform), _INaturalistOfficial(root_p, year, "val", transform)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise FakeitError(f"{name} root {root_p} does not hold the dataset in torchvision's layout: {e}") from None
    raise FakeitError(f"unknown transfer dataset {name!r}; valid: {', '.join(PAPER_SETS)}")


def mini_splits(name: str, transform, config: TransferConfig | None = None):
    """(training split, test split) of a mini-suite dataset (real images of other classes, offline)."""
    from .minidata import as_dataset, check_out_of_domain, transfer_split

    check_out_of_domain(name)
    return tuple(as_dataset(transfer_split(name, split), transform, f"{name}-{split}") for split in ("train", "test"))


def out_of_domain_average(suite: str, top1: dict[str, float]) -> float:
    """The mean top-1 over a suite's transfer datasets; raises if one of them shares the training domain."""
    from .minidata import check_out_of_domain

    if not top1:
        raise FakeitError("no transfer dataset to average")
    for name in top1:
        if suite == "mini":
            check_out_of_domain(name)
        elif name not in PAPER_SETS:
            raise FakeitError(f"{name!r} is not a transfer dataset of the paper suite; valid: {', '.join(PAPER_SETS)}")
    return float(np.mean(list(top1.values())))


# ------------------------------------------------------------------------------------- features + cache


@torch.no_grad()
def extract_features(enc: torch.nn.Module, dataset, batch_size: int = 128, workers: int = 0, desc: str = "",
                     amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of a dataset through a frozen encoder; unreadable images (label -1) are dropped."""
    from torch.utils.data import DataLoader

    from .evaluate import cpu_inference

    enc.eval()
    feats, labels = [], []
    for images, y in tqdm(DataLoader(dataset, batch_size=batch_size, num_workers=workers), desc=desc, leave=False, disable=None):
        with cpu_inference(enc, amp):
            feats.append(enc(images.contiguous(memory_format=torch.channels_last) if amp else images).flatten(1).float())
        labels.append(torch.as_tensor(y))
    x, y = torch.cat(feats), torch.cat(labels)
    return x[y >= 0], y[y >= 0]


def cached_features(enc, sha256: str, key: dict, dataset, config: TransferConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of a dataset split, extracted once per (checkpoint sha256, dataset key) and cached on disk."""
    import io

    path = output_root() / "features" / f"{sha256[:16]}-{key['dataset']}-{key['split']}-{config_hash(key, 10)}.pt"
    if path.exists():
        obj = torch.load(path, map_location="cpu", weights_only=True)
        return obj["x"], obj["y"]
    x, y = extract_features(enc, dataset, config.batch_size, config.workers, desc=f"{key['dataset']}/{key['split']}",
                            amp=config.amp)
    buf = io.BytesIO()
    torch.save({"x": x, "y": y}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return x, y


# --------------------------------------------------------------------------------------------- driver


def transfer(config: TransferConfig, out: Path | str | None = None) -> dict:
    """Linear-probe results of a checkpoint's encoder on a suite (computed, or loaded when done)."""
    from . import __version__
    from .augment import eval_transform
    from .evaluate import load_results, provenance
    from .models import encoder, load_model, sha256_file
    from .repmetrics import representation_metrics

    config.validate()
    if not Path(config.checkpoint).is_file():
        raise FakeitError(f"checkpoint {config.checkpoint} does not exist")
    sha = sha256_file(config.checkpoint)
    keyed = {**asdict(config), "checkpoint_sha256": sha}
    folder = Path(out) if out else stage_dir(f"transfer-{config.suite}-{Path(config.checkpoint).parent.name}", keyed)
    if is_done(folder):
        claim_folder(folder, keyed)  # refuses a folder holding another model's or settings' results
        return load_results(folder / RESULTS, sha256=sha)
    loaded = load_model(config.checkpoint)
    meta = loaded.meta
    transform = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
    if config.suite == "paper":
        splits = {name: paper_splits(name, root, transform) for name, root in config.roots().items()}
        roots = config.roots()
    else:
        from .minidata import TRANSFER_SETS

        splits = {name: mini_splits(name, transform, config) for name in config.mini_sets}
        roots = {name: TRANSFER_SETS[name].source for name in config.mini_sets}
    claim_folder(folder, keyed)
    enc = encoder(loaded.model)
    results = {"suite": config.suite, "model": provenance(loaded), "datasets": {}, "fakeit_version": __version__}
    for name, (train_ds, test_ds) in splits.items():
        key = {"dataset": name, "root": roots[name], "resize": meta["eval_resize"], "crop": meta["eval_crop"], "amp": config.amp}
        xtr, ytr = cached_features(enc, sha, {**key, "split": "train"}, train_ds, config)
        xte, yte = cached_features(enc, sha, {**key, "split": "test"}, test_ds, config)
        probe = linear_probe(xtr, ytr, xte, yte, config.weight_decays, config.val_fraction, config.seed, config.max_iter)
        results["datasets"][name] = {**probe, "root": roots[name], "feature_dim": int(xtr.shape[1]),
                                     "repmetrics_test": representation_metrics(xte, yte)}
    atomic_write_json(folder / RESULTS, results)
    mark_done(folder, {"datasets": list(results["datasets"])})
    return results


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file: ours (checkpoint.pt) or the authors' resnet50 .pth")
    parser.add_argument("--suite", default="paper", choices=["paper", "mini"])
    for name in PAPER_SETS:
        parser.add_argument(f"--{name}", dest=f"{name}_root", metavar="DIR", help=f"root of {name}")
    parser.add_argument("--mini-sets", nargs="+", metavar="NAME", help=f"mini: datasets to probe (default: {' '.join(MINI_SETS)})")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", help="results folder (default: <output root>/transfer-<suite>-<run>-<hash>)")


def run(args: argparse.Namespace) -> int:
    values = {k: getattr(args, k) for k in ("checkpoint", "suite", "batch_size", "workers")}
    values.update({f"{n}_root": getattr(args, f"{n}_root") for n in PAPER_SETS})
    if args.mini_sets:
        values["mini_sets"] = args.mini_sets
    results = transfer(from_dict(TransferConfig, values), args.out)
    print(json.dumps({k: v["top1"] for k, v in results["datasets"].items()}, indent=1))
    return 0
