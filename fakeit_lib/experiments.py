"""The paper's experiments as chains of cached stages: prompts -> generate -> train -> evaluate / transfer.

Each function returns the output of one stage, computing it only when its folder (named by a hash of its
settings, under the output root) is not finished yet. Notebooks that need the same synthetic set or model share it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import FakeitError
from .params import from_dict
from .store import stage_dir

SCALES = ("smoke", "mini", "paper")
RECIPES = ("smoke", "mini", "paper")


@dataclass
class PipelineParams:
    """Settings every experiment notebook shares (one name, one meaning, in every preset)."""

    scale: str = "paper"  # label of the preset this ran with: smoke, mini or paper
    class_set: str = "imagenet100"  # classes of the clone; paper: imagenet100 (and imagenet1k); mini: fashion-mnist
    generator: str = "CompVis/stable-diffusion-v1-4"  # diffusers model (hub id or folder) or "mini"; paper: SD v1.4
    steps: int = 50  # denoising steps; paper: 50
    gen_batch_size: int = 8  # images per generator call (part of a dataset's identity: fixed batches)
    images_per_class: int | str = "match"  # synthetic images per class at 1x: N, or "match" (the real set's counts, real_root); paper: match
    recipe: str = "paper"  # training recipe: paper (ResNet-50, multi-crop, 100 epochs), mini or smoke
    real_root: str = ""  # real training set (ImageFolder of wnid folders) for the baseline; "" at mini: Fashion-MNIST
    eval_suite: str = "imagenet"  # imagenet (val, v2, sketch, r, a from eval_roots) or mini (Fashion-MNIST test)
    eval_roots: dict = field(default_factory=dict)  # imagenet suite: {val: root, v2: root, sketch: ..., r: ..., a: ...}
    eval_max_images: int = 0  # evaluate on the first N images of each test set (0: all)
    seed: int = 0  # seeds generation and training

    def validate(self) -> None:
        if self.scale not in SCALES:
            raise FakeitError(f"parameter scale={self.scale!r} is not valid; valid: {', '.join(SCALES)}")
        if self.recipe not in RECIPES:
            raise FakeitError(f"parameter recipe={self.recipe!r} is not valid; valid: {', '.join(RECIPES)}")
        if self.eval_suite not in ("imagenet", "mini"):
            raise FakeitError(f"parameter eval_suite={self.eval_suite!r} is not valid; valid: imagenet, mini")
        bad = sorted(set(self.eval_roots) - {"val", "v2", "sketch", "r", "a"})
        if bad:
            raise FakeitError(f"parameter eval_roots has unknown test set(s) {', '.join(bad)}; valid: val, v2, sketch, r, a")
        if self.steps < 1 or self.gen_batch_size < 1:
            raise FakeitError("parameters steps and gen_batch_size must be at least 1")
        if isinstance(self.images_per_class, str) and self.images_per_class != "match":
            raise FakeitError(f"parameter images_per_class={self.images_per_class!r} must be a number >= 1 or 'match'")
        if isinstance(self.images_per_class, int) and self.images_per_class < 1:
            raise FakeitError(f"parameter images_per_class={self.images_per_class} must be at least 1")


@dataclass
class CloneChoice:
    """The synthetic clone compared with real data in Table 2, Fig. 1 and the representation metrics."""

    best_variant: str = "c_dc"  # prompt variant of the compared clone; paper (IN-100, Table 2 row 3): c_dc
    best_guidance: float = 2.0  # guidance scale of the compared clone; paper: 2.0
    best_multiplier: float = 50.0  # its size relative to the real set; paper (IN-100): 50x


def images_spec(p: PipelineParams, multiplier: float = 1.0) -> int | str:
    """The images-per-class spec of a clone `multiplier` times the 1x size (a count, or a spec of the real counts)."""
    if p.images_per_class == "match":
        if not p.real_root:
            raise FakeitError("images_per_class 'match' needs real_root, the real training set whose counts are matched")
        return f"match:{p.real_root}" if multiplier == 1 else f"x{multiplier:g}:{p.real_root}"
    return max(1, round(int(p.images_per_class) * multiplier))


def synthetic_clone(p: PipelineParams, variant: str, guidance: float, multiplier: float = 1.0) -> Path:
    """The folder of a synthetic clone of `p.class_set`, `multiplier` times the 1x size (generated unless complete)."""
    from .generate import GenerateConfig, generate_dataset

    cfg = from_dict(GenerateConfig, dict(
        classes=p.class_set, variant=variant, generator=p.generator, guidance=float(guidance), steps=p.steps,
        images_per_class=images_spec(p, multiplier), seed=p.seed, batch_size=p.gen_batch_size,
    ))
    return generate_dataset(cfg)


def real_training_set(p: PipelineParams) -> Path:
    """The real training set of the baseline: `p.real_root`, or real Fashion-MNIST train images at mini scale."""
    from .datasets import export_fashion_mnist

    if p.real_root:
        root = Path(p.real_root).expanduser()
        if not root.is_dir():
            raise FakeitError(f"real_root {root} is not a folder; give the real training set (ImageFolder of wnid folders)")
        return root
    if p.class_set != "fashion-mnist":
        raise FakeitError(f"real_root is empty; class set {p.class_set} needs its real training images (e.g. ImageNet-100 train)")
    if p.images_per_class == "match":
        raise FakeitError("images_per_class 'match' needs real_root; at mini scale give a number of images per class")
    n = int(p.images_per_class)
    return export_fashion_mnist(stage_dir(f"real-fashion-mnist-train{n}", {"split": "train", "per_class": n}), "train", n)


def trained_checkpoint(p: PipelineParams, data: Path) -> Path:
    """The checkpoint of a classifier trained from scratch on `data` with `p.recipe` (trained unless done)."""
    from .train import CHECKPOINT, make_config, train

    cfg = make_config(p.recipe, data=str(data), class_set=p.class_set, seed=p.seed)
    return Path(train(cfg, log=lambda *a, **k: None)) / CHECKPOINT


def evaluation(p: PipelineParams, checkpoint: Path) -> dict:
    """Top-1/top-5 of a checkpoint on the real test sets of `p.eval_suite` (evaluated unless done)."""
    from .evaluate import EvalConfig, evaluate

    roots = {f"{k}_root": v for k, v in p.eval_roots.items()}
    cfg = from_dict(EvalConfig, dict(checkpoint=str(checkpoint), suite=p.eval_suite, class_set=p.class_set,
                                     max_images=p.eval_max_images or None, **roots))
    return evaluate(cfg)


def transfer_results(p: PipelineParams, checkpoint: Path, suite: str, roots: dict, **settings) -> dict:
    """Linear-probe top-1 of a checkpoint's frozen encoder on a transfer suite (probed unless done)."""
    from .transfer import TransferConfig, transfer

    cfg = from_dict(TransferConfig, dict(checkpoint=str(checkpoint), suite=suite,
                                         **{f"{k}_root": v for k, v in roots.items()}, **settings))
    return transfer(cfg)


