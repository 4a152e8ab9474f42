"""The transfer datasets of the paper (Table 2, Fig. 1) with the authors' splits, read from the user's roots.

Every split follows the authors' transfer code, naver/trex `transfer/data/<name>.py` at commit
41722283a81e09d0331e879cc076433283fc2878 (the "trex file" of each reader below), including the published split
sizes those files assert (PUBLISHED). A root whose splits come out at other sizes is refused with both numbers
(unless `check_sizes=False`: results are then not comparable with the paper's). Each reader returns
(trainval samples, test samples), a sample being (image path, label); images are opened only when features are
extracted (an unreadable file is skipped and counted then). The probe carves its validation split from trainval.

Roots: the folder the authors' reader takes, or the folder torchvision's downloader makes above it (e.g.
`fgvc-aircraft-2013b/`, `oxford-iiit-pet/`, `food-101/`, `flowers-102/`, `eurosat/2750/`), found by itself.
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

from ..core.errors import FakeitError

TREX = "naver/trex transfer/data/{}.py @ 41722283"
SMALL_SCALE = ("aircraft", "cars", "dtd", "eurosat", "flowers", "pets", "food101", "sun397")
LONG_TAIL = ("inat2018", "inat2019")
COG_LEVELS = tuple(f"cog_l{i}" for i in range(1, 6))
PAPER_SETS = SMALL_SCALE + LONG_TAIL  # Table 2
ALL_SETS = PAPER_SETS + COG_LEVELS + ("in1k",)  # with Fig. 1's CoG levels and the ImageNet-1K linear probe (70.4%)
# (trainval, test) sizes the authors' readers assert; EuroSAT's trainval is train 13,500 + val 5,400 (Feng et al.)
PUBLISHED = {
    "aircraft": (6667, 3333), "cars": (8144, 8041), "dtd": (3760, 1880), "eurosat": (18900, 8100),
    "flowers": (2040, 6149), "pets": (3680, 3669), "food101": (75750, 25250), "sun397": (19850, 19850),
    "inat2018": (437513, 24426), "inat2019": (265213, 3030), "in1k": (1281167, 50000),
    "cog_l1": (1118804, 50000), "cog_l2": (1115788, 50000), "cog_l3": (1095203, 50000),
    "cog_l4": (1107128, 50000), "cog_l5": (1091654, 50000),
}  # fmt: skip
# number of classes of each dataset (its paper; the CoG levels 1,000 concepts each)
PUBLISHED_CLASSES = {
    "aircraft": 100, "cars": 196, "dtd": 47, "eurosat": 10, "flowers": 102, "pets": 37, "food101": 101, "sun397": 397,
    "inat2018": 8142, "inat2019": 1010, "in1k": 1000, **{c: 1000 for c in COG_LEVELS},
}  # fmt: skip
TREX_FILE = {"cars": "cars196", "inat2018": "inat", "inat2019": "inat", "in1k": "in1k", **{c: "imagenet_cog" for c in COG_LEVELS}}
# EuroSAT per class: the first 810 of a seeded random order for test, the next 540 for val, the rest for train
EUROSAT_TEST, EUROSAT_VAL = 810, 540

Samples = list[tuple[str, int]]


def _find(root: Path, name: str, *candidates: str) -> Path:
    """The first of root/candidate that exists (the authors' layout first, then torchvision's wrapping folders)."""
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise FakeitError(f"{name} root {root} lacks {candidates[0]} (expected the layout of {TREX.format(TREX_FILE.get(name, name))})")


def _base(root: Path, marker: str, *wrappers: str) -> Path:
    """The folder holding `marker`: root itself or one of the wrapping folders torchvision's downloaders create."""
    for w in ("", *wrappers):
        if (root / w / marker).exists():
            return root / w
    return root


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def aircraft(root: Path, seed: int) -> tuple[Samples, Samples]:
    """FGVC-Aircraft variants: data/images_variant_{trainval,test}.txt, labels by data/variants.txt order."""
    base = _base(root, "data/variants.txt", "fgvc-aircraft-2013b")
    variants = {v.lower(): i for i, v in enumerate(_lines(_find(base, "aircraft", "data/variants.txt")))}
    out = []
    for split in ("trainval", "test"):
        samples = []
        for line in _lines(_find(base, "aircraft", f"data/images_variant_{split}.txt")):
            image, _, variant = line.partition(" ")
            samples.append((str(base / "data" / "images" / f"{image}.jpg"), variants[variant.strip().lower()]))
        out.append(samples)
    return out[0], out[1]


def cars(root: Path, seed: int) -> tuple[Samples, Samples]:
    """Stanford Cars: cars_annos.mat, one annotation per image with its class (1-based) and test flag."""
    from scipy.io import loadmat

    base = _base(root, "cars_annos.mat", "stanford_cars")
    anns = loadmat(str(_find(base, "cars", "cars_annos.mat")))["annotations"].flatten()
    split = {False: [], True: []}
    for a in anns:
        split[bool(int(a["test"].item()))].append((str(base / str(a["relative_im_path"].item())), int(a["class"].item()) - 1))
    return split[False], split[True]


