"""Class sets: the ImageNet subsets of the paper, Fashion-MNIST for the mini scale, and user class files.

Every class carries what prompts need: its lemmas, definition and parents (WordNet 3.0), and its index in the
label space of the set it belongs to.
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import importlib.util
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import atomic_write_text, cache_root, slug
from .wordnet import is_wnid, synset_of_wnid, wnid_of, wordnet

BUILTIN_SETS = ("imagenet1k", "imagenet100", "imagenet-r", "imagenet-a", "fashion-mnist")
# the built-in class sets as a reader names them (a class file is named by its file name)
CLASS_SET_NAMES = {"imagenet1k": "ImageNet-1K", "imagenet100": "ImageNet-100", "imagenet-r": "ImageNet-R",
                   "imagenet-a": "ImageNet-A", "fashion-mnist": "Fashion-MNIST"}


def class_set_name(class_set: str) -> str:
    """A class set in words: `fashion-mnist` -> `Fashion-MNIST`; a class file by its file name."""
    return CLASS_SET_NAMES.get(class_set) or Path(class_set).name

# Fashion-MNIST's ten labels (official order) and the WordNet 3.0 synset chosen for each. WordNet has no
# "ankle boot": boot.n.01 ("footwear that covers the whole foot and lower leg") is the nearest noun; the bag class
# shows handbags, hence bag.n.04 (bag, handbag, pocketbook, purse) rather than the generic bag.n.01.
FASHION_MNIST_SYNSETS = (
    ("T-shirt/top", "jersey.n.03"),  # n03595614 jersey, T-shirt, tee shirt (also an ImageNet-1K class)
    ("Trouser", "trouser.n.01"),  # n04489008 trouser, pant
    ("Pullover", "pullover.n.01"),  # n04021028 pullover, slipover
    ("Dress", "dress.n.01"),  # n03236735 dress, frock
    ("Coat", "coat.n.01"),  # n03057021 coat
    ("Sandal", "sandal.n.01"),  # n04133789 sandal (also an ImageNet-1K class)
    ("Shirt", "shirt.n.01"),  # n04197391 shirt
    ("Sneaker", "gym_shoe.n.01"),  # n03472535 gym shoe, sneaker, tennis shoe
    ("Bag", "bag.n.04"),  # n02774152 bag, handbag, pocketbook, purse
    ("Ankle boot", "boot.n.01"),  # n02872752 boot
)


@dataclass(frozen=True)
class ClassInfo:
    """One class: its index in its set's label space, its WordNet synset (if any) and the text prompts use."""

    index: int  # class index in the set's label space (see load_class_set for each set's order)
    wnid: str | None  # WordNet 3.0 noun id, e.g. n02086910; None for classes outside WordNet
    name: str  # readable name: the first lemma, or the user's name
    lemmas: list[str] = field(default_factory=list)  # all synset lemmas, underscores as spaces
    definition: str = ""  # WordNet gloss, or the user's description
    hypernyms: list[list[str]] = field(default_factory=list)  # lemmas of each parent synset
    folder: str = ""  # folder name in ImageFolder datasets: the wnid, or a slug of the name
    imagenet1k_index: int | None = None  # index among the 1000 ImageNet-1K classes, where it is one
    label: str | None = None  # the dataset's own label name, where it differs from the lemmas (Fashion-MNIST)

    def to_dict(self) -> dict:
        """The class as a plain dict (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class ClassSet:
    """An ordered list of classes with a name; `classes[i].index` is the label of class i."""

    name: str
    classes: list[ClassInfo]

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):
        return iter(self.classes)

    def __getitem__(self, i: int) -> ClassInfo:
        return self.classes[i]

    @property
    def wnids(self) -> list[str | None]:
        """The wnids of the classes, in order."""
        return [c.wnid for c in self.classes]

    def by_wnid(self, wnid: str) -> ClassInfo:
        """The class with this wnid."""
        for c in self.classes:
            if c.wnid == wnid:
                return c
        raise FakeitError(f"wnid {wnid} is not in class set {self.name}")

    def by_folder(self, folder: str) -> ClassInfo:
        """The class whose dataset folder is named `folder`."""
        for c in self.classes:
            if c.folder == folder:
                return c
        raise FakeitError(f"folder {folder!r} names no class of class set {self.name} (expected e.g. {self.classes[0].folder!r})")


def _readable(lemma: str) -> str:
    return lemma.replace("_", " ")


def class_from_synset(synset, index: int, **extra) -> ClassInfo:
    """A ClassInfo from an nltk WordNet synset."""
    parents = synset.hypernyms() + synset.instance_hypernyms()
    lemmas = [_readable(n) for n in synset.lemma_names()]
    wnid = wnid_of(synset)
    return ClassInfo(
        index=index,
        wnid=wnid,
        name=lemmas[0],
        lemmas=lemmas,
        definition=synset.definition(),
        hypernyms=[[_readable(n) for n in p.lemma_names()] for p in parents],
        folder=wnid,
        **extra,
    )


def timm_info_file(name: str) -> Path:
    """A metadata file shipped in timm's wheel (`timm/data/_info/<name>`), found without importing timm."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise FakeitError("the ImageNet metadata comes from the timm package: pip install timm")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "_info" / name
    if not path.exists():
        raise FakeitError(f"timm's metadata file {name} is missing from {path.parent}; reinstall timm>=0.9")
    return path


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def _package_data(name: str) -> Path:
    return Path(str(importlib.resources.files("fakeit_lib") / "data" / name))