@functools.lru_cache(maxsize=1)
def paper_results() -> dict:
    """The numbers the paper reports (Tables 1 and 2), with their citation."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_results.yaml"))
    return yaml.safe_load(path.read_text())


def paper_rows(table: str, **match) -> list[dict]:
    """Rows of a paper table (`table1` or `table2`) whose fields equal `match`, values keyed by column."""
    t = paper_results()[table]
    out = []
    for row in t["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            out.append({**{k: v for k, v in row.items() if k != "values"}, **dict(zip(t["columns"], row["values"]))})
    return out


def params_dict(p) -> dict:
    """A parameter dataclass as a plain dict."""
    return dataclasses.asdict(p)


PAPER_TEST_SETS = {"val": "in_val", "v2": "in_v2", "sketch": "in_sketch", "r": "in_r", "a": "in_a"}
VARIANT_LABELS = {"c": "c", "c_hc": "c, h_c", "c_dc": "c, d_c", "c_hc_inside_b": "c, h_c inside b", "clip": "a photo of a c"}


@dataclass
class Table1Params(PipelineParams):
    """Parameters of Table 1: every prompt variant x guidance scale, plus the real baseline."""

    variants: list[str] = field(default_factory=lambda: ["c", "c_hc", "c_dc", "c_hc_inside_b"])  # paper: these four
    guidances: list[float] = field(default_factory=lambda: [7.5, 2.0])  # paper: 7.5 (default) and 2.0

    def validate(self) -> None:
        from .prompts import check_variant

        super().validate()
        for v in self.variants:
            check_variant(v)
        if any(g < 0 for g in self.guidances):
            raise FakeitError(f"parameter guidances={self.guidances} must hold numbers >= 0")


def model_row(p: PipelineParams, data: str, variant: str | None, guidance: float | None, multiplier: float,
              dataset: Path) -> dict:
    """Train (or reuse) a model on `dataset`, evaluate it on real images, and describe it as one table row."""
    checkpoint = trained_checkpoint(p, dataset)
    results = evaluation(p, checkpoint)
    images = sum(1 for _ in open(dataset / "manifest.jsonl")) if (dataset / "manifest.jsonl").exists() else None
    row = {"data": data, "variant": variant, "guidance": guidance, "multiplier": multiplier, "images": images,
           "checkpoint": str(checkpoint), "model_sha256": results["model"].get("sha256", "")}
    for name, r in results["datasets"].items():
        row[f"{name} top-1"] = round(100 * r["top1"], 1)
        row[f"{name} top-5"] = round(100 * r["top5"], 1)
    return row


def table1_rows(p: Table1Params) -> list[dict]:
    """Table 1 of this run: the real baseline, then every variant at every guidance (trained and evaluated)."""
    rows = [model_row(p, "real", None, None, 1.0, real_training_set(p))]
    for g in p.guidances:
        for v in p.variants:
            rows.append(model_row(p, "synthetic", v, g, 1.0, synthetic_clone(p, v, g)))
    return rows


def paper_table1_row(train: str, data: str, variant: str | None = None, guidance: float | None = None,
                     multiplier: float = 1.0) -> dict | None:
    """The paper's Table 1 row for a setting, or None when the paper has none."""
    match = {"train": train, "data": data}
    if data == "synthetic":
        match.update(variant=variant, guidance=guidance, scale=multiplier)
    rows = paper_rows("table1", **match)
    return rows[0] if rows else None


