"""Chapter own_dataset: a user's class file through the paper's protocol with the library's own functions: prompts,
a synthetic clone, classifiers trained from scratch on it (per seed), and a test on the user's real images.

The shipped example (`data/footwear_shop.tsv`) is three classes a footwear shop describes in its own words; at the
mini scale they are drawn by the mini generator and tested on the real Fashion-MNIST test images of the same three
kinds of shoe, exported into class folders named as the class file names them (`example_test_set`).
"""

from __future__ import annotations

import importlib.resources
import shlex
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.errors import FakeitError
from ..core.params import from_dict
from ..core.store import code_version, stage_dir
from ..datasets.classes import load_class_set
from ..experiments.params import PipelineParams, shared
from ..experiments.stages import synthetic_clone, trained_checkpoint
from ..paper.results import variant_name
from ..prompts.variants import build_prompts, check_variant

EXAMPLE = "footwear_shop.tsv"
# the example's classes (their folders) -> the Fashion-MNIST test label of the same kind of shoe
EXAMPLE_LABELS = {"sandal": 5, "sneaker": 7, "ankle_boot": 9}


@dataclass
class OwnDatasetParams:
    """Parameters of the clone-your-own-dataset chapter (defaults: the paper's settings for a new class set)."""

    scale: str = shared("scale")  # label of the preset this ran with: smoke, mini or paper
    class_file: str = ""  # your classes: one wnid a line, or name<TAB>description[<TAB>parent]; "": the footwear-shop example
    test_root: str = ""  # your real test images, one folder per class; "": the example's Fashion-MNIST test images
    generator: str = shared("generator")  # diffusers model (hub id or folder) or "mini"; paper: SD v1.4
    steps: int = shared("steps")  # denoising steps; paper: 50
    gen_batch_size: int = shared("gen_batch_size")  # images per generator call (part of a dataset's identity: fixed batches)
    best_variant: str = shared("best_variant")  # prompt variant of the clone; paper's best: c_dc
    best_guidance: float = shared("best_guidance")  # guidance scale of the clone; paper's best: 2.0
    own_images_per_class: int = 1300  # synthetic images per class; paper: as many as the real set (ImageNet: ~1,300)
    recipe: str = shared("recipe")  # training recipe: paper (ResNet-50, multi-crop, 100 epochs), mini or smoke
    seed: int = shared("seed")  # seeds generation: the synthetic set is fixed whatever the training seeds
    train_seeds: list[int] = shared("train_seeds")  # one model per seed; paper: [0]
    own_seeds: int = 0  # train only the first N of train_seeds here (0: all); this page checks no paper finding

    def validate(self) -> None:
        check_variant(self.best_variant)
        if self.own_images_per_class < 1 or self.own_seeds < 0 or not self.train_seeds:
            raise FakeitError(f"own_images_per_class ({self.own_images_per_class}) must be >= 1, own_seeds "
                              f"({self.own_seeds}) >= 0 and train_seeds ({self.train_seeds}) non-empty")
        if bool(self.class_file) != bool(self.test_root):
            raise FakeitError("give class_file and test_root together (your classes and your real test images), or "
                              f"neither for the shipped example; got class_file={self.class_file!r}, test_root={self.test_root!r}")

    @property
    def seeds(self) -> list[int]:
        """The training seeds of this chapter."""
        return self.train_seeds[: self.own_seeds] if self.own_seeds else list(self.train_seeds)


def example_class_file() -> Path:
    """The shipped example class file (a footwear shop's three kinds of shoe, in its own words)."""
    return Path(str(importlib.resources.files("fakeit_lib") / "data" / EXAMPLE))


def class_file(p: OwnDatasetParams) -> str:
    """The class file this page clones."""
    return p.class_file or str(example_class_file())