@functools.lru_cache(maxsize=None)
def imagenet1k_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1K wnids in standard class-index order."""
    return tuple(_lines(timm_info_file("imagenet_synsets.txt")))


@functools.lru_cache(maxsize=None)
def imagenet100_wnids() -> tuple[str, ...]:
    """The 100 ImageNet-100 wnids (CMC's subset, shipped in data/), sorted: ImageNet-100's class-index order."""
    return tuple(sorted(_lines(_package_data("imagenet100_wnids.txt"))))


def _subset(name: str, wnids: list[str]) -> ClassSet:
    in1k = {w: i for i, w in enumerate(imagenet1k_wnids())}
    return ClassSet(name, [class_from_synset(synset_of_wnid(w), i, imagenet1k_index=in1k.get(w)) for i, w in enumerate(wnids)])


def _fashion_mnist() -> ClassSet:
    wn = wordnet()
    classes = []
    for label, (label_name, synset_name) in enumerate(FASHION_MNIST_SYNSETS):
        classes.append(class_from_synset(wn.synset(synset_name), label, label=label_name))
    return ClassSet("fashion-mnist", classes)


def class_set_from_file(path: Path) -> ClassSet:
    """A user's class set: one wnid a line, or `name<TAB>description[<TAB>parent]` lines; `#` starts a comment."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FakeitError(f"cannot read class file {path}: {e}") from None
    classes: list[ClassInfo] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if "\t" in raw:
            parts = [p.strip() for p in raw.rstrip("\n").split("\t")]
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise FakeitError(
                    f"class file {path} line {lineno} is malformed: {raw!r}; expected a wnid or name<TAB>description[<TAB>parent]"
                )
            name, description = parts[0], parts[1]
            parent = [[parts[2]]] if len(parts) == 3 and parts[2] else []
            classes.append(ClassInfo(len(classes), None, name, [name], description, parent, slug(name, "_") or f"class_{len(classes)}"))
        elif is_wnid(line):
            classes.append(class_from_synset(synset_of_wnid(line), len(classes)))
        else:
            raise FakeitError(
                f"class file {path} line {lineno} is malformed: {line!r}; expected a wnid such as n02086910 "
                "or name<TAB>description[<TAB>parent]"
            )
    if not classes:
        raise FakeitError(f"class file {path} holds no classes; expected one wnid or name<TAB>description a line")
    for attr in ("wnid", "folder"):
        seen: dict = {}
        for c in classes:
            v = getattr(c, attr)
            if v is not None and v in seen:
                raise FakeitError(f"class file {path} lists {v} twice")
            seen[v] = c
    return ClassSet(str(path), classes)


def _disk_cached(spec: str, build) -> ClassSet:
    """A built-in class set from the cache (JSON of its classes), built from WordNet once per version of this module:
    reading WordNet costs seconds in every process, and the built-in sets never change for the same code."""
    import hashlib

    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]
    path = cache_root() / "class_sets" / f"{spec}-{key}.json"
    if path.is_file():
        return ClassSet(spec, [ClassInfo(**c) for c in json.loads(path.read_text())])
    cs = build()
    atomic_write_text(path, json.dumps([c.to_dict() for c in cs]))
    return cs