def paper_beside_ours(p: PipelineParams, rows: list[dict]) -> list[dict]:
    """Rows showing the paper's reported numbers (ImageNet-100 unless the clone is of ImageNet-1K) beside this run's."""
    train = "imagenet1k" if p.class_set == "imagenet1k" else "imagenet100"
    out = []
    for r in rows:
        paper = paper_table1_row(train, r["data"], r["variant"], r["guidance"], r["multiplier"])
        item = {"training data": "real" if r["data"] == "real" else f"synthetic ({r['multiplier']:g}x)",
                "prompt": VARIANT_LABELS.get(r["variant"], "-") if r["variant"] else "-",
                "guidance": r["guidance"] if r["guidance"] is not None else "-",
                "paper row": paper["row"] if paper else "-"}
        ours = {k: v for k, v in r.items() if k.endswith(" top-1") or k.endswith(" top-5")}
        names = list(dict.fromkeys(k.rsplit(" ", 1)[0] for k in ours))
        shown = [n for n in names if n in PAPER_TEST_SETS] or ["val"]  # at mini scale: the paper's IN-Val beside ours
        for name in shown:
            for metric in ("top1", "top5"):
                item[f"paper {name} {metric[:3]}-{metric[3]}"] = paper[f"{PAPER_TEST_SETS[name]}_{metric}"] if paper else None
        item.update({f"this run {k}": v for k, v in ours.items()})
        out.append(item)
    return out


def headline_metric(rows: list[dict]) -> str:
    """The first top-1 column of this run's rows (IN-Val at paper scale, the Fashion-MNIST test set at mini)."""
    keys = [k for k in rows[0] if k.endswith(" top-1")]
    return "val top-1" if "val top-1" in keys else keys[0]


