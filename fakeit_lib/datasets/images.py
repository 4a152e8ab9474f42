"""Image files and the samples of a dataset: synthetic clones (manifest.jsonl; images in class folders or in tar shards,
`datasets.shards`), ImageFolder trees and the ImageNet test-set layouts; the torch Datasets over them are in
`torch_datasets`.

Every dataset here yields `(image_tensor_or_crops, label)`. Labels are always indices in a class set's label space:
from the manifest's `class_index` when a dataset has a manifest (ImageFolder's sorted-folder order would not match,
e.g., Fashion-MNIST's official labels), else from folder names mapped through the class set.

Unreadable or corrupt image files are skipped and counted, never silently: such a sample comes back with label
SKIPPED (-1); training ignores it in the loss and reports the count per epoch, evaluation leaves it out of the
accuracy and lists the files in its results. A dataset in which every file is unreadable is an error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..core.errors import FakeitError
from ..core.store import read_config
from .classes import load_class_set
from .fashion_mnist import fashion_mnist
from .shards import Member, read_member
from .wordnet import is_wnid

SKIPPED = -1
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")

# The ImageNet test sets of Table 1: name -> (folder layout, the class set whose classes the set covers)
IMAGENET_EVAL_SETS: dict[str, tuple[str, str]] = {
    "val": ("wnid", "imagenet1k"),  # ILSVRC2012 val sorted into wnid folders (the usual valprep layout)
    "v2": ("index", "imagenet1k"),  # ImageNetV2 (matched-frequency): folders 0..999 = ImageNet-1K class indices
    "sketch": ("wnid", "imagenet1k"),  # ImageNet-Sketch: `sketch/<wnid>/*.JPEG`
    "r": ("wnid", "imagenet-r"),  # ImageNet-R: 200 wnid folders
    "a": ("wnid", "imagenet-a"),  # ImageNet-A: 200 wnid folders
}


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _existing_dir(root: Path | str, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise FakeitError(f"{what} root {root} does not exist")
    if not root.is_dir():
        raise FakeitError(f"{what} root {root} is not a folder")
    return root


def open_image(source: Path | str | Member) -> Image.Image:
    """The image of a file or of a tar shard's member, decoded (in its own mode)."""
    import io

    with Image.open(io.BytesIO(read_member(source)) if isinstance(source, Member) else source) as im:
        im.load()
        return im


def load_image(source: Path | str | Member) -> Image.Image | None:
    """The image (a file or a tar shard's member) as RGB, or None when it is unreadable or corrupt."""
    try:
        return open_image(source).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None


def _tensor_decoder():
    """torchvision.io's decode_image (about 15% faster than PIL for a 512-px PNG), None where torchvision no longer has
    it (deprecated since torchvision 0.29 in favour of TorchCodec: its warning is silenced; without it PIL decodes)."""
    import warnings

    try:
        from torchvision.io import ImageReadMode, decode_image
    except ImportError:
        return None

    def decode(data: bytes) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)

    return decode


_DECODER: list = []


def load_image_tensor(source: Path | str | Member) -> torch.Tensor | None:
    """The image (a file or a tar shard's member) as a (3, H, W) uint8 RGB tensor, decoded by torchvision.io (PNG,
    JPEG, WebP, GIF) or PIL (other formats, or without torchvision.io's decoder); None when unreadable."""
    import io

    if not _DECODER:
        _DECODER.append(_tensor_decoder())
    try:
        if isinstance(source, Member):
            data = read_member(source)
        else:
            with open(source, "rb") as f:
                data = f.read()
    except OSError:
        return None
    if _DECODER[0] is not None:
        try:
            return _DECODER[0](data)
        except (RuntimeError, ValueError):
            pass  # a format torchvision does not decode: PIL's turn
    try:
        with Image.open(io.BytesIO(data)) as im:
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None


