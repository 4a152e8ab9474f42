"""Chapter fig2_qualitative (paper Fig. 2): real images beside every clone, and what a judge measures of them.

A judge scores the images (fakeit_lib.evaluation.judges): at the Fashion-MNIST scale a small CNN trained on the real
train split and shipped with the package, at the paper scale a real-trained ImageNet classifier read from disk: fidelity (the share judged as its prompt's class) and diversity (mean
pairwise distance of the judge's features within a class). The finding "lower guidance gives more diverse, less faithful images" is checked on five disjoint
image samples of each clone (image i of a class goes to sample i mod 5; fewer when a class has under ten images):
independent draws of the generator, so their spread is the sampling noise of the measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import FakeitError
from ..datasets.classes import load_class_set
from ..datasets.fashion_mnist import fashion_mnist
from ..datasets.images import clone_arrays, clone_image, read_manifest
from ..experiments.params import PipelineParams, shared
from ..experiments.stages import synthetic_clones
from ..generation.quality.imagestats import frechet_distance, image_statistics
from ..generation.quality.judge import judge_outputs, load_judge, score_images
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import PAPER_EXAMPLES, variant_name
from ..prompts.variants import check_variant
from .tab1_prompts import no_clone

SAMPLES = 5  # disjoint image samples per clone for the fidelity/diversity verdict
FIDELITY_UNIT = "of images judged faithful"  # a fidelity difference: a share of the images judged as their class
GREY = "grey levels, 0–1"  # the unit of a pixel distance: images scaled to [0, 1]


@dataclass
class QualitativeParams:
    """Parameters of the fig2_qualitative chapter (paper Fig. 2): real images beside each clone's images."""

    scale: str = shared("scale")  # label of the preset this ran with: smoke, mini or paper
    class_set: str = shared("class_set")  # classes of the clones; paper: imagenet100; mini: fashion-mnist
    generator: str = shared("generator")  # diffusers model (hub id or folder) or "mini"; paper: SD v1.4
    steps: int = shared("steps")  # denoising steps; paper: 50
    gen_batch_size: int = shared("gen_batch_size")  # images per generator call (part of a dataset's identity: fixed batches)
    images_per_class: int | str = shared("images_per_class")  # synthetic images per class: N, or "match" (the real set's counts); paper: match
    real_root: str = shared("real_root")  # real training set (wnid folders) whose images are shown; "" at mini: Fashion-MNIST train
    variants: list[str] = shared("variants")  # prompt variants; paper: all four
    guidances: list[float] = shared("guidances")  # guidance scales; paper: 7.5 and 2.0
    example_wnids: list[str] = field(default_factory=lambda: list(PAPER_EXAMPLES))  # classes shown (absent ones: evenly spaced classes of the set)
    images_shown: int = 8  # images per row of the grids
    seed: int = shared("seed")  # seeds generation
    storage: str = shared("storage")  # how new clones store images: folder (a PNG file each) or shards (~1 GB tar files); paper presets: shards

    def validate(self) -> None:
        self.pipeline()  # checks the shared fields
        for v in self.variants:
            check_variant(v)
        if not self.variants or not self.guidances or min(self.guidances) <= 0:
            raise FakeitError(f"variants ({self.variants}) and guidances ({self.guidances}) must be non-empty, guidances > 0")
        if self.images_shown < 1 or not self.example_wnids:
            raise FakeitError(f"images_shown={self.images_shown} must be >= 1 and example_wnids non-empty")

    def pipeline(self) -> PipelineParams:
        """The shared pipeline settings (so the clones are the very folders Table 1 uses)."""
        names = {f.name for f in fields(PipelineParams)}
        p = PipelineParams(**{k: getattr(self, k) for k in names if hasattr(self, k)})
        p.validate()
        return p


def clones(p: QualitativeParams) -> dict[tuple[str, float], Path]:
    """One synthetic dataset per prompt variant and guidance scale (generated unless complete)."""
    keys = [(v, float(g)) for v in p.variants for g in p.guidances]
    return dict(zip(keys, synthetic_clones(p.pipeline(), [(v, g, 1.0) for v, g in keys])))


def clone_label(variant: str, guidance: float) -> str:
    """Row label of a clone in grids and tables, in words: `class name + hypernym, guidance 7.5`."""
    return f"{variant_name(variant)}, guidance {guidance:g}"


