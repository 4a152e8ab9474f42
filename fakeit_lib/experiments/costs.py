"""The cost model of a plan: FLOPs counted from the configurations of the networks each stage runs, and throughputs
that turn them into hours on a number of GPUs and CPU cores.

FLOPs are counted, not typed: torch's FlopCounterMode runs each network once on the `meta` device (shapes only, no
weights, no memory; under a second for Stable Diffusion's 860 M-parameter UNet), built from its configuration:
- a generator: its UNet on one latent at its native size (cross-attending to a full prompt), its text encoder on one
  prompt, its VAE decoder on one latent (configurations in data/paper_costs.yaml for the hub's Stable Diffusion
  v1.4, from a local folder's config.json files otherwise). One image costs steps x UNet + a text encoding, twice
  with classifier-free guidance (guidance > 1: the unconditional twin), + one VAE decode;
- a classifier: forward, and forward + backward, at each crop size of the recipe; a multi-crop sample costs the sum
  over its crops;
- the probe: the linear layer's forward + backward per feature vector (minibatch SGD), 4 n d K per objective
  evaluation of the full-batch L-BFGS.

Throughputs (`Rates`, each figure with its source): `assumed_rates` derives them from data/paper_costs.yaml: a
GPU's FLOP/s from published throughputs times the FLOPs counted here (Stable Diffusion's denoising iterations/s at
the chosen batch; ResNet-50 training images/s, whose share of the GPU's peak serves every workload without a
published rate), and what the CPU cores decode per second. `calibrate.measure_rates` replaces them with
measurements on the user's machine. `estimates` turns them into the hours of each stage.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.errors import FakeitError
from ..core.store import atomic_write_json, cache_root, code_version

DECODE_WORKERS = 8  # loader worker processes per GPU process at inference (core.devices.default_workers: up to 8)


@functools.lru_cache(maxsize=1)
def assumptions() -> dict:
    """data/paper_costs.yaml: the cost model's figures that are not counted in code, with their sources."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_costs.yaml"))
    return yaml.safe_load(path.read_text())


def figure(name: str):
    """The value of one figure of data/paper_costs.yaml."""
    return assumptions()[name]["value"]


# ----------------------------------------------------------------------------------------------------------------
# FLOPs, counted on the meta device


def count_flops(run) -> float:
    """The FLOPs torch counts while `run()` executes (matrix products, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def _versions() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("torch", "diffusers", "transformers", "torchvision", "timm"):
        try:
            out.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            out.append(f"{package}=none")
    return out


def _cached(kind: str, spec, count) -> dict:
    """`count()` of a network configuration, kept under the cache root per configuration, library versions and the
    code that builds the classifiers: the plan then needs no diffusers import once a configuration was counted."""
    key = json.dumps([kind, spec, _versions(), code_version("fakeit_lib.experiments.costs")], sort_keys=True, default=str)
    path = cache_root() / "flops" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = count()
    atomic_write_json(path, result)
    return result


@dataclass(frozen=True)
class GeneratorFlops:
    """FLOPs of a text-to-image generator's parts at its native size."""

    unet: float  # one UNet evaluation of one latent
    text: float  # one prompt through the text encoder
    vae: float  # one latent decoded to an image (0: a pixel-space generator)
    parameters: float  # of the UNet (a check that the configuration is the intended one)

    def per_step(self, guidance: float) -> float:
        """FLOPs of one denoising step of one image (its unconditional twin too with guidance)."""
        return (2 if guidance > 1 else 1) * self.unet

    def per_image(self, steps: int, guidance: float) -> float:
        """FLOPs of one image: every denoising step, the prompt encodings and the decode."""
        twins = 2 if guidance > 1 else 1
        return steps * twins * self.unet + twins * self.text + self.vae


def generator_configs(generator: str) -> dict:
    """The unet, text_encoder and (if any) vae configurations of a generator: data/paper_costs.yaml for the models it
    names, else the generator's folder (a path, `mini`, or a hub model in the local Hugging Face cache)."""
    known = assumptions().get("generator_configs", {})
    if generator in known:
        return {k: known[generator].get(k) for k in ("unet", "text_encoder", "vae")}
    folder = None
    if generator == "mini":
        from ..generation.mini.model import mini_generator_path

        folder = mini_generator_path()
    elif Path(generator).expanduser().is_dir():
        folder = Path(generator).expanduser()
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(generator, "unet/config.json")
            folder = Path(found).parent.parent if isinstance(found, str) else None
        except Exception:  # a malformed id: not in the cache either
            folder = None
    if folder is None or not (folder / "unet" / "config.json").is_file():
        raise FakeitError(f"no configuration known for generator {generator!r} (its FLOPs are counted from it); known: "
                          f"{', '.join(known)}, mini, a local diffusers folder or a hub model in the local cache")
    read = {k: folder / k / "config.json" for k in ("unet", "text_encoder", "vae")}
    return {k: json.loads(p.read_text()) if p.is_file() else None for k, p in read.items()}