def not_run_reason(p: OwnDatasetParams) -> str | None:
    """Why nothing is computed with these parameters (the example needs the mini generator), or None."""
    if not p.class_file and p.generator != "mini":
        return (f"the shipped example is made for the mini generator (its test images are Fashion-MNIST's 28x28 "
                f"photographs) and this build's generator is {p.generator}; give class_file and test_root to clone "
                "your own classes with it")
    return None


def example_test_set() -> Path:
    """The real Fashion-MNIST test images of the example's classes, in folders named as its class file names them
    (a cached stage under the output root, written by the library's Fashion-MNIST export)."""
    from ..datasets.images import export_fashion_mnist

    folders = [c.folder for c in load_class_set(str(example_class_file()))]
    if sorted(folders) != sorted(EXAMPLE_LABELS):
        raise FakeitError(f"the example class file's folders {folders} differ from {sorted(EXAMPLE_LABELS)}")
    config = {"split": "test", "folders": EXAMPLE_LABELS, "code": code_version("fakeit_lib.datasets.images")}
    return export_fashion_mnist(stage_dir("real-fashion-mnist-test-footwear", config), "test", None, EXAMPLE_LABELS)


def test_root(p: OwnDatasetParams) -> str:
    """The real test images this page tests on."""
    return p.test_root or str(example_test_set())


def pipeline_params(p: OwnDatasetParams) -> PipelineParams:
    """The shared pipeline's parameters for this class file (the same stages as every chapter)."""
    return from_dict(PipelineParams, dict(scale=p.scale, class_set=class_file(p), generator=p.generator, steps=p.steps,
                                          gen_batch_size=p.gen_batch_size, images_per_class=p.own_images_per_class,
                                          recipe=p.recipe, seed=p.seed, train_seeds=p.seeds))


def prompts_frame(p: OwnDatasetParams) -> pd.DataFrame:
    """The class file's classes and the prompt each gets."""
    cs = load_class_set(class_file(p))
    prompts = build_prompts(cs, p.best_variant)
    return pd.DataFrame([{"class": cs[q.class_index].name, "folder": cs[q.class_index].folder,
                          "description": cs[q.class_index].definition, f"prompt ({variant_name(p.best_variant)})": q.text}
                         for q in prompts])


def own_clone(p: OwnDatasetParams) -> Path:
    """The synthetic clone of the class file (generated unless finished)."""
    return synthetic_clone(pipeline_params(p), p.best_variant, p.best_guidance)


def own_models(p: OwnDatasetParams, clone: Path) -> list[Path]:
    """One classifier per seed, trained from scratch on the clone (trained unless finished)."""
    pp = pipeline_params(p)
    return [trained_checkpoint(pp, clone, s) for s in p.seeds]


def own_results(p: OwnDatasetParams, checkpoints: list[Path]) -> list[dict]:
    """Each model's top-1/top-5 on the real test images (suite folder of `fakeit evaluate`)."""
    from ..evaluation.evaluate import EvalConfig, evaluate

    return [evaluate(from_dict(EvalConfig, dict(checkpoint=str(c), suite="folder", test_root=test_root(p),
                                                class_set=class_file(p)))) for c in checkpoints]


def results_frame(p: OwnDatasetParams, results: list[dict]) -> pd.DataFrame:
    """Per seed: top-1 and top-5 (%) on the real test images, the number of images, and chance level."""
    rows = []
    for s, r in zip(p.seeds, results):
        d = next(iter(r["datasets"].values()))
        row = {"training seed": s, "trained on": f"{p.own_images_per_class} synthetic images a class, no real image",
               "real test images": d["images"], "classes": d["classes"], "top-1 (%)": round(100 * d["top1"], 1)}
        if d["classes"] > 5:  # with five classes or fewer top-5 is 100% by construction
            row["top-5 (%)"] = round(100 * d["top5"], 1)
        rows.append({**row, "chance top-1 (%)": round(100 / d["classes"], 1)})
    return pd.DataFrame(rows)


