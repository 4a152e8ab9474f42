"""Representation metrics on hand-made features whose values are known in closed form."""

import math

import pytest
import torch

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.evaluation.repmetrics import (
    coding_length, feature_redundancy, intra_class_distance, representation_metrics, sparsity,
)


def test_sparsity_counts_zero_entries():
    x = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    assert sparsity(x) == pytest.approx(0.5)
    assert sparsity(x + 1) == 0.0


def test_intra_class_distance_of_normalised_features():
    # class 0: orthogonal unit vectors (distance sqrt 2); class 1: the same direction at two scales (distance 0)
    x = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0], [5.0, 5.0]])
    y = torch.tensor([0, 0, 1, 1])
    assert intra_class_distance(x, y) == pytest.approx(math.sqrt(2) / 2)
    with pytest.raises(FakeitError, match="3 labels for 4 feature rows"):
        intra_class_distance(x, y[:3])


def test_feature_redundancy_bounds():
    base = torch.tensor([1.0, 2.0, 3.0, 5.0, 8.0])
    collinear = torch.stack([base, 2 * base, -base + 4], dim=1)
    assert feature_redundancy(collinear) == pytest.approx(1.0)
    # mutually uncorrelated columns (Walsh functions): only the diagonal counts, R = d / d^2
    walsh = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float)
    assert feature_redundancy(walsh) == pytest.approx(1 / 3)
    # a dead (constant) unit is left out rather than producing NaN
    assert feature_redundancy(torch.cat([walsh, torch.zeros(4, 1)], 1)) == pytest.approx(1 / 3)


def test_coding_length_closed_form():
    # n = d = 2 orthonormal rows: X^T X = I, L = (n + d)/2 * d * log2(1 + d / (n eps^2)) bits
    x = torch.eye(2) * 7.0  # scale is removed by the L2 normalisation
    assert coding_length(x, eps=0.5) == pytest.approx(2 * 2 * math.log2(1 + 2 / (2 * 0.25)))
    # all rows identical: rank one, L = (n + d)/2 * log2(1 + d/eps^2) for unit rows
    same = torch.ones(4, 3)
    assert coding_length(same, eps=0.5) == pytest.approx((4 + 3) / 2 * math.log2(1 + 3 / 0.25))


def test_all_metrics_on_features_whose_values_are_known():
    # four images, one active unit each (orthogonal rows): 12 of 16 values zero; each class's two rows are orthogonal
    # unit vectors once normalised (distance sqrt 2); two one-hot columns of four rows correlate at -1/3, so
    # R = (4 + 12 / 3) / 16; the normalised rows are the identity, so L = (4 + 4)/2 * log2 det(5 I_4) = 16 log2 5
    x = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    m = representation_metrics(x, torch.tensor([0, 0, 1, 1]))
    assert m == pytest.approx({"sparsity": 0.75, "intra_class_distance": math.sqrt(2), "feature_redundancy": 0.5,
                               "coding_length": 16 * math.log2(5)})
    torch.manual_seed(0)
    relu = representation_metrics(torch.relu(torch.randn(300, 8)), torch.arange(300) % 3)
    assert 0.4 < relu["sparsity"] < 0.6  # ReLU of a symmetric distribution zeroes about half
    with pytest.raises(FakeitError, match=r"\(n, d\) matrix"):
        sparsity(torch.ones(5))
