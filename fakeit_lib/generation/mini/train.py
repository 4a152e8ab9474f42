"""Training the mini generator on the REAL Fashion-MNIST train split with web-like captions (`fakeit train-generator`).

The recipe of the shipped model (defaults of `GeneratorTrainConfig`): v-prediction on a cosine noise schedule
(Salimans & Ho 2022; Nichol & Dhariwal 2021) with Min-SNR-5 loss weights (Hang et al. 2023), AdamW with warm-up and
cosine decay, EMA weights for sampling, 10% caption dropout for classifier-free guidance. Captions come from
`fakeit_lib.generation.mini.captions` (names, parents and pixel-derived attributes, never the book's prompt variants). Step s draws
its images, noise, timesteps and captions from (seed, s) alone, so a run is reproducible and resumes exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler
from transformers import CLIPTokenizer

from ...core.errors import FakeitError
from ...core.params import from_dict
from .captions import FILLERS, CaptionConfig, fashion_mnist_caption_sampler
from .model import (
    MiniFashionPipeline, build_schedulers, build_text_encoder, build_unet, images_to_latents, tokenizer_corpus,
    train_tokenizer,
)

PREDICTION_TYPES = ("epsilon", "v_prediction")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
SAMPLERS = ("dpm++", "ddim")


@dataclass
class GeneratorTrainConfig:
    """How the mini generator is trained (defaults: the shipped model)."""

    minutes: float = 240.0  # wall-clock cap; training stops at this or at max_steps, whichever comes first
    max_steps: int = 10000  # step cap and length of the learning-rate schedule (makes re-runs reproducible)
    batch_size: int = 64  # real Fashion-MNIST train images per step
    lr: float = 1e-3  # AdamW peak learning rate
    warmup_steps: int = 300  # linear warm-up, then cosine decay to lr_min_ratio*lr at max_steps
    lr_min_ratio: float = 0.05  # final learning rate as a fraction of lr
    weight_decay: float = 0.01  # AdamW weight decay
    ema_decay: float = 0.9995  # EMA of the weights used for sampling (with warm-up)
    caption_dropout: float = 0.1  # fraction of captions replaced by "" (the unconditional prompt of CFG)
    prediction_type: str = "v_prediction"  # what the UNet predicts: epsilon or v_prediction (Salimans & Ho 2022)
    beta_schedule: str = "squaredcos_cap_v2"  # noise schedule: the cosine schedule suits small images; or linear
    snr_gamma: float = 5.0  # Min-SNR-gamma loss weighting (Hang et al. 2023) if > 0; 0 = plain MSE
    guidance_rescale: float = 0.7  # the pipeline's default guidance rescale (Lin et al. 2024), saved with it; chosen
    # after training by measurement (model card): it cuts the saturated pixels of guidance 7.5 five-fold
    sampler: str = "dpm++"  # the pipeline's default sampler, saved with it: dpm++ (DPMSolverMultistep) or ddim
    train_timesteps: int = 1000  # DDPM noise levels
    channels: list[int] = dataclasses.field(default_factory=lambda: [32, 64, 64])  # UNet widths per level
    attention_heads: int = 4  # cross-attention heads in the UNet
    text_hidden: int = 64  # text-encoder width (= UNet cross-attention dim)
    text_layers: int = 2  # text-encoder transformer layers
    text_heads: int = 2  # text-encoder attention heads
    max_tokens: int = 40  # prompt length in tokens (longer prompts are truncated)
    vocab_size: int = 4096  # BPE vocabulary size, at most (4036 with our corpus)
    no_name_share: float = 0.15  # captions with no name of the class (see fakeit_lib.generation.mini.captions)
    parent_share: float = 0.35  # captions with a parent or grandparent word
    attribute_share: float = 0.5  # chance that each attribute of an image is in its caption
    filler_share: float = 0.25  # captions with a web filler ("product photo")
    place_share: float = 0.08  # captions with a place ("in a kitchen")
    plural_share: float = 0.2  # names given in the plural
    checkpoint_every: int = 250  # steps between resumable checkpoints
    log_every: int = 50  # steps between metrics.jsonl rows
    seed: int = 0  # seeds initialisation, batches, noise and captions (step s uses seed and s alone)
    init_from: str | None = None  # a MiniFashionPipeline folder whose weights and tokenizer start the training
    threads: int = 1  # torch CPU threads (1 is fastest on a shared, busy machine; 2+ on an idle one)

    def validate(self) -> None:
        """Raise FakeitError on values that cannot train."""
        shares = ("no_name_share", "parent_share", "attribute_share", "filler_share", "place_share", "plural_share")
        checks = {
            "minutes": self.minutes > 0, "max_steps": self.max_steps >= 1, "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0, "caption_dropout": 0 <= self.caption_dropout < 1, "ema_decay": 0 < self.ema_decay < 1,
            "vocab_size": self.vocab_size >= 600, "checkpoint_every": self.checkpoint_every >= 1,
            "snr_gamma": self.snr_gamma >= 0, "guidance_rescale": 0 <= self.guidance_rescale <= 1,
            **{k: 0 <= getattr(self, k) <= 1 for k in shares},
        }
        bad = [k for k, ok in checks.items() if not ok]
        if self.prediction_type not in PREDICTION_TYPES:
            raise FakeitError(f"prediction_type={self.prediction_type!r} is not valid; valid: {', '.join(PREDICTION_TYPES)}")
        if self.sampler not in SAMPLERS:
            raise FakeitError(f"sampler={self.sampler!r} is not valid; valid: {', '.join(SAMPLERS)}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise FakeitError(f"beta_schedule={self.beta_schedule!r} is not valid; valid: {', '.join(BETA_SCHEDULES)}")
        if bad:
            raise FakeitError(f"invalid generator training parameter(s): {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")

    def caption_config(self) -> CaptionConfig:
        """The caption mix of this run."""
        return CaptionConfig(self.no_name_share, self.parent_share, self.attribute_share, self.filler_share,
                             self.place_share, self.plural_share)


def _lr_factor(step: int, cfg: GeneratorTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def load_train_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The REAL Fashion-MNIST train split as (60000, 1, 28, 28) floats in [0, 1] and official labels."""
    from ...datasets.fashion_mnist import fashion_mnist

    ds = fashion_mnist("train")
    images = ds.data.unsqueeze(1).float() / 255.0
    return images, ds.targets.clone()