def iter_manifest(folder: Path):
    """The rows of a synthetic dataset's manifest.jsonl (one a generated image), one at a time, checked: `path` a
    string, `class_index` an int, and `offset`/`length` ints for an image in a tar shard."""
    path = Path(folder) / "manifest.jsonl"
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                row["path"], row["class_index"] = str(row["path"]), int(row["class_index"])
                if "shard" in row:
                    row["offset"], row["length"] = int(row["offset"]), int(row["length"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise FakeitError(f"{path} line {lineno} is not a manifest row with path and class_index: {e}") from None
            yield row


def read_manifest(folder: Path) -> list[dict]:
    """The rows of a synthetic dataset's manifest.jsonl (one a generated image)."""
    return list(iter_manifest(folder))


def image_source(folder: Path | str, row: dict) -> str | Member:
    """Where the image of a manifest row is: its file in the clone's folder, or its member of a tar shard (rows of a
    clone stored as shards name the shard, relative to the folder, and the image's byte range in it)."""
    if "shard" in row:
        return Member(os.path.normpath(os.path.join(folder, row["shard"])), int(row["offset"]), int(row["length"]), row["path"])
    return str(Path(folder) / row["path"])


def clone_image(folder: Path | str, row: dict) -> Image.Image:
    """The image of one manifest row of a clone (either storage), decoded in its own mode."""
    return open_image(image_source(folder, row))


def clone_arrays(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grey images (N, H, W) uint8, labels, index of each image within its class) of a clone, in manifest order."""
    rows = read_manifest(folder)
    images, labels, within, seen = [], [], [], {}
    for r in rows:
        images.append(np.asarray(clone_image(folder, r).convert("L")))
        c = r["class_index"]
        labels.append(c)
        within.append(seen.get(c, 0))
        seen[c] = seen.get(c, 0) + 1
    return np.stack(images), np.asarray(labels), np.asarray(within)


def dataset_class_set_name(folder: Path) -> str | None:
    """The class set a dataset folder was made for, from its config.yaml (`classes` or `class_set`), if recorded."""
    config = read_config(folder) or {}
    value = config.get("classes", config.get("class_set"))
    return value if isinstance(value, str) else None


def folder_samples(root: Path, folder_to_label: dict[str, int] | None = None) -> tuple[list[tuple[str, int]], list[str]]:
    """(path, label) pairs of an ImageFolder tree and its class folders; labels from `folder_to_label` or sorted order."""
    folders = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not folders:
        raise FakeitError(f"dataset root {root} holds no class folders; expected one sub-folder of images per class")
    if folder_to_label is None:
        folder_to_label = {f: i for i, f in enumerate(folders)}
    unknown = [f for f in folders if f not in folder_to_label]
    if unknown:
        example = next(iter(folder_to_label))
        raise FakeitError(
            f"dataset root {root} has folder(s) {', '.join(unknown[:5])} that name no class of the class set "
            f"(expected folders such as {example!r})"
        )
    samples = []
    for f in folders:
        for dirpath, _, files in sorted(os.walk(root / f)):
            samples.extend((os.path.join(dirpath, n), folder_to_label[f]) for n in sorted(files) if _is_image(n))
    if not samples:
        raise FakeitError(f"dataset root {root} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return samples, folders


class SampleTable:
    """(image, label) pairs held in a few numpy arrays instead of a list of Python objects: 68 bytes a sample held
    instead of 2,749 for a shard clone's manifest (benchmarks/manifest_memory.py), and DataLoader workers forked from
    the training process share
    its pages (reading a Python object writes its reference count, which copies the page into every worker that
    touches it). A sequence of (path, label), or (shards.Member, label) for a clone stored as tar shards."""

    def __init__(self, prefix: str, names: np.ndarray, starts: np.ndarray, labels: np.ndarray, shard: np.ndarray,
                 shards: list[str], offsets: np.ndarray, lengths: np.ndarray):
        self.prefix, self.names, self.starts, self.labels = prefix, names, starts, labels
        self.shard, self.shards, self.offsets, self.lengths = shard, shards, offsets, lengths

    @classmethod
    def build(cls, prefix: str, entries) -> SampleTable:
        """A table of `entries`: (name relative to `prefix`, label, shard path or None, offset, length) tuples."""
        from array import array

        names, starts, labels, shard, offsets, lengths = bytearray(), array("q", [0]), array("q"), array("i"), array("q"), array("q")
        shard_ids: dict[str, int] = {}
        for name, label, shard_path, offset, length in entries:
            names += name.encode()
            starts.append(len(names))
            labels.append(label)
            shard.append(-1 if shard_path is None else shard_ids.setdefault(shard_path, len(shard_ids)))
            offsets.append(offset)
            lengths.append(length)
        arr = lambda a, dtype: np.frombuffer(a, dtype=dtype).copy() if len(a) else np.zeros(0, dtype)  # noqa: E731
        return cls(prefix, arr(names, np.uint8), arr(starts, np.int64), arr(labels, np.int64), arr(shard, np.int32),
                   list(shard_ids), arr(offsets, np.int64), arr(lengths, np.int64))

    @classmethod
    def from_pairs(cls, pairs) -> SampleTable:
        """A table of (path, label) pairs (or (shards.Member, label))."""
        return cls.build("", ((m.name, label, m.shard, m.offset, m.length) if isinstance(m, Member) else (str(m), label, None, 0, 0)
                              for m, label in pairs))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} of {len(self)}")
        i %= len(self)
        name = self.names[self.starts[i]: self.starts[i + 1]].tobytes().decode()
        label = int(self.labels[i])
        s = int(self.shard[i])
        if s >= 0:
            return Member(self.shards[s], int(self.offsets[i]), int(self.lengths[i]), name), label
        return (str(Path(self.prefix) / name) if self.prefix else name), label

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def subset(self, positions) -> SampleTable:
        """The samples at `positions`, in that order."""
        return SampleTable.build(self.prefix, (self._entry(i) for i in positions))

    def _entry(self, i: int) -> tuple:
        s = int(self.shard[i])
        return (self.names[self.starts[i]: self.starts[i + 1]].tobytes().decode(), int(self.labels[i]),
                None if s < 0 else self.shards[s], int(self.offsets[i]), int(self.lengths[i]))

    @property
    def nbytes(self) -> int:
        """The bytes its arrays hold."""
        return sum(a.nbytes for a in (self.names, self.starts, self.labels, self.shard, self.offsets, self.lengths))


def manifest_samples(root: Path) -> SampleTable:
    """The (image, label) samples of a clone's manifest.jsonl as a SampleTable, read row by row (the rows themselves,
    ~2.2 KB each as Python dicts, are never all held at once)."""

    def entries():
        for row in iter_manifest(root):
            if "shard" in row:
                yield row["path"], row["class_index"], os.path.normpath(os.path.join(root, row["shard"])), row["offset"], row["length"]
            else:
                yield row["path"], row["class_index"], None, 0, 0

    return SampleTable.build(str(root), entries())


def training_samples(root: Path | str, class_set=None) -> tuple[SampleTable, int]:
    """(image, label) pairs of a training dataset folder and the number of classes of its label space; an image is a
    file path, or a `shards.Member` for a clone stored as tar shards.

    Labels come from manifest.jsonl `class_index` when present; otherwise folders are mapped through the class
    set's `folder` names (or sorted-folder order when no class set is known).
    """
    root = _existing_dir(root, "dataset")
    if (root / "manifest.jsonl").exists():
        samples = manifest_samples(root)
        if not len(samples):
            raise FakeitError(f"{root / 'manifest.jsonl'} is empty")
        top = int(samples.labels.max())
        num_classes = len(class_set) if class_set is not None else top + 1
        if top >= num_classes or int(samples.labels.min()) < 0:
            raise FakeitError(f"{root}/manifest.jsonl has class_index {top}, outside class set {class_set.name} (0..{num_classes - 1})")
        return samples, num_classes
    if class_set is not None:
        mapping = {c.folder: c.index for c in class_set}
        samples, _ = folder_samples(root, mapping)
        return SampleTable.from_pairs(samples), len(class_set)
    samples, folders = folder_samples(root)
    return SampleTable.from_pairs(samples), len(folders)


@dataclass(frozen=True)
class EvalSet:
    """A real test set, with each image labelled by its ImageNet-1K wnid's position in `wnids`."""

    name: str
    samples: list[tuple[str, int]]  # (path, index into wnids)
    wnids: list[str]  # the classes the test set covers (200 for R/A, 1000 for val/v2/sketch)


def imagenet_eval_set(name: str, root: Path | str) -> EvalSet:
    """An ImageNet test set (val, v2, sketch, r, a) read from its usual layout under `root`."""
    if name not in IMAGENET_EVAL_SETS:
        raise FakeitError(f"unknown ImageNet test set {name!r}; valid: {', '.join(IMAGENET_EVAL_SETS)}")
    layout, set_name = IMAGENET_EVAL_SETS[name]
    root = _existing_dir(root, f"ImageNet-{name}")
    covered = load_class_set(set_name)
    wnids = [c.wnid for c in covered]
    position = {w: i for i, w in enumerate(wnids)}
    if layout == "wnid":
        if name == "sketch" and not any(is_wnid(e.name) for e in os.scandir(root)) and (root / "sketch").is_dir():
            root = root / "sketch"
        folder_to_label = position
        example = "n01440764"
    else:  # v2: folder k holds images of ImageNet-1K class k
        in1k = load_class_set("imagenet1k")
        folder_to_label = {str(c.index): position[c.wnid] for c in in1k}
        example = "0 .. 999"
    folders = [e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")]
    if not folders or not any(f in folder_to_label for f in folders):
        raise FakeitError(
            f"ImageNet-{name} root {root} does not have the expected layout: one folder per class named like "
            f"{example} ({covered.name} classes); found {', '.join(sorted(folders)[:5]) or 'no folders'}"
        )
    samples, _ = folder_samples(root, folder_to_label)
    return EvalSet(name=name, samples=samples, wnids=wnids)


def export_fashion_mnist(out: Path | str, split: str = "train", per_class: int | None = 100,
                         folders: dict[str, int] | None = None) -> Path:
    """A real Fashion-MNIST subset written like a synthetic clone (class folders, manifest.jsonl, DONE); reused if done.

    Takes the first `per_class` images of each class in the official order (None: all of them); labels are the
    official ones. `folders` (folder name -> official label) keeps only those classes, in folders so named and
    labelled in that order (a user's class file naming Fashion-MNIST classes its own way).
    """
    from ..core.store import atomic_write_text, claim_folder, code_version, is_done, mark_done

    out = Path(out)
    config = {"source": "fashion-mnist", "split": split, "per_class": per_class, "class_set": "fashion-mnist",
              "code": code_version("fakeit_lib.datasets.images")}
    if folders is not None:
        config["folders"] = dict(folders)
    if is_done(out):
        claim_folder(out, config)  # refuses a folder made with another config
        return out
    claim_folder(out, config)
    classes = load_class_set("fashion-mnist")
    kept = {label: (name, position) for position, (name, label) in enumerate((folders or {}).items())} if folders \
        else {c.index: (c.folder, c.index) for c in classes}
    ds = fashion_mnist(split)
    counts = {label: 0 for label in kept}
    rows = []
    for i, label in enumerate(ds.targets.tolist()):
        if label not in kept or (per_class is not None and counts[label] >= per_class):
            continue
        folder, index = kept[label]
        rel = f"{folder}/{split}-{i:05d}.png"
        (out / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.data[i].numpy()).save(out / rel)
        rows.append({"path": rel, "class_index": index, "wnid": classes[label].wnid, "source": f"fashion-mnist/{split}/{i}"})
        counts[label] += 1
        if per_class is not None and min(counts.values()) >= per_class:
            break
    atomic_write_text(out / "manifest.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    mark_done(out, {"images": len(rows)})
    return out
