"""Chapter prompts (paper Sec. 4): the prompt variants of a class set, the paper's examples, counts and lengths."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from ..core.errors import FakeitError
from ..datasets.classes import BUILTIN_SETS, ClassInfo, class_set_name, load_class_set, sample_classes
from ..experiments.params import shared
from ..paper.results import PAPER_EXAMPLES, variant_name
from ..prompts.backgrounds import MATCHED_K, matched_frame  # noqa: F401 (MATCHED_K: the page states it)
from ..prompts.scenes import load_scenes
from ..prompts.variants import BACKGROUND_VARIANTS, PAPER_VARIANTS, build_prompts, check_variant, prompt_texts


@dataclass
class PromptsParams:
    """Parameters of the prompts notebook (paper Sec. 4)."""

    scale: str = shared("scale")  # label of the preset this ran with: smoke, mini or paper
    class_set: str = shared("class_set")  # class set whose prompts are counted and sampled; paper: ImageNet-100 and -1K
    variants: list[str] = shared("variants")  # prompt variants to show
    example_wnids: list[str] = dataclasses.field(default_factory=lambda: list(PAPER_EXAMPLES))  # paper's Fig. 2 classes
    sample_size: int = 5  # random classes of class_set to show
    scenes_shown: int = 3  # background prompts shown per class for c_hc_inside_b
    seed: int = shared("seed")  # seed of the random sample

    def validate(self) -> None:
        for v in self.variants:
            check_variant(v)
        if self.sample_size < 0 or self.scenes_shown < 1:
            raise FakeitError(f"sample_size must be >= 0 and scenes_shown >= 1, got {self.sample_size}, {self.scenes_shown}")


def prompt_rows(classes: list[ClassInfo], variants: list[str], scenes_shown: int = 3) -> list[dict]:
    """Rows (WordNet ID, class, variant in words, prompt) for some classes; background prompts cut to `scenes_shown`
    scenes."""
    scenes = load_scenes()[:scenes_shown]
    rows = []
    for c in classes:
        for v in variants:
            for text, _ in prompt_texts(c, v, scenes if v == "c_hc_inside_b" else None)[:scenes_shown]:
                rows.append({"WordNet ID": c.wnid, "class": c.name, "variant": variant_name(v), "prompt": text})
    return rows


def prompt_counts(set_names: list[str], variants: list[str]) -> list[dict]:
    """Number of classes and of prompts per variant for each named class set (named in words: `ImageNet-100`)."""
    rows = []
    for name in set_names:
        cs = load_class_set(name)
        row = {"class set": class_set_name(name), "classes": len(cs)}
        for v in variants:
            row[v] = len(build_prompts(cs, v))
        rows.append(row)
    return rows


def examples_frame(p: PromptsParams) -> pd.DataFrame:
    """The prompts of the paper's Fig. 2 classes (ImageNet-1K wnids), every variant."""
    in1k = load_class_set("imagenet1k")
    return pd.DataFrame(prompt_rows([in1k.by_wnid(w) for w in p.example_wnids], p.variants, p.scenes_shown))


def hypernym_prompt(wnid: str = "n02086910") -> str:
    """The `c, h_c` prompt of one ImageNet-1K class (default: papillon, the paper's Sec. 4.2 example)."""
    return prompt_texts(load_class_set("imagenet1k").by_wnid(wnid), "c_hc")[0][0]


def sample_frame(p: PromptsParams) -> pd.DataFrame:
    """One prompt per variant for a seeded random sample of the class set."""
    cs = load_class_set(p.class_set)
    return pd.DataFrame(prompt_rows(sample_classes(cs, p.sample_size, p.seed), p.variants, 1))


def counts_frame(p: PromptsParams) -> pd.DataFrame:
    """Classes and prompts per variant of every built-in class set and of the chosen one."""
    counts = pd.DataFrame(prompt_counts(sorted(set(BUILTIN_SETS) | {p.class_set}), p.variants))
    return counts.rename(columns={v: variant_name(v) for v in p.variants})


def background_prompts(p: PromptsParams) -> int:
    """How many background prompts (`c, h_c inside b`, one per class and scene) the chosen class set has (0 when that
    variant is not shown)."""
    if "c_hc_inside_b" not in p.variants:
        return 0
    return len(build_prompts(load_class_set(p.class_set), "c_hc_inside_b"))


def background_note(p: PromptsParams) -> str:
    """The sentence on the chosen class set's background prompts, in words whatever their number."""
    n = background_prompts(p)
    if n == 0:
        return ("This run shows no background prompts (the variant class name + hypernym + background is not among "
                "its variants).")
    return (f"The chosen class set has {n:,} background prompts, one per class and scene; the generator assigns "
            "scenes to a class's images in turn, so a clone with as many images per class as ImageNet shows every "
            "scene several times.")


def lengths_figure(p: PromptsParams):
    """Words per prompt of every class of the chosen set, one strip per variant (one prompt per class and variant;
    the background variants are left out, their length is that of `c, h_c` plus a scene)."""
    import plotly.express as px

    cs = load_class_set(p.class_set)
    rows = pd.DataFrame([q.to_dict() for v in p.variants if v not in BACKGROUND_VARIANTS for q in build_prompts(cs, v)])
    rows["words"] = rows.text.str.split().str.len()
    rows["prompt"] = rows.variant.map(lambda v: variant_name(v).replace(" + ", " +<br>"))  # short lines on a phone
    fig = px.strip(rows, x="prompt", y="words", hover_data=["text"], color="prompt",
                   title=f"Words per prompt, {class_set_name(p.class_set)} ({len(cs)} classes)")
    fig.update_layout(showlegend=False, height=420, xaxis_title="prompt variant", yaxis_title="prompt length (words)")
    return fig


def matched_examples(p: PromptsParams, shown: int = 5) -> pd.DataFrame:
    """The `shown` nearest matched scenes of a sample of ImageNet-100 classes."""
    return matched_frame(sample_classes(load_class_set("imagenet100"), max(p.sample_size, 8), p.seed), shown)


def matched_fashion(shown: int = 5) -> pd.DataFrame:
    """The `shown` nearest matched scenes of the ten Fashion-MNIST classes."""
    return matched_frame(list(load_class_set("fashion-mnist")), shown)
