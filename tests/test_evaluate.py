"""Evaluation on ImageNet-style test layouts built here from scikit-image's bundled photos.

A randomly initialised ResNet-50 is saved as a torchvision resnet50 state dict (the authors' format) with a zero fc
bias, so that it loads with a plain linear head (a bias-free fc would be the authors' cosine classifier, whose ranking
depends on the image: tests/test_checkpoints.py), and its classifier rows set so that the ranking of classes is
known: class T scores highest, class B second, class C lowest, whatever the image. T is an ImageNet-100 class outside ImageNet-R, B is in both, C in neither, D is in
ImageNet-R only. Every expected accuracy below follows from that ranking and the label-mapping rules.
"""

import json

import pytest
import torch
import torchvision
from PIL import Image

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.params import from_dict
from fakeit_lib.datasets.classes import load_class_set
from fakeit_lib.evaluation.evaluate import EvalConfig, evaluate, load_results

IN1K, IN100, INR = (load_class_set(n) for n in ("imagenet1k", "imagenet100", "imagenet-r"))
R_WNIDS, W100 = {c.wnid for c in INR}, {c.wnid for c in IN100}
T = next(c.wnid for c in IN100 if c.wnid not in R_WNIDS)
B = next(c.wnid for c in IN100 if c.wnid in R_WNIDS)
C = next(c.wnid for c in IN1K if c.wnid not in R_WNIDS and c.wnid not in W100)
D = next(c.wnid for c in INR if c.wnid not in W100)


def _photos():
    from skimage import data

    return [Image.fromarray(getattr(data, n)()).convert("RGB") for n in ("chelsea", "coffee", "rocket", "astronaut")]


def _tree(root, folders: dict[str, int]):
    photos = _photos()
    k = 0
    for folder, count in folders.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            photos[k % len(photos)].resize((160, 120)).save(root / folder / f"img{i}.jpg")
            k += 1
    return root


def _authors_checkpoint(path, class_set):
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Linear(2048, len(class_set))
    model.fc.bias.data.zero_()
    w = torch.zeros(len(class_set), 2048)
    rank = {T: 2.0, B: 1.0, C: -1.0}
    for c in class_set:
        w[c.index] = rank.get(c.wnid, -0.5 + c.index * 1e-4) / 2048  # a strict, image-independent order
    model.fc.weight.data = w
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    val = _tree(root / "val", {T: 1, B: 2, C: 1})
    r = _tree(root / "imagenet-r", {B: 2, D: 1})
    v2 = _tree(root / "v2", {str(IN1K.by_wnid(T).index): 1, str(IN1K.by_wnid(B).index): 1})
    (val / B / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return {"val": val, "r": r, "v2": v2, "root": root}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return {"in1k": _authors_checkpoint(d / "in1k_sd.pth", IN1K), "in100": _authors_checkpoint(d / "in100_sd.pth", IN100)}


def _config(ckpt, **roots):
    # tiny trees in the ImageNet layout: the CPU asked for, as "auto" refuses it for the ImageNet suite (paper scale)
    return from_dict(EvalConfig, {"checkpoint": str(ckpt), "workers": 0, "batch_size": 8, "device": "cpu",
                                  **{f"{k}_root": str(v) for k, v in roots.items()}})


def test_imagenet1k_model_label_mapping_and_200_class_restriction(tmp_path, trees, checkpoints):
    res = evaluate(_config(checkpoints["in1k"], val=trees["val"], v2=trees["v2"], r=trees["r"]), tmp_path / "e")
    val, v2, r = (res["datasets"][k] for k in ("val", "v2", "r"))
    # val: T predicted everywhere; B ranks second (top-5), C last; the corrupt file is skipped and listed
    assert (val["top1"], val["top5"], val["images"], val["classes"]) == (0.25, 0.75, 4, 1000)
    assert val["skipped"] == 1 and val["skipped_files"][0].endswith("broken.jpg")
    # v2: folder k is ImageNet-1K class k
    assert (v2["top1"], v2["top5"], v2["images"]) == (0.5, 1.0, 2)
    # R: logits restricted to its 200 classes, so T (not in R) cannot win and B is predicted
    assert (r["top1"], r["images"], r["classes"]) == (pytest.approx(2 / 3, abs=1e-5), 3, 200)
    assert res["model"]["class_set"] == "imagenet1k" and res["model"]["source"] == "authors-format"
    assert len(res["model"]["sha256"]) == 64
    saved = json.loads((tmp_path / "e" / "results.json").read_text())
    assert saved["datasets"]["r"]["top1"] == r["top1"] and (tmp_path / "e" / "DONE").exists()


def test_imagenet100_model_restricts_to_its_classes(tmp_path, trees, checkpoints):
    res = evaluate(_config(checkpoints["in100"], val=trees["val"], r=trees["r"]), tmp_path / "e")
    val, r = res["datasets"]["val"], res["datasets"]["r"]
    # val: the C image is not an ImageNet-100 class and is left out
    assert (val["top1"], val["images"], val["excluded_images"], val["classes"]) == (pytest.approx(1 / 3, abs=1e-5), 3, 1, 100)
    # R: only the 19 classes shared by ImageNet-R and ImageNet-100 (D left out; T not shared, so B wins)
    assert (r["top1"], r["images"], r["excluded_images"], r["classes"]) == (1.0, 2, 1, 19)


def test_results_of_another_model_are_refused(tmp_path, trees, checkpoints):
    out = tmp_path / "e"
    first = evaluate(_config(checkpoints["in1k"], r=trees["r"]), out)
    assert evaluate(_config(checkpoints["in1k"], r=trees["r"]), out) == first  # done: loaded, not recomputed
    with pytest.raises(FakeitError, match="holds a run with another config .*checkpoint"):
        evaluate(_config(checkpoints["in100"], r=trees["r"]), out)
    with pytest.raises(FakeitError, match="belongs to another model"):
        load_results(out / "results.json", sha256="0" * 64)


def test_clear_errors(tmp_path, trees, checkpoints):
    with pytest.raises(FakeitError, match=r"ImageNet-val root .*nowhere does not exist"):
        evaluate(_config(checkpoints["in1k"], val=tmp_path / "nowhere"), tmp_path / "e1")
    wrong = tmp_path / "wrong" / "images"
    wrong.mkdir(parents=True)
    with pytest.raises(FakeitError, match=r"does not have the expected layout: one folder per class named like n01440764"):
        evaluate(_config(checkpoints["in1k"], val=tmp_path / "wrong"), tmp_path / "e2")
    with pytest.raises(FakeitError, match=r"folder\(s\) n99999999 that name no class"):
        _tree(tmp_path / "r2", {B: 1, "n99999999": 1})
        evaluate(_config(checkpoints["in1k"], r=tmp_path / "r2"), tmp_path / "e3")
    with pytest.raises(FakeitError, match="has 1000 outputs but class set imagenet100 has 100 classes"):
        cfg = _config(checkpoints["in1k"], val=trees["val"])
        cfg.class_set = "imagenet100"
        evaluate(cfg, tmp_path / "e4")
    other = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), other)
    with pytest.raises(FakeitError, match="is neither a fakeit checkpoint nor a torchvision resnet50 state dict"):
        evaluate(_config(other, val=trees["val"]), tmp_path / "e5")
    with pytest.raises(FakeitError, match="suite imagenet needs at least one test-set root"):
        evaluate(_config(checkpoints["in1k"]), tmp_path / "e6")
    assert not any((tmp_path / f"e{i}").exists() for i in range(1, 7))  # nothing written before the checks pass
