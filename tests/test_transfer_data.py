"""The authors' splits of every transfer dataset, on fake trees: the split files (or, for EuroSAT, the image
folders) at their real sizes and structure, so the published split sizes come out of the real split logic.
Images are not written (they are opened only at feature extraction), except EuroSAT's, whose files are the split."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets.transfer_data import PUBLISHED, eurosat_splits, split_samples

EUROSAT = {"AnnualCrop": 3000, "Forest": 3000, "HerbaceousVegetation": 3000, "Highway": 2500, "Industrial": 2500,
           "Pasture": 2000, "PermanentCrop": 2500, "Residential": 3000, "River": 2500, "SeaLake": 3000}


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{ln}\n" for ln in lines))


def sizes(name: str, root: Path, **kw) -> tuple[int, int]:
    trainval, test = split_samples(name, str(root), **kw)
    assert not {p for p, _ in trainval} & {p for p, _ in test}  # disjoint splits
    return len(trainval), len(test)


def test_aircraft_variant_files(tmp_path):
    base = tmp_path / "fgvc-aircraft-2013b" / "data"  # torchvision's wrapping folder is found
    write(base / "variants.txt", [f"Variant {k}" for k in range(100)])
    write(base / "images_variant_trainval.txt", [f"{i:07d} Variant {i % 100}" for i in range(6667)])
    write(base / "images_variant_test.txt", [f"{i:07d} variant {i % 100}" for i in range(6667, 10000)])
    assert sizes("aircraft", tmp_path) == PUBLISHED["aircraft"] == (6667, 3333)
    trainval, _ = split_samples("aircraft", str(tmp_path))
    assert trainval[101] == (str(base / "images" / "0000101.jpg"), 1)


def test_cars_annotations_mat(tmp_path):
    from scipy.io import savemat

    n, fields = 16185, ["relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"]
    arr = np.zeros((1, n), dtype=[(f, "O") for f in fields])
    for i in range(n):
        arr[0, i] = (f"car_ims/{i + 1:06d}.jpg", 1, 1, 2, 2, np.uint8(i % 196 + 1), np.uint8(i >= 8144))
    savemat(tmp_path / "cars_annos.mat", {"annotations": arr})
    assert sizes("cars", tmp_path) == PUBLISHED["cars"] == (8144, 8041)
    trainval, test = split_samples("cars", str(tmp_path))
    assert trainval[0] == (str(tmp_path / "car_ims/000001.jpg"), 0) and test[0][1] == 8144 % 196


def test_dtd_split_one(tmp_path):
    classes = [f"texture{k:02d}" for k in range(47)]
    for c in classes:
        (tmp_path / "images" / c).mkdir(parents=True)
    for split in ("train", "val", "test"):
        write(tmp_path / "labels" / f"{split}1.txt", [f"{classes[i % 47]}/{split}_{i}.jpg" for i in range(1880)])
        write(tmp_path / "labels" / f"{split}2.txt", ["other split: not read"])
    assert sizes("dtd", tmp_path) == PUBLISHED["dtd"] == (3760, 1880)


def test_eurosat_13500_5400_8100_from_the_image_folders(tmp_path):
    base = tmp_path / "eurosat" / "2750"  # torchvision's layout
    for name, n in EUROSAT.items():
        (base / name).mkdir(parents=True)
        for i in range(n):
            (base / name / f"{name}_{i + 1}.jpg").touch()
    s = eurosat_splits(tmp_path, seed=0)
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (13500, 5400, 8100)
    assert np.bincount([y for _, y in s["test"]]).tolist() == [810] * 10 and np.bincount([y for _, y in s["val"]]).tolist() == [540] * 10
    assert sizes("eurosat", tmp_path) == PUBLISHED["eurosat"] == (18900, 8100)
    assert eurosat_splits(tmp_path, seed=0) == s and eurosat_splits(tmp_path, seed=1)["test"] != s["test"]


def test_flowers_setid(tmp_path):
    from scipy.io import savemat

    base = tmp_path / "flowers-102"
    base.mkdir()
    ids = np.random.default_rng(0).permutation(np.arange(1, 8190))
    savemat(base / "imagelabels.mat", {"labels": (np.arange(8189) % 102 + 1).reshape(1, -1)})
    savemat(base / "setid.mat", {"trnid": ids[:1020].reshape(1, -1), "valid": ids[1020:2040].reshape(1, -1), "tstid": ids[2040:].reshape(1, -1)})
    assert sizes("flowers", tmp_path) == PUBLISHED["flowers"] == (2040, 6149)
    trainval, _ = split_samples("flowers", str(tmp_path))
    assert trainval[0] == (str(base / "jpg" / f"image_{ids[0]:05d}.jpg"), int((ids[0] - 1) % 102))


def test_pets_annotation_lists(tmp_path):
    write(tmp_path / "annotations" / "trainval.txt", [f"Breed{i % 37}_{i} {i % 37 + 1} 1 1" for i in range(3680)])
    write(tmp_path / "annotations" / "test.txt", [f"Breed{i % 37}_{i} {i % 37 + 1} 1 1" for i in range(3680, 3680 + 3669)])
    assert sizes("pets", tmp_path) == PUBLISHED["pets"] == (3680, 3669)


def test_food101_meta_lists(tmp_path):
    base = tmp_path / "food-101"
    classes = [f"dish_{k:03d}" for k in range(101)]
    for c in classes:
        (base / "images" / c).mkdir(parents=True)
    write(base / "meta" / "train.txt", [f"{classes[i % 101]}/{i}" for i in range(75750)])
    write(base / "meta" / "test.txt", [f"{classes[i % 101]}/{i}" for i in range(75750, 101000)])
    assert sizes("food101", tmp_path) == PUBLISHED["food101"] == (75750, 25250)


def test_sun397_official_partition_one(tmp_path):
    classes = [f"/{chr(97 + k % 26)}/scene_{k:03d}" for k in range(397)]
    write(tmp_path / "ClassName.txt", classes)
    for name, offset in (("Training_01.txt", 0), ("Testing_01.txt", 50)):
        write(tmp_path / name, [f"{c}/sun_{offset + i:04d}.jpg" for c in classes for i in range(50)])
    write(tmp_path / "Training_02.txt", [f"{classes[0]}/other.jpg"])
    assert sizes("sun397", tmp_path) == PUBLISHED["sun397"] == (19850, 19850)
    trainval, _ = split_samples("sun397", str(tmp_path))
    assert trainval[0] == (str(tmp_path / "a" / "scene_000" / "sun_0000.jpg"), 0)


def _inat(root: Path, year: str, n_train: int, n_val: int, classes: int) -> None:
    for split, n, start in (("train", n_train, 0), ("val", n_val, n_train)):
        doc = {"images": [{"id": start + i, "file_name": f"train_val{year}/c/{start + i}.jpg"} for i in range(n)],
               "annotations": [{"image_id": start + i, "category_id": i % classes} for i in range(n)]}
        (root / f"{split}{year}.json").write_text(json.dumps(doc))


def test_inaturalist_2019_official_files(tmp_path):
    _inat(tmp_path, "2019", 265213, 3030, 1010)
    assert sizes("inat2019", tmp_path) == PUBLISHED["inat2019"] == (265213, 3030)


def test_inaturalist_2018_scaled_down_is_refused_with_the_published_sizes(tmp_path):
    _inat(tmp_path, "2018", 40, 5, 8)
    with pytest.raises(FakeitError, match=r"inat2018 root .* gives trainval/test splits of 40/5 images; the authors' "
                                          r"split has 437,513/24,426 \(naver/trex transfer/data/inat.py"):
        split_samples("inat2018", str(tmp_path))
    assert sizes("inat2018", tmp_path, check_sizes=False) == (40, 5)


def test_imagenet_cog_levels_from_the_published_pickles(tmp_path):
    levels = [[f"n{lv}{k:07d}" for k in range(3)] for lv in range(5)]
    per_concept = {c: {"train": np.array([f"/{c}/{c}_{i}.JPEG" for i in range(4 + k)]), "test": np.array([f"{c}/t{i}.JPEG" for i in range(2)])}
                   for lv in levels for k, c in enumerate(lv)}
    (tmp_path / "levels.pkl").write_bytes(pickle.dumps(levels))
    (tmp_path / "splits.pkl").write_bytes(pickle.dumps(per_concept))
    files = {"cog_levels_file": str(tmp_path / "levels.pkl"), "cog_splits_file": str(tmp_path / "splits.pkl")}
    trainval, test = split_samples("cog_l3", str(tmp_path), check_sizes=False, **files)
    assert (len(trainval), len(test)) == (4 + 5 + 6, 6)
    assert trainval[0] == (str(tmp_path / levels[2][0] / f"{levels[2][0]}_0.JPEG"), 0) and test[-1][1] == 2
    with pytest.raises(FakeitError, match=r"the authors' split has 1,095,203/50,000 \(naver/trex transfer/data/imagenet_cog.py"):
        split_samples("cog_l3", str(tmp_path), **files)
    with pytest.raises(FakeitError, match=r"ImageNet-CoG cog_l1 needs cog_levels_file \(.*cog_levels_mapping_file.pkl does not exist\) "
                                          r"and cog_splits_file \(.*nowhere.pkl does not exist\): the pickles the CoG benchmark publishes"):
        split_samples("cog_l1", str(tmp_path), cog_splits_file=str(tmp_path / "nowhere.pkl"))
    (tmp_path / "levels.pkl").rename(tmp_path / "cog_levels_mapping_file.pkl")  # the published names, in the root
    (tmp_path / "splits.pkl").rename(tmp_path / "cog_concepts_split_file.pkl")
    assert sizes("cog_l5", tmp_path, check_sizes=False) == (4 + 5 + 6, 6)


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(FakeitError, match=r"unknown transfer dataset 'cifar10'; valid: aircraft, cars, dtd, eurosat"):
        split_samples("cifar10", str(tmp_path))
    with pytest.raises(FakeitError, match=r"sun397 root .*nowhere does not exist"):
        split_samples("sun397", str(tmp_path / "nowhere"))
    with pytest.raises(FakeitError, match=r"sun397 root .* lacks ClassName.txt"):
        split_samples("sun397", str(tmp_path))
