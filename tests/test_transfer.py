"""Linear probe (against scikit-learn, on separable data), dataset readers and clear errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.params import from_dict
from fakeit_lib.evaluation.probe import carve_validation, linear_probe
from fakeit_lib.evaluation.transfer import paper_splits, transfer
from fakeit_lib.evaluation.transfer_config import TransferConfig


def test_probe_separates_gaussian_blobs_and_reports_its_choice():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=g) * 4
    y = torch.arange(400) % 4
    x = centres[y] + torch.randn(400, 16, generator=g)
    res = linear_probe(x[:300], y[:300], x[300:], y[300:], weight_decays=[1e-4, 1e-2, 1.0])
    assert res["top1"] >= 0.97 and res["classes"] == 4 and res["test_images"] == 100
    assert res["weight_decay"] in (1e-4, 1e-2, 1.0) and set(res["val_top1"]) == {"0.0001", "0.01", "1.0"}


def test_probe_matches_sklearn_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    tr, te = carve_validation(y, 0.5, 0)
    wd = 1e-3
    ours = linear_probe(x[tr], y[tr], x[te], y[te], weight_decays=[wd])
    scaler = StandardScaler().fit(x[tr])
    sk = LogisticRegression(C=1 / (wd * len(tr)), max_iter=2000).fit(scaler.transform(x[tr]), y[tr])
    sk_top1 = float((sk.predict(scaler.transform(x[te])) == y[te]).mean())
    assert abs(ours["top1"] - sk_top1) <= 0.01, (ours["top1"], sk_top1)


def test_preconditioned_fit_reaches_sklearns_optimum():
    """The reparametrised L-BFGS solves the same convex problem as sklearn's lbfgs, warm-started or not: the same
    objective value and the same predicted probabilities."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from fakeit_lib.evaluation.probe import LogisticProblem

    x, y = load_digits(return_X_y=True)
    x = torch.tensor((x - x.mean(0)) / x.std(0).clip(min=1e-6))
    y = torch.tensor(y)
    problem = LogisticProblem(x, y, 10)

    def objective(w, b, wd):
        return float(torch.nn.functional.cross_entropy(x @ w + b, y) + wd / 2 * (w * w).sum())

    warm = problem.fit(1e-2, 500, tolerance=1e-8)
    for wd, init in ((1e-2, None), (1e-3, None), (1e-3, warm[:2])):
        w, b, _ = problem.fit(wd, 1000, init, tolerance=1e-8)
        sk = LogisticRegression(C=1 / (wd * len(y)), tol=1e-10, max_iter=20000).fit(x.numpy(), y.numpy())
        sk_w, sk_b = torch.tensor(sk.coef_).T, torch.tensor(sk.intercept_)
        assert objective(w, b, wd) == pytest.approx(objective(sk_w, sk_b, wd), rel=1e-6)
        probs = torch.softmax(x @ w + b, 1)
        assert (probs - torch.tensor(sk.predict_proba(x.numpy()))).abs().max() < 1e-3


def test_validation_split_is_stratified_and_seeded():
    y = np.repeat(np.arange(5), 10)
    a_tr, a_val = carve_validation(y, 0.2, seed=3)
    b_tr, b_val = carve_validation(y, 0.2, seed=3)
    assert np.array_equal(a_val, b_val) and len(a_val) == 10
    assert sorted(np.bincount(y[a_val]).tolist()) == [2] * 5
    assert set(a_tr) | set(a_val) == set(range(50))


def test_inaturalist_official_layout(tmp_path):
    from skimage import data

    photo = Image.fromarray(data.coffee())
    for year in ("2019",):
        images, anns = [], []
        for i, (split, cat) in enumerate([("train", 0), ("train", 1), ("train", 1), ("val", 1)]):
            rel = f"train_val{year}/Plantae/{cat}/{i}.jpg"
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            photo.resize((40, 30)).save(tmp_path / rel)
            images.append((split, {"id": i, "file_name": rel}))
            anns.append((split, {"image_id": i, "category_id": cat}))
        for split in ("train", "val"):
            doc = {"images": [im for s, im in images if s == split], "annotations": [a for s, a in anns if s == split]}
            (tmp_path / f"{split}{year}.json").write_text(json.dumps(doc))
    train, test = paper_splits("inat2019", str(tmp_path), transform=None, check_sizes=False)
    assert len(train) == 3 and len(test) == 1
    assert [train[i][1] for i in range(3)] == [0, 1, 1] and test[0][1] == 1
    with pytest.raises(FakeitError, match="lacks train2018.json"):
        paper_splits("inat2018", str(tmp_path), transform=None)