def dtd(root: Path, seed: int) -> tuple[Samples, Samples]:
    """DTD split 1: labels/train1.txt + val1.txt (trainval), test1.txt; labels by sorted class folder."""
    base = _base(root, "labels", "dtd")
    classes = sorted(p.name for p in _find(base, "dtd", "images").iterdir() if p.is_dir())
    index = {c: i for i, c in enumerate(classes)}

    def read(split: str) -> Samples:
        return [(str(base / "images" / ln), index[ln.split("/")[0]]) for ln in _lines(_find(base, "dtd", f"labels/{split}1.txt"))]

    return read("train") + read("val"), read("test")


def eurosat_splits(root: Path, seed: int) -> dict[str, Samples]:
    """EuroSAT (RGB) train/val/test of 13,500/5,400/8,100 (Feng et al., ICLR 2022, as in the trex file): in each of
    the 10 sorted class folders, the sorted images in a random order seeded by `seed`."""
    base = _base(root, "AnnualCrop", "2750", "eurosat/2750", "EuroSAT")
    classes = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if not classes:
        raise FakeitError(f"eurosat root {root} holds no class folders (expected 10, e.g. AnnualCrop/, as in {TREX.format('eurosat')})")
    rng = random.Random(seed)
    splits: dict[str, Samples] = {"train": [], "val": [], "test": []}
    for label, name in enumerate(classes):
        images = sorted(str(p) for p in (base / name).glob("*.jpg"))
        order = list(range(len(images)))
        rng.shuffle(order)
        picked = [images[i] for i in order]
        splits["test"] += [(p, label) for p in picked[:EUROSAT_TEST]]
        splits["val"] += [(p, label) for p in picked[EUROSAT_TEST:EUROSAT_TEST + EUROSAT_VAL]]
        splits["train"] += [(p, label) for p in picked[EUROSAT_TEST + EUROSAT_VAL:]]
    return splits


def eurosat(root: Path, seed: int) -> tuple[Samples, Samples]:
    """EuroSAT: trainval = train + val (18,900), test 8,100."""
    s = eurosat_splits(root, seed)
    return s["train"] + s["val"], s["test"]


def flowers(root: Path, seed: int) -> tuple[Samples, Samples]:
    """Oxford Flowers-102: setid.mat trnid + valid (trainval), tstid (test); labels from imagelabels.mat (1-based)."""
    from scipy.io import loadmat

    base = _base(root, "setid.mat", "flowers-102")
    labels = loadmat(str(_find(base, "flowers", "imagelabels.mat")))["labels"].flatten()
    ids = loadmat(str(_find(base, "flowers", "setid.mat")))

    def read(*keys: str) -> Samples:
        return [(str(base / "jpg" / f"image_{i:05d}.jpg"), int(labels[i - 1]) - 1) for k in keys for i in ids[k].flatten()]

    return read("trnid", "valid"), read("tstid")


def pets(root: Path, seed: int) -> tuple[Samples, Samples]:
    """Oxford-IIIT Pets: annotations/{trainval,test}.txt, label = class id - 1."""
    base = _base(root, "annotations/trainval.txt", "oxford-iiit-pet")
    out = []
    for split in ("trainval", "test"):
        rows = [ln.split(" ") for ln in _lines(_find(base, "pets", f"annotations/{split}.txt")) if not ln.startswith("#")]
        out.append([(str(base / "images" / f"{r[0]}.jpg"), int(r[1]) - 1) for r in rows])
    return out[0], out[1]


def food101(root: Path, seed: int) -> tuple[Samples, Samples]:
    """Food-101: meta/train.txt (trainval), meta/test.txt; labels by sorted class folder of images/."""
    base = _base(root, "meta/train.txt", "food-101")
    classes = sorted(p.name for p in _find(base, "food101", "images").iterdir() if p.is_dir())
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for split in ("train", "test"):
        lines = _lines(_find(base, "food101", f"meta/{split}.txt"))
        out.append([(str(base / "images" / f"{ln}.jpg"), index[ln.split("/")[0]]) for ln in lines])
    return out[0], out[1]


def sun397(root: Path, seed: int) -> tuple[Samples, Samples]:
    """SUN397 official partition 1: Training_01.txt / Testing_01.txt (19,850 each); labels by sorted ClassName.txt."""
    meta = _base(root, "ClassName.txt", "SUN397")
    classes = sorted(c.strip("/") for c in _lines(_find(meta, "sun397", "ClassName.txt")))
    index = {c: i for i, c in enumerate(classes)}
    images = root / "SUN397" if (root / "SUN397").is_dir() else root
    out = []
    for name in ("Training_01.txt", "Testing_01.txt"):
        part = _find(root, "sun397", name, f"Partitions/{name}", f"SUN397/{name}")
        rows = [ln.strip("/") for ln in _lines(part)]
        out.append([(str(images / r), index[r.rsplit("/", 1)[0]]) for r in rows])
    return out[0], out[1]