def findings(rows: list[dict], key: str) -> dict:
    """The paper's Table 1 findings checked on this run: guidance 2.0 vs 7.5, best prompt, synthetic vs real."""
    real = next(r[key] for r in rows if r["data"] == "real")
    synth = [r for r in rows if r["data"] == "synthetic"]
    by_g: dict = {}
    for r in synth:
        by_g.setdefault(r["guidance"], []).append(r[key])
    mean_g = {g: round(sum(v) / len(v), 1) for g, v in by_g.items()}
    best = max(synth, key=lambda r: r[key])
    out = {"real": real, "best": best[key], "best_variant": VARIANT_LABELS[best["variant"]],
           "best_guidance": best["guidance"], "gap_to_real": round(real - best[key], 1), "mean_by_guidance": mean_g}
    if 2.0 in mean_g and 7.5 in mean_g:
        out["low_guidance_wins"] = mean_g[2.0] > mean_g[7.5]
    return out


@dataclass
class ScalingParams(PipelineParams):
    """Parameters of Fig. 4: clones from 1/10x to 50x the real set's size, on real test images and in transfer."""

    multipliers: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0, 20.0, 50.0])  # clone sizes; paper: 1/10x to 50x
    scaling_variant: str = "c_dc"  # prompt variant of the scaled clones; paper: c_dc (Table 1 rows 8, 10-12)
    scaling_guidance: float = 2.0  # guidance scale of the scaled clones; paper: 2.0
    transfer_suite: str = "paper"  # paper (10 datasets of Table 2, transfer_roots) or mini (offline real sets)
    transfer_roots: dict = field(default_factory=dict)  # paper suite: {aircraft: root, cars: root, ...}

    def validate(self) -> None:
        from .prompts import check_variant

        super().validate()
        check_variant(self.scaling_variant)
        if not self.multipliers or min(self.multipliers) <= 0:
            raise FakeitError(f"parameter multipliers={self.multipliers} must hold numbers > 0")
        if self.transfer_suite not in ("paper", "mini"):
            raise FakeitError(f"parameter transfer_suite={self.transfer_suite!r} is not valid; valid: paper, mini")


def transfer_average(p: PipelineParams, checkpoint: str | Path, suite: str, roots: dict) -> tuple[float, dict]:
    """Average linear-probe top-1 (%) of a checkpoint over a transfer suite, and the per-dataset top-1."""
    res = transfer_results(p, Path(checkpoint), suite, roots)
    per = {name: round(100 * r["top1"], 1) for name, r in res["datasets"].items()}
    return round(sum(per.values()) / len(per), 1), per


def scaling_rows(p: ScalingParams) -> list[dict]:
    """Fig. 4 of this run: the real baseline and one clone per multiplier, tested on real images and in transfer."""
    from .plan import clone_ladder

    rows = [model_row(p, "real", None, None, 1.0, real_training_set(p))]
    # the largest clone is drawn once, the smaller ones are views of it (identical to separate runs)
    clones = clone_ladder(dataclasses.asdict(p), p.scaling_variant, p.scaling_guidance, p.multipliers)
    for m in p.multipliers:
        rows.append(model_row(p, "synthetic", p.scaling_variant, p.scaling_guidance, m, clones[m]))
    for r in rows:
        r["transfer average top-1"], _ = transfer_average(p, r["checkpoint"], p.transfer_suite, p.transfer_roots)
    return rows


def paper_scaling_points() -> list[dict]:
    """Fig. 4 values the paper states in numbers: IN-Val top-1 (Table 1 rows 8, 10-12) and transfer (Table 2)."""
    points = []
    for row in paper_rows("table1", train="imagenet100", data="synthetic", variant="c_dc", guidance=2.0):
        points.append({"multiplier": float(row["scale"]), "metric": "IN-Val top-1", "value": row["in_val_top1"], "source": f"Table 1 row {row['row']}"})
    for row in paper_rows("table2", train="imagenet100", data="synthetic"):
        points.append({"multiplier": float(row["scale"]), "metric": "transfer average top-1", "value": row["average"], "source": f"Table 2 row {row['row']}"})
    real1 = paper_rows("table1", train="imagenet100", data="real")[0]
    real2 = paper_rows("table2", train="imagenet100", data="real")[0]
    points.append({"multiplier": None, "metric": "IN-Val top-1", "value": real1["in_val_top1"], "source": "Table 1 row 1 (real)"})
    points.append({"multiplier": None, "metric": "transfer average top-1", "value": real2["average"], "source": "Table 2 row 2 (real)"})
    return points