def generator_flops(generator: str) -> GeneratorFlops:
    """The counted FLOPs of a generator's UNet step, text encoding and VAE decode (see the module docstring)."""
    configs = generator_configs(generator)
    return GeneratorFlops(**_cached("generator", configs, lambda: _count_generator(configs)))


def _count_generator(configs: dict) -> dict:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    meta = torch.device("meta")
    with meta:
        unet = UNet2DConditionModel.from_config(configs["unet"])
        text = CLIPTextModel(CLIPTextConfig.from_dict(configs["text_encoder"]))
        vae = AutoencoderKL.from_config(configs["vae"]) if configs.get("vae") else None
    tokens, width = text.config.max_position_embeddings, unet.config.cross_attention_dim
    side, channels = unet.config.sample_size, unet.config.in_channels
    latent = torch.empty(1, channels, side, side, device=meta)
    prompt = torch.empty(1, tokens, width, device=meta)
    with torch.no_grad():
        unet_flops = count_flops(lambda: unet(latent, torch.ones(1, device=meta), encoder_hidden_states=prompt))
        text_flops = count_flops(lambda: text(torch.zeros(1, tokens, dtype=torch.long, device=meta)))
        vae_flops = count_flops(lambda: vae.decode(torch.empty(1, vae.config.latent_channels, side, side, device=meta))) if vae else 0.0
    return {"unet": unet_flops, "text": text_flops, "vae": vae_flops,
            "parameters": float(sum(p.numel() for p in unet.parameters()))}


@dataclass(frozen=True)
class ClassifierFlops:
    """FLOPs of a classifier per image at one input size."""

    forward: float  # inference
    train: float  # forward and backward (gradients of every parameter, none of the input)
    features: int  # width of the penultimate features (what a linear probe sees)


def classifier_flops(arch: str, size: int, num_classes: int = 1000, cifar_stem: bool = False) -> ClassifierFlops:
    """The counted FLOPs of one `size` px image through `arch` (training.models.build_model)."""
    spec = {"arch": arch, "size": size, "num_classes": num_classes, "cifar_stem": cifar_stem}
    return ClassifierFlops(**_cached("classifier", spec, lambda: _count_classifier(**spec)))


def _count_classifier(arch: str, size: int, num_classes: int, cifar_stem: bool) -> dict:
    import torch

    from ..training.models import build_model, encoder

    meta = torch.device("meta")
    with meta:
        model = build_model(arch, num_classes, cifar_stem)
    x = torch.empty(2, 3, size, size, device=meta)  # two images: BatchNorm in training mode needs more than one value
    with torch.no_grad():
        forward = count_flops(lambda: model(x)) / 2
        features = int(encoder(model)(x).shape[-1])
    train = count_flops(lambda: model(x).sum().backward()) / 2
    return {"forward": forward, "train": train, "features": features}


def multicrop_flops(recipe, num_classes: int = 1000) -> float:
    """FLOPs of one training sample of a recipe (training.train.TrainConfig): forward and backward of every crop."""
    per = functools.partial(classifier_flops, recipe.arch, num_classes=num_classes, cifar_stem=recipe.cifar_stem)
    return recipe.global_crops * per(recipe.global_size).train + recipe.local_crops * per(recipe.local_size).train


def probe_flops_per_sample(features: int, classes: int) -> float:
    """FLOPs of the minibatch probe per feature vector and epoch: the linear layer's forward and weight gradients."""
    import torch

    meta = torch.device("meta")
    with meta:
        layer = torch.nn.Linear(features, classes)
    x = torch.empty(1, features, device=meta)
    return count_flops(lambda: layer(x).sum().backward())


def lbfgs_flops_per_evaluation(images: int, features: int, classes: int) -> float:
    """FLOPs of one objective evaluation of the full-batch L-BFGS probe (evaluation.probe.LogisticProblem): the
    logits and the weight gradient, 2 n d K each, and the preconditioner's two (d x d) by (d x K) products."""
    return 4.0 * images * features * classes + 4.0 * features * features * classes


# ----------------------------------------------------------------------------------------------------------------
# Throughputs


@dataclass(frozen=True)
class Figure:
    """One throughput of the cost model, with where it comes from."""

    value: float
    unit: str
    source: str
    measured_on: str = ""  # the device a calibration measured it on; "" for an assumed figure