def inaturalist(root: Path, year: str) -> tuple[Samples, Samples]:
    """iNaturalist 2018/2019: train<year>.json (trainval) and the official val<year>.json (test)."""
    out = []
    for split in ("train", "val"):
        doc = json.loads(_find(root, f"inat{year}", f"{split}{year}.json").read_text())
        label = {a["image_id"]: int(a["category_id"]) for a in doc["annotations"]}
        out.append([(str(root / im["file_name"]), label[im["id"]]) for im in doc["images"] if im["id"] in label])
    return out[0], out[1]


COG_FILES = ("cog_levels_mapping_file.pkl", "cog_concepts_split_file.pkl")  # the names github.com/naver/cog publishes


def imagenet_cog(level: str, root: Path, levels_file: str | None, splits_file: str | None) -> tuple[Samples, Samples]:
    """One ImageNet-CoG level (Sariyildiz et al., ICCV 2021): its 1,000 concepts from the levels file, their train
    and test images from the concept-splits file (both published with the benchmark, github.com/naver/cog; by
    default found in `root` under their published names), image paths relative to `root` (the full ImageNet's
    images, one folder per synset); labels by sorted concept."""
    levels_file = levels_file or str(root / COG_FILES[0])
    splits_file = splits_file or str(root / COG_FILES[1])
    missing = [f"{n} ({v} does not exist)" for n, v in (("cog_levels_file", levels_file), ("cog_splits_file", splits_file))
               if not Path(v).expanduser().is_file()]
    if missing:
        raise FakeitError(
            f"ImageNet-CoG {level} needs {' and '.join(missing)}: the pickles the CoG benchmark publishes "
            f"({COG_FILES[0]}: the concepts of the five levels; {COG_FILES[1]}: each concept's train/test images; "
            "github.com/naver/cog), put in the CoG root or named with --cog-levels-file/--cog-splits-file")
    with open(Path(levels_file).expanduser(), "rb") as f:
        levels = pickle.load(f)  # noqa: S301 (a file the user names, from the CoG release)
    with open(Path(splits_file).expanduser(), "rb") as f:
        per_concept = pickle.load(f)  # noqa: S301
    concepts = set(levels[int(level[-1]) - 1])
    lacking = sorted(concepts - set(per_concept))
    if lacking:
        raise FakeitError(f"ImageNet-CoG {level}: {len(lacking)} concept(s) of the levels file have no images in the "
                          f"splits file, e.g. {lacking[0]}")
    out = []
    for split in ("train", "test"):
        samples = []
        for label, concept in enumerate(sorted(concepts)):
            files = sorted(str(p) for p in list(per_concept[concept][split]))
            samples += [(str(root / p.strip("/").strip("\\")), label) for p in files]
        out.append(samples)
    return out[0], out[1]


def in1k(root: Path, seed: int) -> tuple[Samples, Samples]:
    """ImageNet-1K: train/ (trainval) and val/ (test) in wnid folders, labels by sorted wnid (the CoG protocol)."""
    from .images import folder_samples

    return folder_samples(_find(root, "in1k", "train"))[0], folder_samples(_find(root, "in1k", "val"))[0]


def check_published(name: str, trainval: int, test: int, root: Path) -> None:
    """FakeitError unless the split sizes are the ones the authors' reader asserts."""
    want = PUBLISHED[name]
    if (trainval, test) != want:
        raise FakeitError(
            f"{name} root {root} gives trainval/test splits of {trainval:,}/{test:,} images; the authors' split has "
            f"{want[0]:,}/{want[1]:,} ({TREX.format(TREX_FILE.get(name, name))}); is the dataset complete? "
            "(check_sizes=false accepts it, not comparable with the paper)")


READERS = {"aircraft": aircraft, "cars": cars, "dtd": dtd, "eurosat": eurosat, "flowers": flowers, "pets": pets,
           "food101": food101, "sun397": sun397, "in1k": in1k}


def split_samples(name: str, root: str, seed: int = 0, check_sizes: bool = True, cog_levels_file: str | None = None,
                  cog_splits_file: str | None = None) -> tuple[Samples, Samples]:
    """(trainval, test) samples of a paper transfer dataset from its root, with the authors' split."""
    if name not in ALL_SETS:
        raise FakeitError(f"unknown transfer dataset {name!r}; valid: {', '.join(ALL_SETS)}")
    root_p = Path(root).expanduser()
    if not root_p.is_dir():
        raise FakeitError(f"{name} root {root_p} does not exist or is not a folder")
    if name in LONG_TAIL:
        trainval, test = inaturalist(root_p, name[-4:])
    elif name in COG_LEVELS:
        trainval, test = imagenet_cog(name, root_p, cog_levels_file, cog_splits_file)
    else:
        try:
            trainval, test = READERS[name](root_p, seed)
        except (KeyError, ValueError, IndexError) as e:
            raise FakeitError(f"{name} root {root_p} has a split file that does not match its layout: {type(e).__name__}: {e}") from None
    if check_sizes:
        check_published(name, len(trainval), len(test), root_p)
    return trainval, test


def authors_transform(image_size: int = 224):
    """The transfer transform of the authors (trex transfer/data/__init__.py): bicubic resize of the short side to
    224, centre crop 224, ImageNet normalisation."""
    from torchvision import transforms as T

    return T.Compose([T.Resize(image_size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(image_size),
                      T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
