"""Representation metrics of the paper's supplementary material: sparsity, intra-class distance, feature redundancy
and coding length of penultimate (pre-logit) features.

The Fake-it supplementary reuses the four measures of the authors' t-ReX paper (Sariyildiz, Kalantidis, Alahari,
Larlus, "No reason for no supervision: improved generalization in supervised models", ICLR 2023, Sec. 3 and
appendix), which take them from earlier work as cited on each function below. Inputs are an (n, d) feature matrix
and, where needed, n integer labels. All functions return plain floats.

Status of each definition: coding length follows its primary source (Ma et al. 2007, Eq. 6) exactly, in bits.
Feature redundancy and intra-class distance follow Wang et al. (CVPR 2022), the source t-ReX cites; sparsity is
the share of inactive post-ReLU units. The constants t-ReX chose (the zero threshold, coding length's distortion
eps, whether features were L2-normalised first) are not stated in any text available to this project offline:
the values here are ours, exposed as arguments, and the comparisons in the book are between our encoders only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.errors import FakeitError


def _features(x) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise FakeitError(f"features must be an (n, d) matrix with n >= 2, got shape {tuple(x.shape)}")
    return x


def sparsity(features, eps: float = 1e-6) -> float:
    """The fraction of feature values that are (numerically) zero.

    t-ReX measures the sparsity of post-ReLU pre-logit features as the share of inactive dimensions, averaged over
    images; a value is inactive when its magnitude is at most `eps`.
    """
    x = _features(features)
    return float((x.abs() <= eps).double().mean())


def intra_class_distance(features, labels) -> float:
    """The mean Euclidean distance between L2-normalised features of the same class, averaged over classes.

    t-ReX (following Wang et al., "Revisiting the transferability of supervised pretraining: an MLP perspective",
    CVPR 2022, who relate larger intra-class variation to better transfer) averages, per class, the pairwise
    distances of the class's L2-normalised features, then averages over classes. Classes with one image are ignored.
    """
    x = F.normalize(_features(features), dim=1)
    y = torch.as_tensor(labels)
    if y.shape[0] != x.shape[0]:
        raise FakeitError(f"{y.shape[0]} labels for {x.shape[0]} feature rows")
    per_class = []
    for c in torch.unique(y):
        xc = x[y == c]
        m = xc.shape[0]
        if m < 2:
            continue
        d = torch.cdist(xc, xc)
        per_class.append(d.sum() / (m * (m - 1)))  # the diagonal is zero: mean over ordered pairs i != j
    if not per_class:
        raise FakeitError("intra_class_distance needs a class with at least two images")
    return float(torch.stack(per_class).mean())


def feature_redundancy(features) -> float:
    """The mean absolute Pearson correlation over all pairs of feature dimensions, R = (1/d^2) sum_ij |rho_ij|.

    Definition of Wang et al. (CVPR 2022, Eq. for feature redundancy), used by t-ReX. The sum runs over all (i, j),
    diagonal included, so R lies in [1/d, 1]: 1/d for uncorrelated dimensions, 1 when all are collinear.
    Constant dimensions (zero variance, e.g. dead ReLU units) have no correlation and are left out.
    """
    x = _features(features)
    x = x[:, x.std(dim=0) > 0]
    d = x.shape[1]
    if d == 0:
        raise FakeitError("feature_redundancy: every feature dimension is constant")
    rho = torch.corrcoef(x.T).reshape(d, d)
    return float(rho.abs().sum() / d**2)


def coding_length(features, eps: float = 0.5) -> float:
    """The number of bits needed to code the features up to distortion eps (lossy coding length).

    Ma, Derksen, Hong, Wright, "Segmentation of multivariate mixed data via lossy data coding and compression",
    TPAMI 2007, Eq. 6, as used by t-ReX (and, as the coding rate R = L/(n+d), by Yu et al.'s MCR^2, NeurIPS 2020):
    L(X) = (n + d)/2 * log2 det(I_d + d / (n eps^2) * X^T X) for n samples of dimension d, where the rows of X are
    the L2-normalised features (as in MCR^2, not mean-centred). Larger means the features spread over more
    dimensions.
    """
    x = F.normalize(_features(features), dim=1)
    n, d = x.shape
    gram = torch.eye(d, dtype=x.dtype) + (d / (n * eps**2)) * (x.T @ x)
    return float((n + d) / 2 * torch.logdet(gram) / math.log(2))


def representation_metrics(features, labels) -> dict[str, float]:
    """All four metrics of a feature matrix with its labels."""
    return {
        "sparsity": sparsity(features),
        "intra_class_distance": intra_class_distance(features, labels),
        "feature_redundancy": feature_redundancy(features),
        "coding_length": coding_length(features),
    }