def load_class_set(spec: str) -> ClassSet:
    """A class set by name (imagenet1k, imagenet100, imagenet-r, imagenet-a, fashion-mnist) or class-file path.

    Label order: imagenet1k the standard 0..999 order; imagenet100, imagenet-r and imagenet-a their sorted wnids
    (the order ImageFolder gives a folder of wnid folders), with `imagenet1k_index` pointing into the 1000;
    fashion-mnist its official labels 0..9; a class file its line order (read again whenever the file changes).
    """
    if spec in BUILTIN_SETS:
        return _builtin_cached(spec)
    path = _class_file(spec)
    stat = path.stat()
    return _class_file_cached(spec, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _builtin_cached(spec: str) -> ClassSet:
    return _disk_cached(spec, lambda: _builtin(spec))


@functools.lru_cache(maxsize=None)
def _class_file_cached(spec: str, mtime_ns: int, size: int) -> ClassSet:
    """A class file's set, once per version of the file (its modification time and size are part of the key)."""
    return class_set_from_file(_class_file(spec))


def _builtin(spec: str) -> ClassSet:
    if spec == "imagenet1k":
        return _subset(spec, list(imagenet1k_wnids()))
    if spec == "imagenet100":
        return _subset(spec, list(imagenet100_wnids()))
    if spec in ("imagenet-r", "imagenet-a"):
        key = spec.split("-")[1]
        wnids = _lines(timm_info_file(f"imagenet_{key}_synsets.txt"))
        indices = [int(i) for i in _lines(timm_info_file(f"imagenet_{key}_indices.txt"))]
        cs = _subset(spec, wnids)
        if [c.imagenet1k_index for c in cs] != indices:
            raise FakeitError(f"timm's {spec} synsets and indices files disagree; reinstall timm")
        return cs
    return _fashion_mnist()


def _class_file(spec: str) -> Path:
    """The path of a user's class file, or FakeitError naming the valid class sets."""
    p = Path(spec)
    if p.suffix or "/" in spec or p.exists():
        if not p.is_file():
            raise FakeitError(f"class file {spec} does not exist; give a class set ({', '.join(BUILTIN_SETS)}) or a file")
        return p
    raise FakeitError(f"unknown class set {spec!r}; valid: {', '.join(BUILTIN_SETS)}, or a path to a class file")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fakeit classes`."""
    parser.add_argument("--classes", required=True, metavar="SET", help=f"{', '.join(BUILTIN_SETS)} or a class file")
    parser.add_argument("--format", choices=["tsv", "jsonl"], default="tsv", help="output format (default tsv)")


def run(args: argparse.Namespace) -> int:
    """`fakeit classes`: print one line per class (index, wnid, lemmas)."""
    cs = load_class_set(args.classes)
    for c in cs:
        if args.format == "jsonl":
            print(json.dumps(c.to_dict()))
        else:
            print(f"{c.index}\t{c.wnid or '-'}\t{', '.join(c.lemmas)}")
    sys.stdout.flush()
    return 0


def sample_classes(class_set: ClassSet, k: int, seed: int = 0) -> list[ClassInfo]:
    """`k` classes drawn at random (seeded) from a class set, in class order."""
    picked = sorted(random.Random(seed).sample(range(len(class_set)), min(k, len(class_set))))
    return [class_set[i] for i in picked]
