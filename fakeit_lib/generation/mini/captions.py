"""Web-like training captions for the mini generator: names, parents and what each image shows, never a prompt.

Stable Diffusion learnt from LAION's alt-texts, not from the prompts the paper later gives it. The mini generator's
captions imitate that: per image and per training step, a caption is drawn from
- a name of the class: one of its WordNet lemmas or a word of its Fashion-MNIST label ("jersey", "tee shirt",
  "top", "ankle boot"), sometimes plural; left out of `no_name_share` of the captions;
- sometimes a word of a parent or grandparent synset ("garment", "footwear", "container");
- attributes computed from the image's pixels (`image_attributes`): brightness, size, shape, texture and, for tops,
  sleeve length ("dark", "large", "wide", "patterned", "long sleeves");
- sometimes a web filler ("product photo", "for sale") or a place ("in a bedroom", a Places365 scene);
in random order, joined by commas or spaces. No WordNet gloss and no prompt template ever appears as a whole, so
the book's prompt variants `c`, `c, h_c`, `c, d_c` and `c, h_c inside b` are inputs the generator never saw.
`caption_vocabulary` lists every word a caption can hold; `seen_word_share` says how much of a prompt it covers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch

from ...prompts.scenes import load_scenes

# Class-independent words of product listings on the web.
FILLERS = (
    "photo", "a photo of", "product photo", "catalog image", "for sale", "new", "fashion", "online shop",
    "women's", "men's", "picture", "image", "buy now", "classic", "casual",
)
PLACE_PREPOSITIONS = ("in", "inside", "at")
TOP_CLASSES = (0, 2, 4, 6)  # Fashion-MNIST's upper-body garments: T-shirt/top, pullover, coat, shirt
INK = 0.1  # a pixel above this grey level (in [0, 1]) belongs to the object


@dataclass(frozen=True)
class CaptionConfig:
    """How often each part of a caption appears (the shipped generator's values are the defaults)."""

    no_name_share: float = 0.15  # captions with no name of the class (only parents, attributes, fillers)
    parent_share: float = 0.35  # captions with a parent or grandparent word
    attribute_share: float = 0.5  # chance that each attribute of the image is mentioned
    filler_share: float = 0.25  # captions with a web filler
    place_share: float = 0.08  # captions with a place ("in a kitchen")
    plural_share: float = 0.2  # names given in the plural


def attribute_thresholds(images: torch.Tensor) -> dict[str, list[float]]:
    """Tercile cut points of each measured attribute over a set of (N, 1, 28, 28) images in [0, 1]."""
    m = _measures(images)
    q = torch.tensor([1 / 3, 2 / 3])
    return {k: [round(float(v), 4) for v in torch.quantile(m[k], q)] for k in ("area", "brightness", "texture", "aspect")}


def _measures(images: torch.Tensor) -> dict[str, torch.Tensor]:
    x = images[:, 0] if images.ndim == 4 else images
    ink = x > INK
    n_ink = ink.sum((1, 2)).clamp(min=1).float()
    pairs = ink[:, :, 1:] & ink[:, :, :-1]
    rows = ink.any(2).float()
    cols = ink.any(1).float()
    width_top = ink[:, 3:9].sum(2).float().amax(1)
    width_low = ink[:, 19:24].sum(2).float().mean(1)
    return {
        "area": ink.float().mean((1, 2)),  # share of the 28x28 frame the object covers
        "brightness": (x * ink).sum((1, 2)) / n_ink,  # mean grey level of the object
        "texture": ((x[:, :, 1:] - x[:, :, :-1]).abs() * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp(min=1),
        "aspect": rows.sum(1) / cols.sum(1).clamp(min=1),  # bounding-box height over width
        "sleeves": width_low / width_top.clamp(min=1),  # lower-body width over shoulder width (tops only)
    }


def image_attributes(images: torch.Tensor, labels: torch.Tensor, thresholds: dict[str, list[float]]) -> list[list[str]]:
    """Per image, the attribute phrases its pixels support (terciles of `thresholds`; sleeves for tops only)."""
    m = _measures(images)
    words = {"area": ("small", "large"), "brightness": ("dark", "light"), "texture": ("plain", "patterned"),
             "aspect": ("wide", "tall")}
    out: list[list[str]] = [[] for _ in range(len(labels))]
    for key, (low, high) in words.items():
        lo, hi = thresholds[key]
        for i, v in enumerate(m[key].tolist()):
            if v < lo:
                out[i].append(low)
            elif v > hi:
                out[i].append(high)
    for i, (y, r) in enumerate(zip(labels.tolist(), m["sleeves"].tolist())):
        if y in TOP_CLASSES:
            if r < 0.8:
                out[i].append("short sleeves")
            elif r > 0.95:
                out[i].append("long sleeves")
    return out


def class_names(lemmas: list[str], label: str | None) -> list[str]:
    """Names a web caption could use for a class: its WordNet lemmas and the words of its dataset label."""
    names = [l.lower() for l in lemmas]
    for part in (label or "").split("/"):
        part = part.strip().lower()
        if part and part not in names:
            names.append(part)
    return names


def parent_words(hypernyms: list[list[str]], grandparents: list[list[str]]) -> list[str]:
    """The first two lemmas of each parent and grandparent synset (underscores as spaces)."""
    words: list[str] = []
    for synset in list(hypernyms) + list(grandparents):
        for lemma in synset[:2]:
            w = lemma.replace("_", " ").lower()
            if w not in words:
                words.append(w)
    return words


def _plural(name: str) -> str:
    return name if name.endswith("s") else name + ("es" if name.endswith(("sh", "ch", "x")) else "s")


class CaptionSampler:
    """Draws a web-like caption per image from a seeded generator; one instance per class set and image set."""

    def __init__(self, names: list[list[str]], parents: list[list[str]], scenes: tuple[str, ...],
                 attributes: list[list[str]], config: CaptionConfig | None = None):
        self.names, self.parents, self.scenes, self.attributes = names, parents, scenes, attributes
        self.config = config or CaptionConfig()

    def caption(self, image_index: int, label: int, rng: random.Random) -> str:
        """One caption for image `image_index` of class `label`."""
        cfg = self.config
        parts: list[str] = []
        if rng.random() >= cfg.no_name_share:
            name = rng.choice(self.names[label])
            parts.append(_plural(name) if rng.random() < cfg.plural_share else name)
        if self.parents[label] and rng.random() < cfg.parent_share:
            parts.append(rng.choice(self.parents[label]))
        parts.extend(a for a in self.attributes[image_index] if rng.random() < cfg.attribute_share)
        if rng.random() < cfg.filler_share:
            parts.append(rng.choice(FILLERS))
        if self.scenes and rng.random() < cfg.place_share:
            parts.append(f"{rng.choice(PLACE_PREPOSITIONS)} {rng.choice(self.scenes)}")
        if not parts:  # a caption with no name still says something about the image
            parts.append(rng.choice(self.attributes[image_index] or self.parents[label] or list(FILLERS)))
        rng.shuffle(parts)
        return rng.choice((", ", " ")).join(parts)

    def captions(self, indices: list[int], labels: list[int], seed: int) -> list[str]:
        """Captions of a batch, reproducible from `seed` alone."""
        rng = random.Random(seed)
        return [self.caption(i, y, rng) for i, y in zip(indices, labels)]

    def vocabulary(self) -> set[str]:
        """Every word a caption can contain."""
        texts = [n for ns in self.names for n in ns] + [_plural(n) for ns in self.names for n in ns]
        texts += [p for ps in self.parents for p in ps] + list(FILLERS) + list(PLACE_PREPOSITIONS)
        texts += list(self.scenes) + [a for attrs in self.attributes for a in attrs]
        return {w for t in texts for w in words_of(t)}


def words_of(text: str) -> list[str]:
    """The lower-case words of a text (letters, digits, apostrophes and hyphens inside words)."""
    return re.findall(r"[a-z0-9]+(?:['\-][a-z0-9]+)*", text.lower())


def seen_word_share(text: str, vocabulary: set[str]) -> float:
    """The share of a text's words that a caption could contain (1.0 for a text with no words)."""
    words = words_of(text)
    return sum(w in vocabulary for w in words) / len(words) if words else 1.0


def fashion_mnist_caption_sampler(images: torch.Tensor, labels: torch.Tensor,
                                  config: CaptionConfig | None = None) -> tuple[CaptionSampler, dict]:
    """The caption sampler of the mini generator's training images, and the thresholds its attributes used."""
    from ...datasets.classes import load_class_set
    from ...datasets.wordnet import synset_of_wnid

    class_set = load_class_set("fashion-mnist")
    names = [class_names(c.lemmas, c.label) for c in class_set]
    parents = []
    for c in class_set:
        synset = synset_of_wnid(c.wnid)
        grand = [g.lemma_names() for h in synset.hypernyms() for g in h.hypernyms()]
        parents.append(parent_words(c.hypernyms, grand))
    thresholds = attribute_thresholds(images)
    attributes = image_attributes(images, labels, thresholds)
    return CaptionSampler(names, parents, load_scenes(), attributes, config), thresholds


def generator_captions(generator: str) -> dict | None:
    """What a generator's training captions were (`training/captions.json` of the mini generator), or None when the
    project did not train it (Stable Diffusion learnt from LAION's web captions; their content is not ours to list)."""
    import json
    from pathlib import Path

    from .model import mini_generator_path

    folder = mini_generator_path() if generator == "mini" else Path(generator).expanduser()
    path = folder / "training" / "captions.json"
    return json.loads(path.read_text()) if path.is_file() else None


def prompt_word_shares(captions: dict, class_set: str, variants: list[str]) -> dict[str, float]:
    """Per prompt variant: the share of its prompts' words that appeared in the generator's training captions."""
    from ...datasets.classes import load_class_set
    from ...prompts.variants import build_prompts

    vocabulary = set(captions.get("vocabulary", []))
    cs = load_class_set(class_set)
    out = {}
    for v in variants:
        texts = [p.text for p in build_prompts(cs, v)]
        out[v] = sum(seen_word_share(t, vocabulary) for t in texts) / len(texts)
    return out


def generator_summary(generator: str) -> str:
    """One sentence on what a generator learnt from, computed from its record (or a note that it is not ours)."""
    captions = generator_captions(generator)
    if captions is None:
        return (f"The generator `{generator}` was not trained by this project: its training data (for Stable Diffusion "
                "v1.4, LAION-5B image-text pairs) is its authors' to describe.")
    variants = captions.get("prompt_variants_as_captions", [])
    learnt = (f"the prompt variants {', '.join(variants)} themselves were its captions, so the book's prompt comparisons "
              "cannot test it" if variants else "none of the book's prompt variants was a caption as such")
    return (f"The `{generator}` generator learnt from {captions.get('training_images', 'its training images')}, "
            f"captioned with {caption_source(captions)} ({len(captions.get('vocabulary', []))} distinct "
            f"words); {learnt}.")


def caption_source(captions: dict) -> str:
    """How a generator's record says its captions were made, for a reader: without the source file it names in
    parentheses (`... per image and step (fakeit_lib/x.py), ...`)."""
    import re

    return re.sub(r" \([\w./-]+\.py\)", "", captions["caption_source"])
