"""Our L-BFGS linear probe against scikit-learn's LogisticRegression (lbfgs), like with like, on the same features.

Both sides run the same protocol on the same features: the same stratified validation split carved from train, the
same weight-decay path from the strongest to the weakest (scikit-learn's C = 1 / (weight_decay * n_train)), each fit
warm-started from the previous one (scikit-learn: `warm_start=True` on one estimator), the same iteration cap per fit
and the same gradient tolerance; the best value is refitted on train+val, warm-started from its path solution, and
scored on test. Features: a transfer dataset of the mini suite (default: MNIST, 5,000 train images) through the
encoder of a checkpoint (--checkpoint) or of a randomly initialised mini encoder (seeded). Rounds alternate; each
side's best round counts. Both accuracies are printed; last line `ratio <scikit-learn seconds / our seconds>`.

Both sides run with the same thread pools, pinned here whatever the caller's environment (torch's, and NumPy's, SciPy's
and OpenMP's through threadpoolctl: `--threads`, default 1) and printed.

    python benchmarks/probe.py [--dataset mnist] [--checkpoint PATH] [--max-iter 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from fakeit_lib.core.parallel import pin_threads
from fakeit_lib.evaluation.probe import DEFAULT_WDS, carve_validation, linear_probe
from fakeit_lib.evaluation.features import extract_features
from fakeit_lib.evaluation.transfer import mini_splits
from fakeit_lib.evaluation.transfer_config import MINI_SETS
from fakeit_lib.training.augment import eval_transform
from fakeit_lib.training.models import build_model, encoder, load_model

TOLERANCE = 1e-4  # our L-BFGS tolerance_grad (probe.LogisticProblem.fit) and scikit-learn's tol


def sklearn_probe(xtr, ytr, xte, yte, wds, max_iter: int, val_fraction: float = 0.2, seed: int = 0) -> dict:
    """The same protocol with scikit-learn: standardised features, warm-started path, refit on train+val."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    scaler = StandardScaler().fit(xtr)
    xtr, xte = scaler.transform(xtr), scaler.transform(xte)
    fit, val = carve_validation(ytr, val_fraction, seed)
    clf = LogisticRegression(max_iter=max_iter, tol=TOLERANCE, warm_start=True)
    scores, coefs, iterations = {}, {}, 0
    for wd in sorted(wds, reverse=True):
        clf.set_params(C=1 / (wd * len(fit)))
        clf.fit(xtr[fit], ytr[fit])
        scores[wd], iterations = clf.score(xtr[val], ytr[val]), iterations + int(clf.n_iter_.max())
        coefs[wd] = (clf.coef_.copy(), clf.intercept_.copy())
    best = max(sorted(scores, reverse=True), key=lambda k: scores[k])  # ties: the stronger regularisation
    clf.coef_, clf.intercept_ = coefs[best]
    clf.set_params(C=1 / (best * len(ytr)))
    clf.fit(xtr, ytr)
    return {"top1": clf.score(xte, yte), "weight_decay": best, "iterations": iterations + int(clf.n_iter_.max()),
            "seconds": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=list(MINI_SETS))
    p.add_argument("--checkpoint")
    p.add_argument("--max-iter", type=int, default=300, help="iterations per fit on both sides")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="threads of every pool, both sides (default 1)")
    args = p.parse_args()
    warnings.filterwarnings("ignore", message=".*failed to converge.*")  # both sides stop at the same cap
    import sklearn.linear_model  # noqa: F401  (its libraries loaded before the pools are pinned)

    print(f"thread pools (both sides): {pin_threads(args.threads)}")
    if args.checkpoint:
        loaded = load_model(args.checkpoint)
        model, meta = loaded.model, loaded.meta
        tf = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
    else:
        torch.manual_seed(0)
        model = build_model("resnet10_narrow", 10, cifar_stem=True).eval()
        tf = eval_transform(28, 28, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    train_ds, test_ds = mini_splits(args.dataset, tf)
    enc = encoder(model)
    xtr, ytr = extract_features(enc, train_ds, batch_size=512)
    xte, yte = extract_features(enc, test_ds, batch_size=512)
    print(f"{args.dataset} features: train {tuple(xtr.shape)}, test {tuple(xte.shape)}; weight decays {DEFAULT_WDS}, "
          f"warm-started path, at most {args.max_iter} iterations per fit, tolerance {TOLERANCE:g}, both sides")
    # one-time costs of a process (imports, first optimiser step) paid by both sides before timing
    few = slice(None, None, max(1, len(ytr) // 200))  # a spread-out slice: every class present
    linear_probe(xtr[few], ytr[few], xte[few], yte[few], DEFAULT_WDS[:1], max_iter=5)
    sklearn_probe(xtr[few].numpy(), ytr[few].numpy(), xte[few].numpy(), yte[few].numpy(), DEFAULT_WDS[:1], 5)
    ours_t, sk_t = [], []
    for r in range(args.rounds):
        ours = linear_probe(xtr, ytr, xte, yte, DEFAULT_WDS, max_iter=args.max_iter)
        ours_t.append(ours["seconds"])
        sk = sklearn_probe(xtr.numpy(), ytr.numpy(), xte.numpy(), yte.numpy(), DEFAULT_WDS, args.max_iter)
        sk_t.append(sk["seconds"])
        print(f"round {r + 1}: ours top-1 {ours['top1']:.4f} (wd {ours['weight_decay']:g}, {ours['evaluations']} "
              f"objective evaluations) in {ours['seconds']:.2f} s; scikit-learn top-1 {sk['top1']:.4f} (wd "
              f"{sk['weight_decay']:g}, {sk['iterations']} iterations) in {sk['seconds']:.2f} s")
    print(f"ours {min(ours_t):.2f} s, scikit-learn {min(sk_t):.2f} s (best rounds); "
          f"accuracy difference {100 * abs(ours['top1'] - sk['top1']):.2f} points")
    print(f"ratio {min(sk_t) / min(ours_t):.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
