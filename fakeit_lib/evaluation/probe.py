"""The linear probe of transfer learning: L2-regularised multinomial logistic regression on frozen features.

Two solvers, as the authors' transfer code has (naver/trex `transfer/logreg_trainer.py` and `transfer/README.md` at
commit 41722283a81e09d0331e879cc076433283fc2878):
- `lbfgs`, full batch (the authors: scikit-learn's L-BFGS, `LogregSklearnTrainer`, on the eight small-scale
  datasets; features not normalised, `--features_norm none`). Here: a preconditioned L-BFGS in torch along the
  weight-decay grid, strongest first, each fit warm-started from the previous one. It holds (classes x images)
  tensors, so its memory grows with the number of images.
- `sgd`, minibatch (the authors: `LogregTorchTrainer`, on ImageNet-1K, the CoG levels and iNaturalist;
  L2-normalised features, `torch.nn.Linear` with bias, SGD momentum 0.9, batch 1024, 100 epochs, cosine learning
  rate per epoch, the learning rate and weight decay searched). Its working memory is one batch and the weights:
  independent of the number of images. On a GPU the features move to it once when they fit (`features_device`: at
  most FEATURES_DEVICE_SHARE of its free memory; ImageNet-1K's 1.28 M x 2,048 float32 features are 10.5 GB), as the
  authors keep them; else they stay in host memory and each batch is copied over. On the CPU nothing moves.
- `auto` picks `lbfgs` while the (classes x fit images) logits hold at most FULL_BATCH_MAX_LOGITS values (256 MB in
  float32 each; the solver keeps about four such tensors), else `sgd`. With the authors' datasets this gives their
  split exactly: the eight small-scale sets (at most 101 x 60,600 = 6.1 M) full batch; iNaturalist 2019
  (1,010 x 212,170 = 214 M), iNaturalist 2018, the CoG levels and ImageNet-1K minibatch. The choice is recorded
  in the results.

Hyper-parameters are chosen on a validation split of the training split (the authors: `split_trainval`, 20% of
each class, at least one image), then the probe is refitted on train+val and scored once on the test split. The
authors search with 30 Optuna (TPE) trials; this library searches a fixed grid (weight decays for L-BFGS, learning
rates x weight decays for SGD) spanning the authors' ranges: no extra dependency, and the same choice on re-runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import FakeitError

# The mini suite's grid: 1e-6 to 1e2. The earlier 1e-6..1e-1 grid had its strongest value chosen by 3 of 4 probes of
# a real ImageNet encoder and of the same network with random weights on the mini clip-art and letters sets: the best
# regularisation lay beyond it. A probe whose choice lies on the grid's edge says so (`grid_edge`).
DEFAULT_WDS = [10.0**k for k in range(-6, 3)]
# The authors' L-BFGS searches C in [1e-5, 1e6] (classifier_training.py); weight decay = 1 / (C n), and with the
# small-scale sets' 1.6k-60k fit images that is about 1e-11 .. 60: a decade grid over it.
PAPER_WDS = [10.0**k for k in range(-11, 2)]
FULL_BATCH_MAX_LOGITS = 2**26
FEATURES_DEVICE_SHARE = 0.5  # the minibatch probe's features go to the GPU when they take at most this share of its
# free memory (the rest: the linear layer, its optimiser, batches and the normalised copy of each batch)
SOLVERS = ("auto", "lbfgs", "sgd")
NORMS = ("standard", "none", "l2")
SPLITS = ("stratified", "per-class")


@dataclass
class SGDSettings:
    """The minibatch solver's settings; defaults from naver/trex transfer/classifier_training.py."""

    lrs: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0, 100.0])  # searched; the authors: [1e-1, 1e2]
    wds: list[float] = field(default_factory=lambda: [1e-12, 1e-9, 1e-6, 1e-4])  # searched; the authors: [1e-12, 1e-4]
    epochs: int = 100  # the authors: 100
    batch_size: int = 1024  # the authors: 1024
    momentum: float = 0.9  # the authors: 0.9


def choose_solver(solver: str, n_fit: int, n_classes: int) -> str:
    """`lbfgs` or `sgd`: the one asked for, or for `auto` by the size of the full-batch logits (module docstring)."""
    if solver not in SOLVERS:
        raise FakeitError(f"unknown probe solver {solver!r}; valid: {', '.join(SOLVERS)}")
    if solver != "auto":
        return solver
    return "lbfgs" if n_fit * n_classes <= FULL_BATCH_MAX_LOGITS else "sgd"


