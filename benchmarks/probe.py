"""Our linear probe against scikit-learn's LogisticRegression (lbfgs) on the same cached features.

Both run the same protocol on the same features: stratified validation split carved from train, the same
weight-decay grid (sklearn's C = 1 / (weight_decay * n_train)), best value refitted on train+val, top-1 on test.
Features: real Fashion-MNIST (train pool and test split) through the encoder of a checkpoint (--checkpoint), or of
a randomly initialised mini encoder (seeded) when none is given; extracted once, then reused by both sides.
One-time process costs (imports) are paid by both sides before timing; rounds then alternate and the best
rounds are compared. Goal: accuracy within 0.5 point; last line `ratio <sklearn seconds / our seconds>` (goal >= 3).

    python benchmarks/probe.py
    python benchmarks/probe.py --checkpoint outputs/train-.../checkpoint.pt --per-class 500
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from fakeit_lib.augment import eval_transform
from fakeit_lib.models import build_model, encoder, load_model, sha256_file
from fakeit_lib.transfer import DEFAULT_WDS, TransferConfig, cached_features, carve_validation, linear_probe, mini_splits


def sklearn_probe(xtr, ytr, xte, yte, wds, val_fraction=0.2, seed=0) -> dict:
    """The same protocol with sklearn.linear_model.LogisticRegression (lbfgs, multinomial)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    t0 = time.time()
    scaler = StandardScaler().fit(xtr)
    xtr, xte = scaler.transform(xtr), scaler.transform(xte)
    fit, val = carve_validation(ytr, val_fraction, seed)
    scores = {}
    iterations = 0
    for wd in sorted(wds, reverse=True):
        clf = LogisticRegression(C=1 / (wd * len(fit)), max_iter=1000).fit(xtr[fit], ytr[fit])
        scores[wd], iterations = clf.score(xtr[val], ytr[val]), iterations + int(clf.n_iter_.max())
    best = max(sorted(scores, reverse=True), key=lambda k: scores[k])
    clf = LogisticRegression(C=1 / (best * len(ytr)), max_iter=1000).fit(xtr, ytr)
    return {"top1": clf.score(xte, yte), "weight_decay": best, "iterations": iterations + int(clf.n_iter_.max()),
            "seconds": time.time() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint")
    p.add_argument("--per-class", type=int, default=300, help="real Fashion-MNIST train images per class")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    warnings.filterwarnings("ignore", message=".*failed to converge.*")  # sklearn at weak regularisation, as it comes
    torch.set_num_threads(1)  # both sides on one core (run with OMP_NUM_THREADS=1 for sklearn's BLAS too)
    if args.checkpoint:
        loaded = load_model(args.checkpoint)
        model, meta = loaded.model, loaded.meta
        tf = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
    else:
        torch.manual_seed(0)
        model = build_model("resnet10_narrow", 10, cifar_stem=True).eval()
        tf = eval_transform(32, 32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    train_ds, test_ds = mini_splits("fashion-mnist", tf, TransferConfig(checkpoint="-", suite="mini", fmnist_per_class=args.per_class))
    enc = encoder(model)
    sha = sha256_file(args.checkpoint) if args.checkpoint else "0" * 16 + "random-init-seed0"
    key = {"dataset": "fashion-mnist", "root": "benchmark", "per_class": args.per_class}
    cfg = TransferConfig(checkpoint="-", suite="mini", batch_size=256, workers=0)
    xtr, ytr = cached_features(enc, sha, {**key, "split": "train"}, train_ds, cfg)
    xte, yte = cached_features(enc, sha, {**key, "split": "test"}, test_ds, cfg)
    print(f"features: train {tuple(xtr.shape)}, test {tuple(xte.shape)}")
    # One-time costs of a process (torch imports its compiler stack at the first optimiser step, scikit-learn its
    # modules) are paid before timing, by both sides, on a slice of the features.
    linear_probe(xtr[:200], ytr[:200], xte[:200], yte[:200], DEFAULT_WDS[:1])
    sklearn_probe(xtr[:200].numpy(), ytr[:200].numpy(), xte[:200].numpy(), yte[:200].numpy(), DEFAULT_WDS[:1])
    ours_t, sk_t = [], []
    for r in range(args.rounds):
        ours = linear_probe(xtr, ytr, xte, yte, DEFAULT_WDS)
        ours_t.append(ours["seconds"])
        sk = sklearn_probe(xtr.numpy(), ytr.numpy(), xte.numpy(), yte.numpy(), DEFAULT_WDS)
        sk_t.append(sk["seconds"])
        print(f"round {r + 1}: ours top-1 {ours['top1']:.4f} (wd {ours['weight_decay']:g}, {ours['evaluations']} "
              f"objective evaluations) in {ours['seconds']:.2f} s; sklearn top-1 {sk['top1']:.4f} (wd "
              f"{sk['weight_decay']:g}, {sk['iterations']} L-BFGS iterations) in {sk['seconds']:.2f} s")
    print(f"accuracy difference {100 * abs(ours['top1'] - sk['top1']):.2f} points")
    print(f"ratio {min(sk_t) / min(ours_t):.2f}")


if __name__ == "__main__":
    main()