def shown_classes(class_set, wnids: list[str]) -> list:
    """The classes of `class_set` with these wnids; if none is in the set, as many evenly spaced classes of it."""
    present = [c for c in class_set if c.wnid in set(wnids)]
    if present:
        return sorted(present, key=lambda c: wnids.index(c.wnid))
    n = min(len(wnids), len(class_set))
    picks = np.linspace(0, len(class_set) - 1, n).round().astype(int)
    return [class_set.classes[i] for i in picks]


def classes_shown(p: QualitativeParams) -> list:
    """The classes the grids show: the example wnids found in the run's class set (else evenly spaced classes)."""
    return shown_classes(load_class_set(p.class_set), p.example_wnids)


def names_of(classes: list) -> str:
    """Class names joined for a sentence."""
    return ", ".join(c.name for c in classes)


def class_grids(p: QualitativeParams, folders: dict[tuple[str, float], Path], shown: list) -> list:
    """One figure per shown class: its real images, then every clone's first `p.images_shown` images, a row each."""
    figures = []
    for info in shown:
        rows = [("real", real_images(p, info, p.images_shown))]
        rows += [(clone_label(v, g), synthetic_images(f, info.index, p.images_shown)) for (v, g), f in folders.items()]
        figures.append(image_grid(rows, grid_title(info)))
    return figures


def grid_title(info) -> str:
    """A grid's title: the class by its name alone (its WordNet id is a code; the prompts page lists it)."""
    return info.name


def real_images(p: QualitativeParams, info, n: int) -> list:
    """The first `n` real training images of a class: Fashion-MNIST train (mini) or files of `real_root/<folder>`."""
    from PIL import Image

    if not p.real_root:
        if p.class_set != "fashion-mnist":
            return []
        from ..datasets.fashion_mnist import fashion_mnist

        ds = fashion_mnist("train")
        idx = (ds.targets == info.index).nonzero().flatten()[:n].tolist()
        return [Image.fromarray(ds.data[i].numpy()) for i in idx]
    folder = Path(p.real_root).expanduser() / info.folder
    if not folder.is_dir():
        raise FakeitError(f"real_root {p.real_root} has no folder {info.folder} for class {info.name}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp"))[:n]
    return [Image.open(f).convert("RGB") for f in files]


def synthetic_images(folder: Path, class_index: int, n: int | None = None) -> list:
    """The first `n` (all: None) images of a class in a synthetic dataset (class folders or tar shards), in manifest order."""
    rows = [r for r in read_manifest(folder) if r["class_index"] == class_index][:n]
    return [clone_image(folder, r) for r in rows]


def image_grid(rows: list[tuple[str, list]], title: str = "", cell: float = 1.1):
    """A matplotlib figure with one labelled row of images per (label, images) pair; labels at 12 points on short
    lines, so that they stay above 10 px when the figure is scaled to the page's column."""
    import textwrap

    import matplotlib.pyplot as plt

    n_cols = max([len(ims) for _, ims in rows] + [1])
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.8 + cell * n_cols, 1.15 * cell * len(rows) + 0.5), squeeze=False)
    for r, (label, ims) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(ims):
                im = np.asarray(ims[c])
                ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=255)
            if c == 0:
                text = "\n".join(line for part in label.split(", ") for line in textwrap.wrap(part, 22))
                ax.set_ylabel(text if ims else f"{text}\n(none)", rotation=0, ha="right", va="center", fontsize=12)
    fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return fig