class LogisticProblem:
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


def per_class_validation(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices as the authors carve them (naver/trex transfer/data/utils.py split_trainval): in each
    class, int(n * fraction) images at random for validation, one when that is zero (the class needs two)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(len(idx) * fraction) or 1
        if len(idx) < 2:
            raise FakeitError(f"class {int(c)} has {len(idx)} training image; a validation split needs at least 2 a class")
        train.extend(idx[:-n_val].tolist())
        val.extend(idx[-n_val:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


def normaliser(xtr: torch.Tensor, norm: str):
    """The row-wise map the probe applies to features: standardisation with the training statistics,
    L2 normalisation, or none. Applied per batch by the minibatch solver, so no normalised copy is ever held."""
    if norm not in NORMS:
        raise FakeitError(f"unknown feature normalisation {norm!r}; valid: {', '.join(NORMS)}")
    if norm == "standard":
        mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
        return lambda x: (x - mean.to(x.device)) / std.to(x.device)
    if norm == "l2":
        return lambda x: F.normalize(x, dim=1)
    return lambda x: x


def _lbfgs_path(xtr, ytr, k, fit_idx, val_idx, weight_decays, max_iter) -> dict:
    """Weight decay chosen on the validation split along the path, then the refit on train+val."""
    problem, init, solutions, val_top1, evals = LogisticProblem(xtr[fit_idx], ytr[fit_idx], k), None, {}, {}, 0
    for wd in sorted(set(weight_decays), reverse=True):
        w, b, n = problem.fit(wd, max_iter, init)
        init, solutions[wd], evals = (w, b), (w, b), evals + n
        val_top1[wd] = _accuracy(xtr[val_idx], ytr[val_idx], w, b)
    del problem
    best = max(val_top1, key=lambda v: (val_top1[v], v))  # ties: the stronger regularisation
    w, b, n = LogisticProblem(xtr, ytr, k).fit(best, max_iter, solutions[best])  # refit on train+val
    return {"predict": lambda x: torch.addmm(b, x, w).argmax(1), "weight_decay": best,
            "val_top1": {str(v): round(a, 6) for v, a in sorted(val_top1.items())}, "evaluations": evals + n,
            "grid_edge": grid_edge({"weight_decay": (best, list(val_top1))})}


def grid_edge(chosen: dict[str, tuple[float, list[float]]]) -> str | None:
    """Which searched hyper-parameters were chosen at an end of their grid (`weight_decay=largest of [...]`), or None:
    a value on the edge may mean the best one lies beyond the grid."""
    edges = []
    for name, (value, grid) in chosen.items():
        values = sorted(set(grid))
        if len(values) > 1 and value in (values[0], values[-1]):
            edges.append(f"{name}={value:g} ({'largest' if value == values[-1] else 'smallest'} of {values[0]:g}..{values[-1]:g})")
    return "; ".join(edges) or None


def features_device(nbytes: int, device: str, free_bytes: int | None = None) -> str:
    """Where the minibatch probe keeps `nbytes` of features: on `device` when it is a GPU whose free memory (measured
    when not given) holds them within FEATURES_DEVICE_SHARE, else in host memory ("cpu")."""
    if not device.startswith("cuda"):
        return "cpu"
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(torch.device(device))[0]
    return device if nbytes <= FEATURES_DEVICE_SHARE * free_bytes else "cpu"


def _predict(layer: torch.nn.Linear, x: torch.Tensor, rows: torch.Tensor, batch_size: int, device: str, norm) -> torch.Tensor:
    """Predicted classes of x[rows], a batch at a time."""
    out = []
    rows = rows.to(x.device)
    with torch.no_grad():
        for s in range(0, len(rows), batch_size):
            out.append(layer(norm(x[rows[s:s + batch_size]].to(device, non_blocking=True))).argmax(1).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def sgd_fit(x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor, k: int, lr: float, wd: float, settings: SGDSettings,
            seed: int, device: str = "cpu", norm=lambda b: b) -> torch.nn.Linear | None:
    """A Linear(d, k) trained on x[rows] by minibatch SGD with momentum and a per-epoch cosine learning rate
    (naver/trex LogregTorchTrainer), `norm` applied to each batch; None when the loss stops being finite (a
    diverged trial). Memory: one batch and the weights on `device`; `x` and `y` stay where they are (host memory, or
    the device: features_device), never copied whole."""
    import math

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], k).to(device)
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=settings.momentum, weight_decay=wd)
    bs = min(settings.batch_size, len(rows))
    for epoch in range(settings.epochs):
        for group in opt.param_groups:  # trex adjust_learning_rate: cosine over epochs
            group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * epoch / settings.epochs))
        order = rows[torch.randperm(len(rows), generator=g)].to(x.device)  # drawn on the host: the same on any device
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            xb, yb = norm(x[idx].to(device, non_blocking=True)), y[idx].to(device, non_blocking=True)
            loss = F.cross_entropy(layer(xb), yb)
            if not torch.isfinite(loss):
                return None
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return layer


