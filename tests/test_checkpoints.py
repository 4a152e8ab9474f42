"""The authors' checkpoint formats as released and as commonly re-saved: torchvision resnet50 state dicts with or
without `module.`/`encoder.` prefixes, bare or under `state_dict`/`model`, with fc (with or without bias) or none.
A bias-free fc is the authors' cosine classifier (models.CosineClassifier): its logits are cosines over 0.1."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.training.models import CosineClassifier, encoder, load_model, model_class_set

pytestmark = pytest.mark.timeout(600)
X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _resnet50(head: str) -> torch.nn.Module:
    """A seeded resnet50 whose head is fc without bias to 100 classes, fc with bias to 1000, or none (encoder)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    if head == "fc100-nobias":
        model.fc = torch.nn.Linear(2048, 100, bias=False)
    elif head == "fc1000-bias":
        model.fc = torch.nn.Linear(2048, 1000, bias=True)
    else:
        model.fc = torch.nn.Identity()
    for m in model.modules():  # BatchNorm statistics other than the defaults, so that a missed buffer shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {h: _resnet50(h) for h in ("fc100-nobias", "fc1000-bias", "encoder")}


def _expected(model: torch.nn.Module) -> torch.Tensor:
    """What a checkpoint of `model` must compute on X: its own output, or for a bias-free fc the authors' cosine head,
    normalize(features) @ normalize(fc.weight).T / 0.1 (naver/trex trex.py ClfLayer)."""
    with torch.no_grad():
        if isinstance(model.fc, torch.nn.Linear) and model.fc.bias is None:
            return F.normalize(encoder(model)(X)) @ F.normalize(model.fc.weight).T / 0.1
        return model(X)


def _save(path: Path, model: torch.nn.Module, prefix: str, wrapper: str | None) -> Path:
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save(state if wrapper is None else {wrapper: state, "epoch": 100}, path)
    return path


@pytest.mark.parametrize("prefix,wrapper", [  # every prefix and every wrapper once (a resnet50 costs seconds)
    ("", None), ("module.", "state_dict"), ("encoder.", "model"), ("module.encoder.", None),
])
def test_prefixes_and_wrappers_load_the_same_weights(tmp_path, models, prefix, wrapper):
    original = models["fc100-nobias"]
    path = _save(tmp_path / "ckpt.pth", original, prefix, wrapper)
    loaded = load_model(path)
    path.unlink()  # 100 MB each
    assert loaded.meta["source"] == "authors-format" and loaded.meta["arch"] == "resnet50"
    assert (loaded.meta["num_classes"], loaded.meta["fc_bias"], loaded.meta["class_set"]) == (100, False, "imagenet100")
    assert isinstance(loaded.model.fc, CosineClassifier) and loaded.meta["cosine_tau"] == 0.1
    with torch.no_grad():
        torch.testing.assert_close(encoder(loaded.model)(X), encoder(original)(X), rtol=0, atol=0)  # the same weights
        assert torch.equal(loaded.model.fc.weight, original.fc.weight)
        torch.testing.assert_close(loaded.model(X), _expected(original), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("head,num_classes,bias,class_set", [
    ("fc100-nobias", 100, False, "imagenet100"),
    ("fc1000-bias", 1000, True, "imagenet1k"),
    ("encoder", 0, False, None),
])
def test_heads(tmp_path, models, head, num_classes, bias, class_set):
    original = models[head]
    path = _save(tmp_path / "ckpt.pth", original, "module.", "state_dict")
    loaded = load_model(path)
    path.unlink()
    assert (loaded.meta["num_classes"], loaded.meta["fc_bias"], loaded.meta["class_set"]) == (num_classes, bias, class_set)
    assert loaded.meta["cosine_tau"] == (0.1 if head == "fc100-nobias" else None)
    with torch.no_grad():
        out = loaded.model(X)
        torch.testing.assert_close(out, _expected(original), rtol=1e-5 if head == "fc100-nobias" else 0,
                                   atol=1e-5 if head == "fc100-nobias" else 0)
    assert tuple(out.shape) == (2, num_classes or 2048)  # an encoder gives its 2048-d features
    if head == "encoder":
        with pytest.raises(FakeitError, match="is an encoder without a classifier; it can be used for transfer only"):
            model_class_set(loaded)
    else:
        assert len(model_class_set(loaded)) == num_classes


def test_malformed_checkpoints_are_named(tmp_path, models):
    state = dict(models["fc1000-bias"].state_dict())
    state["fc.extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(FakeitError, match=r"extra.pth does not fit a torchvision resnet50: .*fc.extra"):
        load_model(tmp_path / "extra.pth")
    torch.save({"state_dict": {"conv1.weight": "not a tensor"}}, tmp_path / "strings.pth")
    with pytest.raises(FakeitError, match="strings.pth holds no state dict of tensors"):
        load_model(tmp_path / "strings.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(FakeitError, match="list.pth holds a list, not a state dict or a fakeit checkpoint"):
        load_model(tmp_path / "list.pth")
    torch.save({"encoder.conv1.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(FakeitError, match="neither a fakeit checkpoint nor a torchvision resnet50 state dict"):
        load_model(tmp_path / "partial.pth")
