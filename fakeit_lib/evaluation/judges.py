"""The judge of generated images at each scale, the one parameter of the quality measures
(`generation.quality.judge.score_images`): at the mini and smoke scales the Fashion-MNIST judge shipped with the
package; at the paper scale a real-trained ImageNet classifier read from a checkpoint on disk: torchvision's ResNet-50
with its IMAGENET1K_V1 weights (`resnet50-0676ba61.pth`, data/paper_artefacts.yaml; Table 1 row 13), else the paper
run's own real-trained baseline. Its class scores restricted to the clone's classes give fidelity (the share judged as
the prompt's class) and its penultimate features diversity (mean pairwise distance within a class), as the mini
judge's do. Nothing is downloaded: a judge that is not on disk is named, with where it was looked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..core.errors import FakeitError

TORCHVISION_FILE = "resnet50-0676ba61.pth"  # torchvision's ResNet-50 IMAGENET1K_V1, as torch.hub names it
JUDGED_PER_CLASS = 50  # images of each class a paper-scale clone is judged on (the first ones, same seeds in every clone)


@dataclass
class ImageNetJudge:
    """A real-trained classifier judging images of a class set it knows: `outputs` as the mini judge's."""

    model: torch.nn.Module  # eval mode; its last layer `fc` (the penultimate features are its input)
    class_index: list[int]  # per class of the judged set (its label), the model's output index
    transform: Callable  # PIL image -> normalised tensor (the model's test-time transform)
    name: str  # what it is, in words, with its file and the first digits of its sha256
    batch_size: int = 32

    @torch.no_grad()
    def outputs(self, images: Sequence) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted labels as positions in the judged class set, penultimate features) of PIL images."""
        fc = getattr(self.model, "fc", None)
        if fc is None:
            raise FakeitError(f"judge {self.name} has no last layer `fc` whose input would be its features; give a "
                              "ResNet-like classifier")
        captured: list[torch.Tensor] = []
        hook = fc.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].flatten(1).float()))
        index = torch.tensor(self.class_index)
        preds, feats = [], []
        try:
            self.model.eval()
            for i in range(0, len(images), self.batch_size):
                x = torch.stack([self.transform(im.convert("RGB")) for im in images[i: i + self.batch_size]])
                captured.clear()
                logits = self.model(x).float()
                preds.append(logits[:, index].argmax(1))
                feats.append(captured[-1])
        finally:
            hook.remove()
        if not preds:
            raise FakeitError("the judge got no image to judge")
        return torch.cat(preds), torch.cat(feats)


def imagenet_judge(checkpoint: Path | str, class_set: str, name: str) -> ImageNetJudge:
    """The classifier of `checkpoint` as the judge of images of `class_set` (every class of it must be one of the
    model's, matched by WordNet id)."""
    from ..datasets.classes import load_class_set
    from ..training.augment import eval_transform
    from ..training.models import load_model, model_class_set

    loaded = load_model(checkpoint)
    known = {(c.wnid or c.folder): c.index for c in model_class_set(loaded)}
    judged = load_class_set(class_set)
    missing = [c.wnid or c.folder for c in judged if (c.wnid or c.folder) not in known]
    if missing:
        raise FakeitError(f"the judge {Path(checkpoint).name} does not know {len(missing)} of the {len(judged)} classes of "
                          f"{class_set} (e.g. {', '.join(missing[:3])}); give a classifier of their classes")
    meta = loaded.meta
    transform = eval_transform(meta["eval_resize"], meta["eval_crop"], tuple(meta["mean"]), tuple(meta["std"]))
    return ImageNetJudge(loaded.model, [known[c.wnid or c.folder] for c in judged], transform,
                         f"{name} ({Path(checkpoint).name}, sha256 {loaded.sha256[:12]})")


def judge_candidates(real_baseline: Path | None = None) -> list[tuple[Path, str]]:
    """(checkpoint, what it is) a paper-scale judge is looked for in, in order: torchvision's ResNet-50 in torch's
    cache (where its IMAGENET1K_V1 weights land once downloaded) and in the working folder (where the plan's evaluate
    stage of Table 1 row 13 reads it), then the run's own real-trained baseline."""
    out = [(Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE,
            "torchvision's ResNet-50, IMAGENET1K_V1 weights, trained on real ImageNet-1K"),
           (Path(TORCHVISION_FILE), "torchvision's ResNet-50, IMAGENET1K_V1 weights, trained on real ImageNet-1K")]
    if real_baseline is not None:
        out.append((Path(real_baseline), "this run's real-trained baseline (Table 1's real model, first seed)"))
    return out


def judge_for(class_set: str, candidates: list[tuple[Path, str]] | None = None) -> tuple[object | None, str]:
    """(judge, the judge in words) for images of `class_set`: the shipped Fashion-MNIST judge for fashion-mnist; else
    the first real-trained classifier of `candidates` (`judge_candidates`) on disk; (None, why) when there is none."""
    if class_set == "fashion-mnist":
        from ..generation.quality.judge import load_judge

        model, accuracy = load_judge(progress=False)
        return model, (f"the Fashion-MNIST judge shipped with the package, a small CNN trained on the real train split "
                       f"({accuracy:.3f} top-1 on the real test split)")
    candidates = judge_candidates() if candidates is None else candidates
    for path, what in candidates:
        if Path(path).expanduser().is_file():
            judge = imagenet_judge(Path(path).expanduser(), class_set, what)
            return judge, judge.name
    looked = "; ".join(str(p) for p, _ in candidates) or "nowhere"
    return None, (f"no real-trained classifier of the {class_set} classes is on disk to judge the images (looked in: "
                  f"{looked}); download torchvision's ResNet-50 (data/paper_artefacts.yaml: {TORCHVISION_FILE}) or let "
                  "Table 1 train the real baseline, then build again")


def judged_images(folder: Path, per_class: int = JUDGED_PER_CLASS) -> tuple[list, np.ndarray, np.ndarray]:
    """(PIL images, labels, index of each within its class) of the first `per_class` images of each class of a clone,
    in manifest order: what a paper-scale judge scores (the same seeds in every clone)."""
    from ..datasets.images import clone_image, read_manifest

    images, labels, within, seen = [], [], [], {}
    for row in read_manifest(folder):
        c = row["class_index"]
        if seen.get(c, 0) >= per_class:
            continue
        images.append(clone_image(folder, row))
        labels.append(c)
        within.append(seen.get(c, 0))
        seen[c] = seen.get(c, 0) + 1
    if not images:
        raise FakeitError(f"clone {folder} holds no image to judge")
    return images, np.asarray(labels), np.asarray(within)
