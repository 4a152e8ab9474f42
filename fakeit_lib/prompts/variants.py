"""Text prompts for synthetic clones, built from class names and WordNet (paper Sec. 4).

Variants, by stable name (c: the synset's lemmas joined by ", ", underscores as spaces):
- `c`: "c" (Fig. 2b);  `c_hc`: "c, h_c" (Fig. 2c);  `c_dc`: "c, d_c" (Fig. 2d);
- `c_hc_inside_b`: "c, h_c inside b", one prompt per class and Places365 scene b (Fig. 2f);
- `clip`: "a photo of a c" ("an" before a vowel), the CLIP prompt template the paper compares against;
- `c_hc_inside_b_matched`: "c, h_c inside b" with b one of the class's `backgrounds.MATCHED_K` scenes most similar to
  its description (beyond the paper: its Sec. 4.3 future work; see fakeit_lib.prompts.backgrounds).
h_c, "the class name(s) of the parent node(s)": the first lemma of each parent synset (hypernyms, then instance
hypernyms, in WordNet's order) joined by ", ". Most ImageNet synsets have one parent; e.g. papillon -> "toy spaniel".
d_c: the synset's WordNet gloss, as is.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import atomic_write_text
from ..datasets.classes import BUILTIN_SETS, ClassInfo, ClassSet, load_class_set
from .scenes import load_scenes

PAPER_VARIANTS = ("c", "c_hc", "c_dc", "c_hc_inside_b", "clip")  # the prompts of the paper (Sec. 4)
MATCHED = "c_hc_inside_b_matched"  # beyond the paper: backgrounds matched to the class
VARIANTS = PAPER_VARIANTS + (MATCHED,)
BACKGROUND_VARIANTS = ("c_hc_inside_b", MATCHED)  # one prompt per class and scene
# how a reader sees each variant: in words, in every label, legend and sentence of the book (the codes are for code)
@dataclass(frozen=True)
class Prompt:
    """One text prompt for one class (and, for background prompts, one scene)."""

    class_index: int  # label of the class in its class set
    wnid: str | None  # WordNet id of the class, None outside WordNet
    variant: str  # one of VARIANTS
    text: str  # the prompt given to the text-to-image model
    scene: str | None = None  # readable Places365 scene for the background variants, else None

    def to_dict(self) -> dict:
        """The prompt as a plain dict (JSON-ready)."""
        return asdict(self)


def class_text(c: ClassInfo) -> str:
    """c: the class's lemmas joined by ", "."""
    return ", ".join(c.lemmas)


def hypernym_text(c: ClassInfo) -> str:
    """h_c: the first lemma of each parent synset, joined by ", "."""
    if not c.hypernyms:
        raise FakeitError(
            f"class {c.name!r} has no parent (hypernym), so variants with h_c cannot be built; "
            "give it one as a third tab-separated column of the class file, or use variant c, c_dc or clip"
        )
    return ", ".join(p[0] for p in c.hypernyms)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def prompt_texts(c: ClassInfo, variant: str, scenes: tuple[str, ...] | None = None) -> list[tuple[str, str | None]]:
    """The (text, scene) pairs of one class for one variant; `scenes` overrides a background variant's scenes."""
    if variant == "c":
        return [(class_text(c), None)]
    if variant == "c_hc":
        return [(f"{class_text(c)}, {hypernym_text(c)}", None)]
    if variant == "c_dc":
        if not c.definition:
            raise FakeitError(f"class {c.name!r} has no definition; give it a description or use variant c or c_hc")
        return [(f"{class_text(c)}, {c.definition}", None)]
    if variant == "c_hc_inside_b":
        head = f"{class_text(c)}, {hypernym_text(c)}"
        return [(f"{head} inside {b}", b) for b in (scenes or load_scenes())]
    if variant == MATCHED:
        from .backgrounds import matched_scenes

        head = f"{class_text(c)}, {hypernym_text(c)}"
        return [(f"{head} inside {b}", b) for b in (scenes or matched_scenes([c])[c.index])]
    if variant == "clip":
        return [(f"a photo of {_article(class_text(c))} {class_text(c)}", None)]
    raise FakeitError(f"unknown prompt variant {variant!r}; valid: {', '.join(VARIANTS)}")


def check_variant(variant: str) -> str:
    """The variant, if valid; else a FakeitError naming the valid ones."""
    if variant not in VARIANTS:
        raise FakeitError(f"unknown prompt variant {variant!r}; valid: {', '.join(VARIANTS)}")
    return variant


def build_prompts(class_set: ClassSet, variant: str) -> list[Prompt]:
    """All prompts of a class set for one variant, in class order (then scene order for backgrounds)."""
    check_variant(variant)
    if variant == MATCHED:  # every class's scenes at once: one lookup, or one batch through the embedding model
        from .backgrounds import matched_scenes

        for c in class_set:
            hypernym_text(c)  # a class without a parent fails here, before any embedding is computed
        scenes = matched_scenes(class_set)
        return [Prompt(c.index, c.wnid, variant, text, scene) for c in class_set
                for text, scene in prompt_texts(c, variant, scenes[c.index])]
    return [
        Prompt(c.index, c.wnid, variant, text, scene)
        for c in class_set
        for text, scene in prompt_texts(c, variant)
    ]


def prompts_jsonl(prompts: list[Prompt]) -> str:
    """Prompts as JSON lines."""
    return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in prompts)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fakeit prompts`."""
    parser.add_argument("--classes", required=True, metavar="SET", help=f"{', '.join(BUILTIN_SETS)} or a class file")
    parser.add_argument("--variant", required=True, metavar="V", help=f"one of {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path, help="write JSON lines to this file (default: standard output)")


def run(args: argparse.Namespace) -> int:
    """`fakeit prompts`: write the prompts as JSON lines."""
    check_variant(args.variant)
    text = prompts_jsonl(build_prompts(load_class_set(args.classes), args.variant))
    if args.out:
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