def build_pipeline(cfg: GeneratorTrainConfig, tokenizer: CLIPTokenizer) -> tuple[MiniFashionPipeline, DDPMScheduler]:
    """A randomly initialised MiniFashionPipeline for `cfg`, and its training scheduler."""
    torch.manual_seed(cfg.seed)
    text_encoder = build_text_encoder(len(tokenizer), cfg.max_tokens, cfg.text_hidden, cfg.text_layers, cfg.text_heads)
    unet = build_unet(tuple(cfg.channels), cfg.text_hidden, cfg.attention_heads, groups=8)
    ddpm, ddim = build_schedulers(cfg.train_timesteps, cfg.beta_schedule, cfg.prediction_type)
    sampler = ddim if cfg.sampler == "ddim" else DPMSolverMultistepScheduler.from_config(ddim.config)
    pipe = MiniFashionPipeline(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=sampler,
                               guidance_rescale=cfg.guidance_rescale)
    return pipe, ddpm


def loss_weights(ddpm: DDPMScheduler, t: torch.Tensor, snr_gamma: float) -> torch.Tensor:
    """Per-sample MSE weights: Min-SNR-gamma (Hang et al. 2023) for epsilon or v targets; ones if gamma is 0."""
    if snr_gamma <= 0:
        return torch.ones(len(t))
    from diffusers.training_utils import compute_snr

    snr = compute_snr(ddpm, t)
    clipped = torch.clamp(snr, max=snr_gamma)
    # as diffusers' train_text_to_image.py: min(snr, g)/snr for epsilon, min(snr, g)/(snr + 1) for v
    return clipped / (snr + 1) if ddpm.config.prediction_type == "v_prediction" else clipped / snr


