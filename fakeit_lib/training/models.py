"""Classifier architectures by name (torchvision, timm, a narrow ResNet for the mini scale) and checkpoint loading.

Two checkpoint formats load here:
- ours (written by `fakeit train`): a dict with `format: fakeit-checkpoint`, `model` (state dict) and `meta`
  (architecture, class count, class set, test-time transform);
- the authors' released ones: a bare torchvision `resnet50` state dict whose `fc.weight` is (1000 or 100, 2048) without
  bias (project page of the paper), loaded with `strict=True` into a cosine classifier (below). A state dict without
  `fc` (e.g. t-ReX's encoders) loads as an encoder only, usable for transfer but not for `fakeit evaluate`.

The authors' classifier head is t-ReX's cosine softmax, not a plain linear layer: naver/trex at commit
41722283a81e09d0331e879cc076433283fc2878, `trex.py` `ClfLayer` (an `nn.Linear(dim, C, bias=False)` named `fc`, whose
logits are `normalize(x) @ normalize(fc.weight).T / tau` for tau > 0) with `main.py --clf_tau` 0.1 by default. The
released checkpoints' bias-free `fc.weight` is that layer's weight; loaded into a plain linear layer, classes whose
weight rows are longer would win more often than they should. `CosineClassifier` keeps the tensor and its name
(`fc.weight`), so those checkpoints load unchanged.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import FakeitError

CHECKPOINT_FORMAT = "fakeit-checkpoint"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Architectures defined here (all others: torchvision.models, then timm). name -> (timm BasicBlock layers, channels).
# A quarter of ResNet-18's width and half its depth: the mini recipe's encoder (128-d features), CPU-friendly at 32 px.
NARROW_RESNETS = {"resnet10_narrow": ((1, 1, 1, 1), (16, 32, 64, 128))}
AUTHORS_TAU = 0.1  # temperature of the authors' cosine classifier (naver/trex main.py --clf_tau default)


class CosineClassifier(nn.Linear):
    """Cosine-softmax classifier (naver/trex trex.py ClfLayer): logits = cos(feature, class weight) / tau.

    Features and class weight rows are L2-normalised, there is no bias; its one tensor, `weight` (C, D), has the shape
    and name of a `Linear(D, C, bias=False)`, so the same state dict loads into either. A positive factor on the
    features leaves the logits unchanged, and the ranking of classes is that of x . w_c / |w_c|.
    """

    def __init__(self, in_features: int, out_features: int, tau: float):
        super().__init__(in_features, out_features, bias=False)
        if not tau > 0:
            raise FakeitError(f"cosine classifier temperature tau={tau} must be > 0")
        self.tau = tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1)) / self.tau

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}"


def _cifar_stem(model: nn.Module) -> nn.Module:
    """A ResNet with a 3x3 stride-1 stem and no max-pool (for 32 px inputs, as in CIFAR ResNets)."""
    if not (hasattr(model, "conv1") and hasattr(model, "maxpool")):
        raise FakeitError(f"cifar_stem needs a ResNet with conv1 and maxpool; {type(model).__name__} has none")
    width = model.bn1.num_features if hasattr(model, "bn1") else model.conv1.out_channels
    model.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model


def build_model(arch: str, num_classes: int, cifar_stem: bool = False, fc_bias: bool = True,
                cosine_tau: float | None = None) -> nn.Module:
    """A randomly initialised classifier named `arch` (torchvision first, then timm) with `num_classes` outputs; its
    last layer a cosine classifier with temperature `cosine_tau` when given, else a Linear (with bias if fc_bias)."""
    import torchvision

    if num_classes < 1:
        raise FakeitError(f"num_classes={num_classes} must be at least 1")
    if cosine_tau is not None and fc_bias:
        raise FakeitError("a cosine classifier has no bias (trex ClfLayer): give fc_bias=False with cosine_tau")
    if arch in NARROW_RESNETS:
        from timm.models.resnet import BasicBlock, ResNet

        layers, channels = NARROW_RESNETS[arch]
        # a "deep" stem of width channels[0] / 2 gives a stem output of channels[0]; cifar_stem then makes it one conv
        model = ResNet(BasicBlock, layers, num_classes=num_classes, channels=channels, stem_type="deep",
                       stem_width=channels[0] // 2)
    elif arch in torchvision.models.list_models(module=torchvision.models):
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    else:
        import timm

        if not timm.is_model(arch):
            raise FakeitError(
                f"unknown architecture {arch!r}; valid: {', '.join(NARROW_RESNETS)}, a torchvision classification "
                "model (e.g. resnet50, resnet18, vit_b_16) or a timm model name"
            )
        model = timm.create_model(arch, pretrained=False, num_classes=num_classes)
    if cifar_stem:
        model = _cifar_stem(model)
    if cosine_tau is not None or not fc_bias:
        head = _classifier_name(model)
        old = model.get_submodule(head)
        new = (CosineClassifier(old.in_features, old.out_features, cosine_tau) if cosine_tau is not None
               else nn.Linear(old.in_features, old.out_features, bias=False))
        _set_submodule(model, head, new)
    return model


def _classifier_name(model: nn.Module) -> str:
    """The name of the model's last Linear layer (its classifier)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise FakeitError(f"{type(model).__name__} has no Linear classifier layer")
    return names[-1]


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def encoder(model: nn.Module) -> nn.Module:
    """A copy of the classifier without its last layer: it outputs penultimate (pre-logit) features."""
    enc = copy.deepcopy(model)
    if hasattr(enc, "reset_classifier"):  # timm
        enc.reset_classifier(0)
    else:
        _set_submodule(enc, _classifier_name(enc), nn.Identity())
    return enc


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class LoadedModel:
    """A model ready for inference with where it came from and how to feed it."""

    model: nn.Module
    meta: dict[str, Any]  # arch, num_classes (0: encoder only), cosine_tau (None: linear head), class_set,
    # eval_resize, eval_crop, mean, std
    path: str
    sha256: str
    provenance: dict[str, Any] = field(default_factory=dict)


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in ("module.", "encoder.", "backbone."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _load_bare_resnet50(state: dict, path: Path) -> tuple[nn.Module, dict]:
    """The authors' format: torchvision resnet50 whose bias-free fc is their cosine classifier (or no fc: an encoder
    only); an fc with a bias (a torchvision-style re-save) loads as a plain Linear."""
    import torchvision

    state = _strip_prefixes(state)
    if "conv1.weight" not in state or "layer4.2.conv3.weight" not in state:
        some = ", ".join(list(state)[:4])
        raise FakeitError(
            f"checkpoint {path} is neither a fakeit checkpoint nor a torchvision resnet50 state dict "
            f"(the authors' format); its keys start with: {some}"
        )
    model = torchvision.models.resnet50(weights=None)
    cosine_tau = None
    if "fc.weight" in state:
        num_classes, width = state["fc.weight"].shape
        if "fc.bias" in state:
            model.fc = nn.Linear(width, num_classes)
        else:
            cosine_tau = AUTHORS_TAU  # the temperature scales the logits only: top-k does not depend on it
            model.fc = CosineClassifier(width, num_classes, cosine_tau)
    else:
        num_classes = 0
        model.fc = nn.Identity()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:3]
        raise FakeitError(f"checkpoint {path} does not fit a torchvision resnet50: {' '.join(first)}") from None
    default_set = {1000: "imagenet1k", 100: "imagenet100"}.get(num_classes)
    meta = dict(arch="resnet50", num_classes=num_classes, cifar_stem=False, fc_bias="fc.bias" in state,
                cosine_tau=cosine_tau, class_set=default_set, eval_resize=256, eval_crop=224, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD),
                source="authors-format")
    return model, meta