def _real_reference(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `per_class` real test images of each Fashion-MNIST class (the judge never trained on them)."""
    ds = fashion_mnist("test")
    y = ds.targets.numpy()
    idx = np.sort(np.concatenate([np.nonzero(y == c)[0][:per_class] for c in range(10)]))
    return ds.data.numpy()[idx], y[idx]


@dataclass
class Quality:
    """Judge scores and image statistics of each clone and of real images, and per-sample scores for the verdict."""

    judge_accuracy: float | None  # the Fashion-MNIST judge's top-1 on the real test split (None: an ImageNet judge)
    table: pd.DataFrame  # one row per clone plus real: fidelity, diversity, speckle, saturation, border, Fréchet
    samples: dict  # (variant, guidance) -> list of {"fidelity", "diversity"} per disjoint image sample
    judge: str = ""  # which judge scored the images, in words (evaluation.judges)


QUALITY_COLUMNS = {  # the quality table as the page shows it: column -> its heading, with its unit
    "images": "images", "count": "count", "fidelity": "fidelity (share)", "diversity": "diversity (judge units)",
    "speckle per 1k px": "specks per 1,000 px", "saturated share": "saturated (share of pixels)",
    "border ink share": "ink in border (share of border pixels)",
    "Fréchet distance to real (judge features)": "Fréchet distance to real", "pixel distance to c, same seeds":
    f"pixel distance to class name ({GREY})"}


def quality_display(table: pd.DataFrame) -> pd.DataFrame:
    """The quality table with short headings and without the code's columns (variant and guidance are in `images`)."""
    return table[[c for c in QUALITY_COLUMNS if c in table]].rename(columns=QUALITY_COLUMNS)


def judge_of(p: QualitativeParams) -> tuple[object | None, str]:
    """(judge, the judge in words) of this scale's images (evaluation.judges): the Fashion-MNIST judge shipped with the
    package, or at the paper scale a real-trained ImageNet classifier on disk (torchvision's ResNet-50, else the run's
    real baseline); (None, why) when there is none."""
    from ..experiments.stages import scale_judge

    return scale_judge(p.pipeline())


def judge_text(q: Quality | None, p: QualitativeParams) -> str:
    """The page's sentence on its judge: which one scored the images, or why none could; where the quality table has a
    real row, that its images are a subset of the test split the judge's own top-1 is measured on."""
    if q is None:
        return judge_of(p)[1]
    real = q.table[q.table["variant"] == "real"]
    if real.empty:
        return q.judge
    return (f"{q.judge}; the quality table's real row scores only {int(real['count'].iloc[0]):,} of those test images, "
            "so its fidelity differs from that top-1")


def clone_quality(p: QualitativeParams, folders: dict[tuple[str, float], Path]) -> Quality | None:
    """Judge scores of every clone: at the Fashion-MNIST scale with image statistics beside real test images; at the
    paper scale by a real-trained ImageNet classifier, on the first images of each class; None without a judge."""
    if p.class_set != "fashion-mnist":
        judge, text = judge_of(p)
        return judged_quality(judge, text, folders) if judge is not None else None
    judge, accuracy = load_judge(progress=False)
    per_class = max(len(clone_arrays(f)[0]) for f in folders.values()) // 10
    real_x, real_y = _real_reference(max(per_class, 200))
    _, real_feats = judge_outputs(judge, real_x)
    rows, samples = [], {}
    arrays = {key: clone_arrays(folder) for key, folder in folders.items()}
    for (variant, guidance), (x, y, within) in arrays.items():
        s = score_images(judge, x, y)
        _, feats = judge_outputs(judge, x)
        rows.append({"images": clone_label(variant, guidance), "variant": variant, "guidance": guidance, "count": len(y),
                     "fidelity": s["fidelity"], "diversity": s["diversity"], **image_statistics(x),
                     "Fréchet distance to real (judge features)": frechet_distance(feats, real_feats),
                     "pixel distance to c, same seeds": same_seed_distance(arrays.get(("c", guidance)), (x, y, within))})
        n_samples = max(1, min(SAMPLES, int(within.max() + 1) // 2))  # at least two images per class in a sample
        samples[(variant, guidance)] = []
        for k in range(n_samples):
            pick = within % n_samples == k
            sk = score_images(judge, x[pick], y[pick])
            samples[(variant, guidance)].append({"fidelity": sk["fidelity"], "diversity": sk["diversity"]})
    ref_x, ref_y = real_x[: len(real_x) // 2], real_y[: len(real_y) // 2]
    s = score_images(judge, ref_x, ref_y)
    _, ref_feats = judge_outputs(judge, ref_x)
    _, rest_feats = judge_outputs(judge, real_x[len(real_x) // 2:])
    rows.append({"images": f"real ({len(ref_y):,} Fashion-MNIST test images)", "variant": "real", "guidance": float("nan"), "count": len(ref_y),
                 "fidelity": s["fidelity"], "diversity": s["diversity"], **image_statistics(ref_x),
                 "Fréchet distance to real (judge features)": frechet_distance(ref_feats, rest_feats),
                 "pixel distance to c, same seeds": float("nan")})
    return Quality(accuracy, pd.DataFrame(rows), samples, judge_of(p)[1])


def judged_quality(judge, text: str, folders: dict[tuple[str, float], Path]) -> Quality:
    """Fidelity and diversity of each clone's first images of every class (evaluation.judges.JUDGED_PER_CLASS) by a
    judge of its classes, overall and per disjoint image sample (image i of a class in sample i mod n)."""
    import torch

    from ..evaluation.judges import judged_images
    from ..generation.quality.judge import diversity, fidelity

    rows, samples = [], {}
    for (variant, guidance), folder in folders.items():
        images, labels, within = judged_images(folder)
        preds, feats = judge_outputs(judge, images)
        y = torch.as_tensor(labels)
        rows.append({"images": clone_label(variant, guidance), "variant": variant, "guidance": guidance, "count": len(y),
                     "fidelity": fidelity(preds, y), "diversity": diversity(feats, y)})
        n = max(1, min(SAMPLES, int(within.max() + 1) // 2))
        picks = [torch.as_tensor(within % n == k) for k in range(n)]
        samples[(variant, guidance)] = [{"fidelity": fidelity(preds[m], y[m]), "diversity": diversity(feats[m], y[m])}
                                        for m in picks]
    return Quality(None, pd.DataFrame(rows), samples, text)


def same_seed_distance(reference, other) -> float:
    """Mean absolute pixel difference (grey levels in [0, 1]) between images drawn from the same seeds (same class
    and index) in two clones: how much the prompt alone changes an image. NaN without a reference clone."""
    if reference is None:
        return float("nan")
    rx, ry, rw = reference
    ox, oy, ow = other
    index = {(int(c), int(i)): k for k, (c, i) in enumerate(zip(ry, rw))}
    pairs = [(index[(int(c), int(i))], k) for k, (c, i) in enumerate(zip(oy, ow)) if (int(c), int(i)) in index]
    if not pairs:
        return float("nan")
    a = np.stack([rx[i] for i, _ in pairs]).astype(np.float64) / 255.0
    b = np.stack([ox[k] for _, k in pairs]).astype(np.float64) / 255.0
    return float(np.abs(a - b).mean())


def fidelity_diversity_figure(q: Quality):
    """A plotly scatter of fidelity against diversity, one point per clone plus the real images."""
    import plotly.express as px

    df = q.table.assign(guidance=q.table["guidance"].map(lambda g: "real" if pd.isna(g) else f"guidance {g:g}"),
                        prompt=q.table["variant"].map(lambda v: "real images" if v == "real" else variant_name(v)))
    fig = px.scatter(df, x="diversity", y="fidelity", color="guidance", symbol="prompt", hover_data=["images", "count"],
                     title="Fidelity against diversity, per clone")
    fig.update_traces(marker_size=12)
    # plotly names a trace by both its columns ("real, real images"): the real images' point once, the clones' as
    # "class name, guidance 7.5"
    fig.for_each_trace(lambda t: t.update(name="real images" if t.name.startswith("real,") else
                                          ", ".join(reversed(t.name.split(", ", 1)))))
    fig.update_xaxes(title_text="diversity (within-class feature spread, judge units)")
    fig.update_yaxes(title_text="fidelity (share judged as the prompt's class)")
    fig.update_layout(height=520, legend=dict(orientation="h", y=-0.25, title_text=""))
    return fig


def sensitivity_frame(p: QualitativeParams, folders: dict[tuple[str, float], Path]) -> pd.DataFrame:
    """For every pair of prompt variants at each guidance scale: how much the prompt change moves the images drawn
    from the same seeds, against a change of seed (shown beside every prompt verdict: below
    findings.SENSITIVITY_MIN of a seed change, a null speaks of this generator, not of the prompt)."""
    from ..generation.quality.generator_quality import prompt_sensitivity

    rows = []
    for g in p.guidances:
        variants = [v for v in p.variants if (v, float(g)) in folders]
        for i, a in enumerate(variants):
            for b in variants[i + 1:]:
                sens = prompt_sensitivity(folders[(a, float(g))], folders[(b, float(g))])
                rows.append({"guidance": f"{g:g}", "prompt a": variant_name(a), "prompt b": variant_name(b),
                             f"same-seed distance ({GREY})": sens["same_seed"],
                             f"between two seeds ({GREY})": sens["between_seeds"],
                             "share of a seed change": sens["share"],
                             "generator reacts": "yes" if sens["share"] >= fd.SENSITIVITY_MIN else "no"})
    return pd.DataFrame(rows)


def diversity_bound(bound: float, unit_note: str = "") -> str:
    """The diversity part's smallest effect of interest in words, for the verdict's text (which states only the shown
    part's, fidelity's): another judge's note already says it (claims.diversity_sesoi)."""
    return unit_note or f"smallest effect of interest for diversity {bound:g} judge units"


def qualitative_findings(p: QualitativeParams, q: Quality | None,
                         folders: dict[tuple[str, float], Path] | None = None) -> list[fd.Verdict]:
    """Verdicts over disjoint image samples (paired: the same seeds in every clone): guidance 2.0 gives more diverse
    and less faithful images than 7.5; at 7.5, the definition and the hypernym give more faithful and more diverse
    images than the name alone, where the generator reacts to them."""
    from ..generation.quality.generator_quality import prompt_sensitivity

    ids = ("low_guidance_diverse", "definition_richer_images", "hypernym_richer_images")
    if q is None:
        why = judge_of(p)[1]
        return [fd.cannot_test(fid, p.scale, f"{why}; the grids above are the evidence, as in the paper",
                               claims.paper_value(fid)) for fid in ids]
    hi, lo = 7.5, 2.0
    out = []
    # another judge's units are not the Fashion-MNIST judge's: its diversity bound is 2% of its own measured spread
    spread = float(q.table["diversity"].mean()) if q.judge_accuracy is None else None
    variants = [v for v in p.variants if (v, hi) in q.samples and (v, lo) in q.samples]
    paper = claims.paper_value("low_guidance_diverse")
    if variants:
        n = min(len(q.samples[(v, g)]) for v in variants for g in (hi, lo))

        def mean_over_variants(g, metric):
            return [float(np.mean([q.samples[(v, g)][k][metric] for v in variants])) for k in range(n)]

        bound, unit_note = claims.diversity_sesoi("low_guidance_diverse", spread)
        parts = [fd.Part("diversity (2.0 minus 7.5)", fd.paired(mean_over_variants(lo, "diversity"), mean_over_variants(hi, "diversity")),
                         "greater", bound, "judge units"),
                 fd.Part("fidelity (7.5 minus 2.0)", fd.paired(mean_over_variants(hi, "fidelity"), mean_over_variants(lo, "fidelity")),
                         "greater", 0.02, FIDELITY_UNIT)]
        out.append(fd.check_parts("low_guidance_diverse", parts, p.scale,
                                  {"samples": f"{n} disjoint image samples per clone (image i of a class in sample i mod {n})",
                                   "variants": variants}, paper, diversity_bound(bound, unit_note)))
    else:
        out.append(fd.cannot_test("low_guidance_diverse", p.scale, "no prompt variant was drawn at both 7.5 and 2.0", paper))
    for fid, variant in (("definition_richer_images", "c_dc"), ("hypernym_richer_images", "c_hc")):
        paper = claims.paper_value(fid)
        if ("c", hi) not in q.samples or (variant, hi) not in q.samples:
            lacks = [v for v in ("c", variant) if (v, hi) not in q.samples]
            out.append(fd.cannot_test(fid, p.scale, no_clone(lacks, hi), paper))
            continue
        sens = prompt_sensitivity(folders[("c", hi)], folders[(variant, hi)]) if folders else None
        note = fd.sensitivity_note(sens["share"], f"adding {'the definition' if variant == 'c_dc' else 'the hypernym'} "
                                   f"at guidance {hi:g}") if sens else ""  # decided; the generator's reaction beside
        a, b = q.samples[(variant, hi)], q.samples[("c", hi)]
        n = min(len(a), len(b))
        bound, unit_note = claims.diversity_sesoi(fid, spread)
        parts = [fd.Part("fidelity", fd.paired([x["fidelity"] for x in a[:n]], [x["fidelity"] for x in b[:n]]), "greater",
                         0.02, FIDELITY_UNIT),
                 fd.Part("diversity", fd.paired([x["diversity"] for x in a[:n]], [x["diversity"] for x in b[:n]]), "greater",
                         bound, "judge units")]
        note = "; ".join(t for t in (diversity_bound(bound, unit_note), note) if t)
        out.append(fd.check_parts(fid, parts, p.scale, {"samples": f"{n} disjoint image samples, same seeds",
                                                        "prompt sensitivity": sens}, paper, note))
    return out