def training_target(ddpm: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to predict: the noise (epsilon) or the velocity v = alpha_t*eps - sigma_t*x0."""
    if ddpm.config.prediction_type == "v_prediction":
        return ddpm.get_velocity(x0, noise, t)
    return noise


def _tokenizer_for(cfg: GeneratorTrainConfig, out: Path, tokenizer: CLIPTokenizer | None) -> CLIPTokenizer:
    tokenizer_dir = out / "tokenizer"
    if tokenizer is None and cfg.init_from is not None:
        if not (Path(cfg.init_from) / "model_index.json").exists():
            raise FakeitError(f"init_from={cfg.init_from} is not a diffusers pipeline folder (no model_index.json)")
        tokenizer = CLIPTokenizer.from_pretrained(Path(cfg.init_from) / "tokenizer")
    if tokenizer is not None:
        tokenizer.save_pretrained(tokenizer_dir)
    elif (tokenizer_dir / "tokenizer_config.json").exists():
        tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    else:
        tokenizer = train_tokenizer(tokenizer_corpus(), cfg.vocab_size, cfg.max_tokens)
        tokenizer.save_pretrained(tokenizer_dir)
    return tokenizer


def caption_report(sampler, thresholds: dict, examples: list[tuple[int, str]]) -> dict:
    """What the captions can say: names, parents, attributes and their thresholds, fillers, vocabulary, examples."""
    return {
        "training_images": "the 60,000 real Fashion-MNIST train images (the test split never read)",
        "caption_source": "web-like captions drawn per image and step (fakeit_lib/generation/mini/captions.py), never a prompt variant",
        "prompt_variants_as_captions": [],
        "names": sampler.names, "parents": sampler.parents, "attribute_thresholds": thresholds,
        "attributes": sorted({a for attrs in sampler.attributes for a in attrs}), "fillers": list(FILLERS),
        "places": "the 365 Places365 scene names, after 'in', 'inside' or 'at'",
        "config": dataclasses.asdict(sampler.config), "vocabulary": sorted(sampler.vocabulary()),
        "examples": [{"label": y, "caption": c} for y, c in examples],
    }


def train_generator(
    cfg: GeneratorTrainConfig, out: Path, progress: bool = True, tokenizer: CLIPTokenizer | None = None
) -> Path:
    """Train the mini generator into run folder `out`; returns the folder of the finished pipeline (EMA weights).

    Resumes from the run folder's checkpoint if there is one. `tokenizer` replaces the BPE trained on WordNet.
    """
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    from ...core.store import atomic_write_json, atomic_write_text, claim_folder, is_done, mark_done

    cfg.validate()
    out = claim_folder(Path(out), cfg)
    final = out / "pipeline"
    if is_done(out):
        return final
    torch.set_num_threads(cfg.threads)
    tokenizer = _tokenizer_for(cfg, out, tokenizer)
    pipe, ddpm = build_pipeline(cfg, tokenizer)
    if cfg.init_from is not None:  # continue from a finished pipeline (fresh optimiser, schedule and EMA)
        start = MiniFashionPipeline.from_pretrained(cfg.init_from)
        if start.tokenizer.get_vocab() != tokenizer.get_vocab():
            raise FakeitError(f"init_from={cfg.init_from} has another tokenizer; pass it as the tokenizer too")
        pipe.unet.load_state_dict(start.unet.state_dict())
        pipe.text_encoder.load_state_dict(start.text_encoder.state_dict())
    unet, text_encoder = pipe.unet, pipe.text_encoder
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    ema = EMAModel(params, decay=cfg.ema_decay, use_ema_warmup=True, power=3 / 4)
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["lr_scheduler"])
        ema.load_state_dict(state["ema"])
        step, elapsed = state["step"], state["elapsed"]

    images, labels = load_train_images()
    sampler, thresholds = fashion_mnist_caption_sampler(images, labels, cfg.caption_config())
    examples = list(zip(labels[:40].tolist(), sampler.captions(list(range(40)), labels[:40].tolist(), cfg.seed)))
    atomic_write_json(out / "captions.json", caption_report(sampler, thresholds, examples))
    unet.train()
    text_encoder.train()

    def save_checkpoint() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"unet": unet.state_dict(), "text_encoder": text_encoder.state_dict(), "optimizer": opt.state_dict(),
                    "lr_scheduler": sched.state_dict(), "ema": ema.state_dict(), "step": step, "elapsed": elapsed}, tmp)
        tmp.replace(ckpt)

    budget = cfg.minutes * 60.0
    bar = tqdm(total=cfg.max_steps, initial=step, desc="train-generator", unit="step", disable=not progress)
    log = open(out / "metrics.jsonl", "a")
    t0, losses = time.perf_counter() - elapsed, []
    while step < cfg.max_steps and elapsed < budget:
        step_seed = cfg.seed * 1_000_003 + step  # step s depends on (seed, s) alone
        g = torch.Generator().manual_seed(step_seed)
        idx = torch.randint(len(images), (cfg.batch_size,), generator=g)
        x0 = images_to_latents(images[idx])
        texts = sampler.captions(idx.tolist(), labels[idx].tolist(), step_seed)
        drop = torch.rand(cfg.batch_size, generator=g) < cfg.caption_dropout
        texts = ["" if d else c for c, d in zip(texts, drop.tolist())]
        ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, cfg.train_timesteps, (cfg.batch_size,), generator=g)
        xt = ddpm.add_noise(x0, noise, t)
        pred = unet(xt, t, encoder_hidden_states=text_encoder(ids)[0]).sample
        mse = F.mse_loss(pred, training_target(ddpm, x0, noise, t), reduction="none").mean(dim=(1, 2, 3))
        loss = (mse * loss_weights(ddpm, t, cfg.snr_gamma)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        ema.step(params)
        step += 1
        elapsed = time.perf_counter() - t0
        losses.append(mse.mean().item())
        bar.update(1)
        if step % cfg.log_every == 0:
            row = {"step": step, "mse": float(np.mean(losses)), "lr": sched.get_last_lr()[0],
                   "elapsed_s": round(elapsed, 1), "steps_per_s": round(step / max(elapsed, 1e-9), 3)}
            log.write(json.dumps(row) + "\n")
            log.flush()
            bar.set_postfix(mse=f"{row['mse']:.4f}")
            losses = []
        if step % cfg.checkpoint_every == 0:
            save_checkpoint()
    bar.close()
    log.close()
    save_checkpoint()
    ema.copy_to(params)  # sample with the EMA weights
    unet.eval()
    text_encoder.eval()
    pipe.save_pretrained(final, safe_serialization=True)
    atomic_write_text(out / "train_summary.json", json.dumps(
        {"steps": step, "elapsed_s": round(elapsed, 1), "stopped_by": "max_steps" if step >= cfg.max_steps else "minutes"},
        indent=2) + "\n")
    mark_done(out, {"steps": step, "elapsed_s": round(elapsed, 1)})
    return final


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of `fakeit train-generator`: every field of GeneratorTrainConfig plus --out."""
    parser.add_argument("--out", required=True, type=Path, help="run folder (config.yaml, metrics.jsonl, checkpoint, pipeline/)")
    defaults = GeneratorTrainConfig()
    for f in dataclasses.fields(GeneratorTrainConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, list):
            parser.add_argument(flag, type=int, nargs="+", default=value, help=f"default {value}")
        elif value is None:
            parser.add_argument(flag, type=str, default=None, help="default none")
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Train the mini generator as the command line asks; prints the pipeline folder."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(GeneratorTrainConfig)}
    cfg = from_dict(GeneratorTrainConfig, values)
    final = train_generator(cfg, args.out, progress=not args.quiet)
    print(final)
    return 0