def load_model(path: Path | str, class_set: str | None = None) -> LoadedModel:
    """A checkpoint (ours or the authors' format) as an eval-mode model; `class_set` overrides the recorded one."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FakeitError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a truncated or foreign file
        raise FakeitError(f"checkpoint {path} cannot be read by torch.load: {type(e).__name__}: {e}") from None
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        meta = dict(obj["meta"])
        model = build_model(meta["arch"], meta["num_classes"], meta.get("cifar_stem", False), meta.get("fc_bias", True),
                            meta.get("cosine_tau"))  # checkpoints made before the cosine head: a Linear
        model.load_state_dict(obj["model"], strict=True)
        provenance = {"config_hash": obj.get("config_hash"), "epoch": obj.get("epoch"), "run": str(path.parent),
                      "seed": (obj.get("config") or {}).get("seed")}
    elif isinstance(obj, dict):
        state = obj.get("state_dict", obj.get("model", obj))
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise FakeitError(f"checkpoint {path} holds no state dict of tensors")
        model, meta = _load_bare_resnet50(state, path)
        provenance = {"config_hash": None}
    else:
        raise FakeitError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict or a fakeit checkpoint")
    if class_set is not None:
        meta["class_set"] = class_set
    model.eval()
    return LoadedModel(model=model, meta=meta, path=str(path), sha256=sha256_file(path), provenance=provenance)


def model_class_set(loaded: LoadedModel):
    """The class set of a loaded classifier, checked against its number of outputs."""
    from ..datasets.classes import load_class_set

    name = loaded.meta.get("class_set")
    n = loaded.meta["num_classes"]
    if n == 0:
        raise FakeitError(f"checkpoint {loaded.path} is an encoder without a classifier; it can be used for transfer only")
    if not name:
        raise FakeitError(f"checkpoint {loaded.path} records no class set and has {n} outputs; pass --class-set")
    cs = load_class_set(name)
    if len(cs) != n:
        raise FakeitError(
            f"checkpoint {loaded.path} has {n} outputs but class set {cs.name} has {len(cs)} classes; "
            "this checkpoint was trained for another class set"
        )
    return cs


BN_STATS = ("all", "global")  # which crops update BatchNorm's running statistics (MultiCropClassifier)


class MultiCropClassifier(nn.Module):
    """Runs the classifier once per crop resolution and returns the logits of all crops, global crops first.

    In training every pass normalises with its own batch's statistics; the running statistics kept for test time are
    updated by every pass (`bn_stats="all"`, as trex) or by the first resolution's, the global crops', only
    (`"global"`: the other passes run with momentum 0, which leaves them unchanged)."""

    def __init__(self, model: nn.Module, bn_stats: str = "all"):
        super().__init__()
        if bn_stats not in BN_STATS:
            raise FakeitError(f"bn_stats={bn_stats!r} is not valid; valid: {', '.join(BN_STATS)}")
        self.model, self.bn_stats = model, bn_stats

    def forward(self, crops: list[torch.Tensor]) -> torch.Tensor:
        out, start = [], 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-1] == crops[start].shape[-1]:
                end += 1
            if start > 0 and self.bn_stats == "global" and self.training:
                norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
                momenta = [m.momentum for m in norms]
                for m in norms:
                    m.momentum = 0.0
                try:
                    out.append(self.model(torch.cat(crops[start:end])))
                finally:
                    for m, momentum in zip(norms, momenta):
                        m.momentum = momentum
            else:
                out.append(self.model(torch.cat(crops[start:end])))
            start = end
        return torch.cat(out)
