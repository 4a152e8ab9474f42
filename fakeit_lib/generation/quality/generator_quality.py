"""What a text-to-image generator of 28x28 Fashion-MNIST-like images is worth, measured against real test images:
the judge's fidelity and diversity, pixel statistics, the Fréchet distance in the judge's features, and how much the
prompt changes an image (any generator's clones: the testability of the prompt findings)."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import torch

from ...core.errors import FakeitError
from ...datasets.fashion_mnist import fashion_mnist
from ...datasets.images import clone_arrays
from ..mini.model import MiniFashionPipeline, sample_class_images
from .imagestats import frechet_distance, image_statistics
from .judge import judge_outputs, load_judge, score_images

SAMPLES = 5  # disjoint image samples per guidance scale in `measure_generator`


def measure_generator(
    pipe: MiniFashionPipeline,
    images_per_class: int = 50,
    guidance_scales: tuple[float, ...] = (7.5, 2.0),
    steps: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """What the generator's images are worth at each guidance scale, beside real test images: judge fidelity and
    diversity (overall and per class), speckle, saturation, border ink, the Fréchet distance in the judge's features
    to real test images, and the mean pixel distance between the images `c` and `c, d_c` draw from the same seeds;
    the judge measures and image statistics also per disjoint image sample (`samples`), for intervals."""
    judge, real_acc = load_judge(progress=progress)
    test = fashion_mnist("test")
    y = test.targets
    idx = torch.cat([torch.nonzero(y == c).flatten()[:200] for c in range(10)])
    real_x = test.data[idx].unsqueeze(1).float() / 255.0
    _, real_feats = judge_outputs(judge, real_x)
    half = len(real_x) // 2
    _, a = judge_outputs(judge, real_x[::2])
    _, b = judge_outputs(judge, real_x[1::2])
    result: dict = {"judge_real_test_accuracy": real_acc, "images_per_class": images_per_class, "steps": steps,
                    "seed": seed, "scheduler": type(pipe.scheduler).__name__,
                    "guidance_rescale": float(getattr(pipe.config, "guidance_rescale", 0.0)),
                    "real": {**image_statistics(real_x), "frechet_to_real": frechet_distance(a, b), "images": half * 2},
                    "by_guidance": {}}
    for g in guidance_scales:
        t0 = time.perf_counter()
        images, labels, _ = sample_class_images(pipe, images_per_class, g, steps, seed, progress=progress)
        scores = score_images(judge, images, labels)
        _, feats = judge_outputs(judge, images)
        scores.update(image_statistics(images), frechet_to_real=frechet_distance(feats, real_feats),
                      sampling_s=round(time.perf_counter() - t0, 1))
        within = torch.arange(len(labels)) % images_per_class  # image i of each class
        scores["samples"] = []  # disjoint samples (image i of a class in sample i mod SAMPLES): their spread is noise
        for k in range(min(SAMPLES, images_per_class)):
            pick = within % min(SAMPLES, images_per_class) == k
            part = score_images(judge, images[pick], labels[pick])
            scores["samples"].append({"fidelity": part["fidelity"], "diversity": part["diversity"],
                                      **image_statistics(images[pick])})
        c_imgs, _, _ = sample_class_images(pipe, 10, g, steps, seed, variants=("c",), progress=False)
        dc_imgs, _, _ = sample_class_images(pipe, 10, g, steps, seed, variants=("c_dc",), progress=False)
        scores["pixel_distance_c_vs_c_dc"] = float((c_imgs - dc_imgs).abs().mean())
        result["by_guidance"][str(g)] = scores
    return result


@functools.lru_cache(maxsize=64)
def prompt_sensitivity(folder_a: Path, folder_b: Path, per_class: int = 20) -> dict:
    """How much a prompt difference changes a generator's images: the mean absolute pixel difference (grey levels in
    [0, 1]) between the images two clones drew from the same seeds (same class and index), against the difference
    between two seeds of one prompt (consecutive images of a class in clone a); `share` is their ratio. The first
    `per_class` images of each class are compared."""
    import numpy as np

    xa, ya, wa = clone_arrays(folder_a)
    xb, yb, wb = clone_arrays(folder_b)
    keep_a = wa < per_class
    index_b = {(int(c), int(i)): k for k, (c, i) in enumerate(zip(yb, wb)) if i < per_class}
    pairs = [(k, index_b[(int(c), int(i))]) for k, (c, i) in enumerate(zip(ya, wa)) if keep_a[k] and (int(c), int(i)) in index_b]
    if not pairs:
        raise FakeitError(f"clones {folder_a} and {folder_b} share no image seed (class and index) to compare")
    a = np.stack([xa[i] for i, _ in pairs]).astype(np.float64) / 255.0
    b = np.stack([xb[j] for _, j in pairs]).astype(np.float64) / 255.0
    same_seed = float(np.abs(a - b).mean())
    by_class: dict[int, list[int]] = {}
    for k in np.flatnonzero(keep_a):
        by_class.setdefault(int(ya[k]), []).append(int(k))
    seeds = [(ks[j], ks[j + 1]) for ks in by_class.values() for j in range(0, len(ks) - 1, 2)]
    if not seeds:
        raise FakeitError(f"clone {folder_a} has fewer than two images of a class; no seed distance to compare with")
    between = float(np.mean([np.abs(xa[i].astype(np.float64) - xa[j].astype(np.float64)).mean() / 255.0 for i, j in seeds]))
    return {"same_seed": same_seed, "between_seeds": between, "share": same_seed / between if between > 0 else 0.0,
            "images": len(pairs)}