def test_clear_errors(tmp_path):
    with pytest.raises(FakeitError, match=r"dtd root .*nowhere does not exist"):
        paper_splits("dtd", str(tmp_path / "nowhere"), None)
    with pytest.raises(FakeitError, match=r"pets root .* lacks annotations/trainval.txt \(expected the layout of naver/trex transfer/data/pets.py"):
        paper_splits("pets", str(tmp_path), None)
    with pytest.raises(FakeitError, match="suite paper needs at least one dataset root: aircraft_root"):
        transfer(from_dict(TransferConfig, {"checkpoint": "x.pth"}))
    with pytest.raises(FakeitError, match=r"mini_sets=\['digits', 'fashion-mnist'\] must list datasets of digits, mnist, letters, clipart"):
        from_dict(TransferConfig, {"checkpoint": "x.pth", "suite": "mini", "mini_sets": ["digits", "fashion-mnist"]})
    with pytest.raises(FakeitError, match="checkpoint .*missing.pth does not exist"):
        transfer(from_dict(TransferConfig, {"checkpoint": str(tmp_path / "missing.pth"), "suite": "mini"}))


def test_grid_edge_names_a_choice_at_the_end_of_its_grid():
    from fakeit_lib.evaluation.probe import DEFAULT_WDS, grid_edge

    assert DEFAULT_WDS[0] == 1e-6 and DEFAULT_WDS[-1] == 100.0 and len(DEFAULT_WDS) == 9
    assert grid_edge({"weight_decay": (100.0, DEFAULT_WDS)}) == "weight_decay=100 (largest of 1e-06..100)"
    assert grid_edge({"lr": (0.1, [0.1, 1.0]), "weight_decay": (1e-4, [1e-6, 1e-4, 1e-2])}) == "lr=0.1 (smallest of 0.1..1)"
    assert grid_edge({"weight_decay": (1e-4, DEFAULT_WDS)}) is None


def test_noise_features_choose_strong_regularisation_and_say_when_it_is_the_edge():
    """Pure-noise features: the validation split prefers the strongest decay of the old grid (up to 0.1), its edge,
    and the result says so."""
    from fakeit_lib.evaluation.probe import linear_probe

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 64, generator=g), torch.arange(300) % 3
    old = linear_probe(x[:200], y[:200], x[200:], y[200:], [1e-6, 1e-4, 1e-2, 1e-1], max_iter=50)
    assert old["weight_decay"] == 0.1 and old["grid_edge"] == "weight_decay=0.1 (largest of 1e-06..0.1)"


def test_a_checkpoint_at_its_initialisation_is_the_network_training_started_from(tmp_path):
    from fakeit_lib.evaluation.features import encoder_identity, load_encoder
    from fakeit_lib.training.models import CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, build_model

    torch.manual_seed(123)
    trained = build_model("resnet10_narrow", 10, cifar_stem=True)
    meta = dict(arch="resnet10_narrow", num_classes=10, cifar_stem=True, fc_bias=True, class_set="fashion-mnist",
                eval_resize=28, eval_crop=28, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), data="-")
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": trained.state_dict(), "meta": meta, "config": {"seed": 7}}, path)
    loaded, sha = load_encoder(str(path), seed=0, random_init=True)
    torch.manual_seed(7)
    initial = build_model("resnet10_narrow", 10, cifar_stem=True, fc_bias=True)
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(), initial.state_dict().values()))
    assert not torch.equal(loaded.model.conv1.weight, trained.conv1.weight)
    config = TransferConfig(checkpoint=str(path), suite="mini", random_init=True)
    assert encoder_identity(config) == (sha, "resnet10_narrow-init7")
    assert "before any training step" in loaded.meta["source"]