RATES = {  # name -> what it is
    "generation_flops": "FLOP/s one GPU sustains generating images at the chosen batch",
    "training_flops": "FLOP/s one GPU sustains training (forward and backward of every crop)",
    "inference_flops": "FLOP/s one GPU sustains in evaluation and feature extraction",
    "probe_flops": "FLOP/s of the minibatch probe's linear layer on one GPU (float32)",
    "host_bytes": "bytes/s of features the minibatch probe gathers in host memory and copies to the GPU",
    "multicrop_synthetic_per_core": "multi-crop samples/s one CPU core decodes from a synthetic clone (PNG)",
    "multicrop_real_per_core": "multi-crop samples/s one CPU core decodes from a real training set (JPEG)",
    "eval_decode_per_core": "test-transform images/s one CPU core decodes (JPEG)",
    "cpu_flops_per_core": "float32 FLOP/s of one CPU core (the full-batch L-BFGS probe runs on the CPU)",
}


@dataclass(frozen=True)
class Rates:
    """The throughputs a plan's hours come from (one GPU; per CPU core), each a Figure."""

    figures: dict  # name (RATES) -> Figure

    def __getitem__(self, name: str) -> float:
        """The value of a figure."""
        return self.figures[name].value

    def replaced(self, measured: dict) -> Rates:
        """These rates with some figures replaced (a calibration's)."""
        return Rates({**self.figures, **measured})


def sd_image_steps_per_second(batch: int) -> float:
    """Images x denoising steps per second of Stable Diffusion on the reference GPU at a batch size: the published
    iterations/s x batch, interpolated linearly in the batch between measured batches (constant beyond them)."""
    table = sorted((int(b), float(r) * int(b)) for b, r in figure("sd_iterations_per_second").items())
    if batch <= table[0][0]:
        return table[0][1]
    for (b0, r0), (b1, r1) in zip(table, table[1:]):
        if batch <= b1:
            return r0 + (r1 - r0) * (batch - b0) / (b1 - b0)
    return table[-1][1]


def reference_generator() -> str:
    """The generator whose published throughput the assumed generation rate is (Stable Diffusion v1.4's architecture)."""
    return next(iter(assumptions()["generator_configs"]))


def utilisation() -> float:
    """The share of the GPU's peak that the published ResNet-50 training rate reaches, with the FLOPs counted here."""
    return figure("resnet50_train_images_per_second") * classifier_flops("resnet50", 224).train / figure("gpu_peak_flops")


def assumed_rates(batch: int, guidance: float) -> Rates:
    """The rates of data/paper_costs.yaml's reference GPU and CPU: published throughputs x counted FLOPs."""
    a, gpu = assumptions(), assumptions()["gpu"]
    peak = figure("gpu_peak_flops")
    resnet = figure("resnet50_train_images_per_second")
    train_224 = classifier_flops("resnet50", 224).train
    share = utilisation()
    sd = generator_flops(reference_generator())
    image_steps = sd_image_steps_per_second(batch)
    gen = image_steps * sd.per_step(guidance)
    fp32_peak = figure("gpu_peak_flops_fp32")
    f = {
        "generation_flops": Figure(gen, "FLOP/s", f"{image_steps:.1f} image-steps/s of Stable Diffusion at batch {batch} "
                                   f"on one {gpu} (sd_iterations_per_second, interpolated) x {sd.per_step(guidance) / 1e12:.2f} "
                                   f"TFLOP per image-step counted here = {gen / peak:.0%} of its peak"),
        "training_flops": Figure(resnet * train_224, "FLOP/s", f"{resnet:,} images/s of ResNet-50 training at 224 px on one "
                                 f"{gpu} (NVIDIA DeepLearningExamples) x {train_224 / 1e9:.1f} GFLOP counted here = "
                                 f"{share:.0%} of its {peak / 1e12:.0f} TFLOP/s peak"),
        "inference_flops": Figure(share * peak, "FLOP/s", f"at the training share of the peak ({share:.0%})"),
        "probe_flops": Figure(figure("probe_gemm_share") * fp32_peak, "FLOP/s", f"{figure('probe_gemm_share'):.0%} of the "
                              f"{fp32_peak / 1e12:.1f} TFLOP/s float32 peak ({a['probe_gemm_share']['source']})"),
        "host_bytes": Figure(figure("host_bytes_per_second"), "B/s", a["host_bytes_per_second"]["source"]),
        "multicrop_synthetic_per_core": Figure(figure("multicrop_synthetic_per_core"), "samples/s", a["multicrop_synthetic_per_core"]["source"]),
        "multicrop_real_per_core": Figure(figure("multicrop_real_per_core"), "samples/s", a["multicrop_real_per_core"]["source"]),
        "eval_decode_per_core": Figure(figure("eval_decode_per_core"), "images/s", a["eval_decode_per_core"]["source"]),
        "cpu_flops_per_core": Figure(figure("cpu_flops_per_core"), "FLOP/s", a["cpu_flops_per_core"]["source"]),
    }
    return Rates(f)