def result_line(p: OwnDatasetParams, results: list[dict]) -> str:
    """The page's result in one sentence, for the top of the page (from the run's numbers, as the table below shows
    them): top-1 on the real test images against chance; or why nothing ran."""
    reason = not_run_reason(p)
    if reason or not results:
        return f"nothing was generated or trained at the {p.scale} scale ({reason or 'no classifier was trained'})."
    table = results_frame(p, results)
    top1, chance = table["top-1 (%)"], table["chance top-1 (%)"].iloc[0]
    images, classes = int(table["real test images"].iloc[0]), int(table["classes"].iloc[0])
    if len(table) == 1:
        score = f"reaches {top1.iloc[0]:.1f}% top-1"
    else:
        score = f"reaches {top1.mean():.1f}% top-1 on average over {len(table)} training seeds ({top1.min():.1f} to {top1.max():.1f})"
    return (f"at the {p.scale} scale, a classifier trained only on {p.own_images_per_class:,} synthetic images of each "
            f"of the {classes} classes, never on a real one, {score} on {images:,} real test images, against "
            f"{chance:.1f}% by chance.")


def run_note(p: OwnDatasetParams, results: list[dict]) -> str:
    """What this page computed, in one sentence: the scale, the test images, the seeds; or why nothing ran."""
    reason = not_run_reason(p)
    if reason:
        return f"Nothing was generated or trained here: {reason}. The commands below do it by hand."
    test = p.test_root or "the real Fashion-MNIST test images of sandals, sneakers and ankle boots"
    trained = "one classifier" if len(results) == 1 else f"{len(results)} classifiers"
    seeds = ("one training seed, so no interval" if len(p.seeds) == 1 else
             f"{len(p.seeds)} training seeds ({', '.join(map(str, p.seeds))})")
    if len(p.seeds) < len(p.train_seeds):
        seeds += "; this page checks no finding of the paper, so it trains fewer seeds than the others"
    return f"At the {p.scale} scale: {trained} trained only on the synthetic clone, tested on {test} ({seeds})."


WIDTH = 42  # characters a command line holds in a phone's code block (420 px) before it would wrap


def shell_lines(words: list[str], width: int = WIDTH) -> str:
    """One command as shell lines of at most `width` characters where its words allow: continued with ` \\` and
    indented, each break between two words (an option stays beside its value unless the two are too long for one
    line), so that nothing wraps at a hyphen."""
    fits = lambda word: len(f"    {word} \\") <= width
    split = lambda word: [word] if fits(word) or " " not in word else [word.split(" ", 1)[0], "    " + word.split(" ", 1)[1]]
    words = [words[0]] + [part for word in words[1:] for part in split(word)]  # a long value on its own, indented
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + len(f" {word} \\") > width:  # the word and the continuation would not fit
            lines.append("    " + word)
        else:
            lines[-1] += " " + word
    return " \\\n".join(lines)


def commands(p: OwnDatasetParams) -> str:
    """The command lines that do this page's stages by hand, at the paper's settings (your classes, your GPUs), each
    broken into short lines with ` \\` (shell_lines) so that a phone's screen shows whole options."""
    classes = shlex.quote(p.class_file or "my_classes.tsv")
    test = shlex.quote(p.test_root or "my_test_images/")
    return "\n".join(shell_lines(words) for words in [
        ["fakeit prompts", f"--classes {classes}", f"--variant {p.best_variant}"],
        ["fakeit generate", f"--classes {classes}", f"--variant {p.best_variant}", f"--guidance {p.best_guidance:g}",
         "--generator CompVis/stable-diffusion-v1-4", "--images-per-class 1300", "--out my_clone/"],
        ["fakeit train my_clone/", "--preset paper", "--out my_run/"],
        ["fakeit evaluate my_run/checkpoint.pt", "--suite folder", f"--test-root {test}", f"--class-set {classes}"],
    ])