def _sgd_search(xtr, ytr, k, fit_idx, val_idx, settings: SGDSettings, seed, device, norm) -> dict:
    """(lr, wd) chosen on the validation split over the grid, then the refit on train+val."""
    val_top1 = {}
    for lr in settings.lrs:
        for wd in settings.wds:
            layer = sgd_fit(xtr, ytr, fit_idx, k, lr, wd, settings, seed, device, norm)
            predicted = None if layer is None else _predict(layer, xtr, val_idx, settings.batch_size, device, norm)
            truth = ytr[val_idx.to(ytr.device)].cpu()
            val_top1[(lr, wd)] = -1.0 if layer is None else float((predicted == truth).double().mean())
    best = max(val_top1, key=lambda v: (val_top1[v], v[1], -v[0]))  # ties: stronger decay, then smaller lr
    if val_top1[best] < 0:
        raise FakeitError(f"the minibatch probe diverged for every learning rate of {settings.lrs}; try smaller ones")
    layer = sgd_fit(xtr, ytr, torch.arange(len(ytr)), k, best[0], best[1], settings, seed, device, norm)
    if layer is None:
        raise FakeitError(f"the minibatch probe diverged when refitted with lr {best[0]}, weight decay {best[1]}")
    return {"predict": lambda x: _predict(layer, x, torch.arange(len(x)), settings.batch_size, device, norm),
            "weight_decay": best[1], "lr": best[0],
            "val_top1": {f"lr={lr:g},wd={wd:g}": round(a, 6) for (lr, wd), a in sorted(val_top1.items())},
            "evaluations": len(val_top1) + 1,
            "grid_edge": grid_edge({"lr": (best[0], list(settings.lrs)), "weight_decay": (best[1], list(settings.wds))})}


def linear_probe(train_x, train_y, test_x, test_y, weight_decays: list[float] = DEFAULT_WDS,
                 val_fraction: float = 0.2, seed: int = 0, max_iter: int = 300, solver: str = "lbfgs",
                 norm: str = "standard", split: str = "stratified", sgd: SGDSettings | None = None,
                 device: str = "cpu") -> dict:
    """Top-1 of an L2 logistic-regression probe: hyper-parameters chosen on a val split of train, refit on
    train+val, scored on test; the solver (module docstring) and what it chose are in the result."""
    if split not in SPLITS:
        raise FakeitError(f"unknown validation split {split!r}; valid: {', '.join(SPLITS)}")
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
    norm_fn = normaliser(xtr, norm)
    t0 = time.time()
    carve = carve_validation if split == "stratified" else per_class_validation
    fit_idx, val_idx = (torch.as_tensor(i) for i in carve(ytr.numpy(), val_fraction, seed))
    chosen = choose_solver(solver, len(fit_idx), len(classes))
    if chosen == "lbfgs":  # full batch: normalised copies, (classes x images) tensors
        xtr, xte = norm_fn(xtr), norm_fn(xte)
        fitted = _lbfgs_path(xtr, ytr, len(classes), fit_idx, val_idx, weight_decays, max_iter)
        home = "cpu"
    else:  # minibatch: the features as they are, on the GPU when they fit, each batch normalised on the device
        home = features_device(xtr.numel() * xtr.element_size() + xte.numel() * xte.element_size(), device)
        xtr, ytr, xte = xtr.to(home), ytr.to(home), xte.to(home)
        fitted = _sgd_search(xtr, ytr, len(classes), fit_idx, val_idx, sgd or SGDSettings(), seed, device, norm_fn)
    top1 = float((fitted.pop("predict")(xte).cpu() == yte).double().mean())
    return {"top1": round(top1, 6), **fitted, "solver": chosen, "norm": norm, "features_on": home, "train_images": len(ytr),
            "val_images": len(val_idx), "test_images": len(yte), "classes": len(classes),
            "seconds": round(time.time() - t0, 2)}
