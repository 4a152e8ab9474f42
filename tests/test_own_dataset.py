"""Clone your own dataset: the shipped class file, evaluation on a user's class folders (suite folder), the
example's real test folders, the chapter's parameters and commands."""

import re
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image

from fakeit_lib.chapters import own_dataset as ch
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.params import from_dict
from fakeit_lib.datasets.classes import load_class_set
from fakeit_lib.evaluation.evaluate import EvalConfig, evaluate


def test_example_class_file_is_in_a_users_words():
    cs = load_class_set(str(ch.example_class_file()))
    assert [c.name for c in cs] == ["sandal", "sneaker", "ankle boot"]
    assert [c.folder for c in cs] == list(ch.EXAMPLE_LABELS) and all(c.wnid is None for c in cs)
    assert cs[2].hypernyms == [["boot"]] and cs[0].definition.startswith("a light open shoe")
    p = ch.OwnDatasetParams(generator="mini")
    assert ch.prompts_frame(p)["prompt (class name + definition)"].tolist()[1] == (
        "sneaker, a soft sports shoe with a rubber sole and laces, for running or the gym")


def _checkpoint(path: Path, favourite: int) -> Path:
    """The authors' format (torchvision resnet50, fc without bias), 3 outputs, class `favourite` always first."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Linear(2048, 3, bias=False)
    model.fc.weight.data = torch.zeros(3, 2048)
    model.fc.weight.data[favourite] = 1.0
    torch.save(model.state_dict(), path)
    return path


def test_folder_suite_scores_a_users_class_folders(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "out"))
    counts = {"sandal": 2, "sneaker": 3, "ankle_boot": 1}
    for folder, n in counts.items():
        (tmp_path / "test" / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (64, 64), (40 * i, 90, 200)).save(tmp_path / "test" / folder / f"{i}.png")
    ckpt = _checkpoint(tmp_path / "shoes.pth", favourite=1)  # always "sneaker"
    cfg = from_dict(EvalConfig, dict(checkpoint=str(ckpt), suite="folder", test_root=str(tmp_path / "test"),
                                     class_set=str(ch.example_class_file()), batch_size=8))
    d = evaluate(cfg)["datasets"]["test"]
    assert d["top1"] == pytest.approx(3 / 6, abs=1e-6) and d["images"] == 6 and d["classes"] == 3
    (tmp_path / "test" / "clog").mkdir()
    with pytest.raises(FakeitError, match="folder\\(s\\) clog that name no class"):
        evaluate(from_dict(EvalConfig, dict(checkpoint=str(ckpt), suite="folder", test_root=str(tmp_path / "test"),
                                            class_set=str(ch.example_class_file()), max_images=5)))


@pytest.mark.parametrize("values, message", [
    (dict(suite="folder"), "suite folder needs test_root"),
    (dict(suite="mini", test_root="/x"), "test_root /x is read by suite folder only, not by suite 'mini'"),
])
def test_folder_suite_bad_input(values, message):
    with pytest.raises(FakeitError, match=message):
        from_dict(EvalConfig, dict(checkpoint="c.pt", **values))


def test_example_test_set_holds_the_real_fashion_mnist_shoes(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path))
    root = ch.example_test_set()
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["ankle_boot", "sandal", "sneaker"]
    assert all(len(list((root / f).glob("*.png"))) == 1000 for f in ch.EXAMPLE_LABELS)  # the test split's 1000 each
    assert ch.example_test_set() == root  # finished: reused


def test_own_dataset_parameters_seeds_and_commands():
    p = ch.OwnDatasetParams(generator="mini", train_seeds=[0, 1, 2], own_seeds=1)
    assert p.seeds == [0] and ch.OwnDatasetParams(train_seeds=[3, 4]).seeds == [3, 4]
    assert ch.not_run_reason(p) is None
    sd = ch.OwnDatasetParams()
    assert "the shipped example is made for the mini generator" in ch.not_run_reason(sd)
    assert ch.run_note(sd, []).startswith("Nothing was generated or trained here")
    mine = ch.OwnDatasetParams(class_file="shop.tsv", test_root="shop_test/")
    assert ch.not_run_reason(mine) is None
    lines = re.sub(r" \\\n\s+", " ", ch.commands(mine)).splitlines()  # each command on one line again
    assert lines[1].startswith("fakeit generate --classes shop.tsv --variant c_dc --guidance 2 ")
    assert lines[3] == "fakeit evaluate my_run/checkpoint.pt --suite folder --test-root shop_test/ --class-set shop.tsv"
    with pytest.raises(FakeitError, match="give class_file and test_root together"):
        from_dict(ch.OwnDatasetParams, dict(class_file="shop.tsv"))
