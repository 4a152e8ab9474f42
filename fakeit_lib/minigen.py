"""The mini text-to-image generator: a pixel-space diffusion pipeline for 28x28 Fashion-MNIST-like images.

`MiniFashionPipeline` is a `diffusers.DiffusionPipeline` with the call signature of `StableDiffusionPipeline`
(prompts, steps, guidance, one `torch.Generator` per image, output type). It has no VAE: a 28x28 image is padded
to 32x32 and folded losslessly with `pixel_unshuffle(2)` into a 4x16x16 "latent", which a small
`UNet2DConditionModel` denoises under cross-attention to a small `CLIPTextModel`. `train_generator` trains one on
the REAL Fashion-MNIST train split (never the test split), captioned with our WordNet prompts of the Fashion-MNIST
classes, with caption dropout for classifier-free guidance and EMA weights for sampling.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, DiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from .errors import FakeitError

NATIVE_SIZE = 28  # Fashion-MNIST images are 28x28 greyscale
PADDED_SIZE = 32  # padded so that two UNet downsamplings of the 16x16 fold stay integral
FOLD = 2  # pixel_unshuffle factor: 1x32x32 -> 4x16x16
PAD = (PADDED_SIZE - NATIVE_SIZE) // 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def mini_generator_path() -> Path:
    """The folder of the shipped mini generator (diffusers format) inside the installed package."""
    return Path(__file__).resolve().parent / "generators" / "mini"


# ----------------------------------------------------------------------------------------------------------------
# Images <-> "latents" (a lossless fold, no VAE)


def images_to_latents(images: torch.Tensor) -> torch.Tensor:
    """4x16x16 model inputs in [-1, 1] from (B, 1, 28, 28) images in [0, 1] (background padded with black)."""
    x = images * 2.0 - 1.0
    x = F.pad(x, (PAD, PAD, PAD, PAD), value=-1.0)
    return F.pixel_unshuffle(x, FOLD)


def latents_to_images(latents: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) images in [0, 1] from 4x16x16 model outputs (unfolded, cropped, clamped)."""
    x = F.pixel_shuffle(latents, FOLD)[:, :, PAD : PAD + NATIVE_SIZE, PAD : PAD + NATIVE_SIZE]
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# The pipeline


class MiniFashionPipeline(DiffusionPipeline):
    """Text-to-image diffusion in pixel space for 28x28 greyscale images, called like StableDiffusionPipeline."""

    model_cpu_offload_seq = "text_encoder->unet"

    def __init__(
        self,
        unet: UNet2DConditionModel,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        scheduler: DDIMScheduler,
    ):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)
        # a generic caller computes the latent side as padded size // vae_scale_factor (= unet.config.sample_size)
        self.vae_scale_factor = FOLD
        self.native_size = NATIVE_SIZE

    def latent_shape(self, batch_size: int) -> tuple[int, int, int, int]:
        """The shape of the initial noise for `batch_size` images: (B, 4, 16, 16)."""
        s = self.unet.config.sample_size
        return (batch_size, self.unet.config.in_channels, s, s)

    @torch.no_grad()
    def encode_prompt(self, prompts: list[str]) -> torch.Tensor:
        """Text-encoder hidden states (B, tokens, dim) of the prompts."""
        ids = self.tokenizer(
            prompts, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.device)
        return self.text_encoder(ids)[0]

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        num_inference_steps: int = 25,
        guidance_scale: float = 7.5,
        negative_prompt: str | list[str] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        height: int | None = None,
        width: int | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        num_images_per_prompt: int = 1,
    ) -> ImagePipelineOutput | tuple:
        """Images for the prompts: 28x28 mode-"L" PIL images ("pil"), (B,28,28,1) floats ("np") or (B,1,28,28) ("pt")."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise FakeitError(f"prompt must be a string or a non-empty list of strings, got {prompt!r}")
        prompts = [p for p in prompts for _ in range(num_images_per_prompt)]
        for name, value in (("height", height), ("width", width)):
            if value is not None and value != NATIVE_SIZE:
                raise FakeitError(f"the mini generator draws only {NATIVE_SIZE}x{NATIVE_SIZE} images; got {name}={value}")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise FakeitError(f"unknown output_type {output_type!r}; valid: pil, np, pt, latent")
        if num_inference_steps < 1:
            raise FakeitError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if guidance_scale < 0:
            raise FakeitError(f"guidance_scale must be >= 0, got {guidance_scale}")
        batch = len(prompts)
        if isinstance(generator, list) and len(generator) != batch:
            raise FakeitError(f"got {len(generator)} generators for {batch} images; pass one per image")
        if negative_prompt is None:
            negative = [""] * batch
        elif isinstance(negative_prompt, str):
            negative = [negative_prompt] * batch
        else:
            negative = [p for p in negative_prompt for _ in range(num_images_per_prompt)]
            if len(negative) != batch:
                raise FakeitError(f"got {len(negative_prompt)} negative prompts for {len(prompts)} prompts")

        device = self.device
        dtype = self.unet.dtype
        use_cfg = guidance_scale != 1.0
        cond = self.encode_prompt(prompts)
        text = torch.cat([self.encode_prompt(negative), cond]) if use_cfg else cond

        shape = self.latent_shape(batch)
        if latents is None:
            # one generator per image: each image's initial noise depends on its own generator alone
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        elif tuple(latents.shape) != shape:
            raise FakeitError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        latents = latents.to(device=device, dtype=dtype) * self.scheduler.init_noise_sigma

        self.scheduler.set_timesteps(num_inference_steps, device=device)
        for t in self.progress_bar(self.scheduler.timesteps):
            model_in = torch.cat([latents, latents]) if use_cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            eps = self.unet(model_in, t, encoder_hidden_states=text.to(dtype)).sample
            if use_cfg:
                eps_uncond, eps_cond = eps.chunk(2)
                eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
            latents = self.scheduler.step(eps, t, latents, generator=generator).prev_sample

        if output_type == "latent":
            images = latents
        else:
            pixels = latents_to_images(latents.float()).cpu()
            if output_type == "pt":
                images = pixels
            elif output_type == "np":
                images = pixels.permute(0, 2, 3, 1).numpy()
            else:
                arr = (pixels[:, 0].numpy() * 255.0).round().astype(np.uint8)
                images = [Image.fromarray(a, mode="L") for a in arr]
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)


# ----------------------------------------------------------------------------------------------------------------
# Building blocks: tokenizer, text encoder, UNet, schedulers


def tokenizer_corpus() -> list[str]:
    """The texts the tokenizer is trained on: WordNet noun lemmas and glosses, Places365 names, our prompts."""
    from .classes import load_class_set
    from .prompts import VARIANTS, build_prompts, load_scenes
    from .wordnet import wordnet

    wn = wordnet()
    texts: list[str] = []
    for synset in wn.all_synsets("n"):
        texts.append(" ".join(l.replace("_", " ") for l in synset.lemma_names()))
        texts.append(synset.definition())
    texts.extend(load_scenes())
    class_set = load_class_set("fashion-mnist")
    for variant in VARIANTS:
        texts.extend(p.text for p in build_prompts(class_set, variant))
    return texts


def train_tokenizer(texts: Iterable[str], vocab_size: int, max_length: int) -> CLIPTokenizer:
    """A CLIPTokenizer whose BPE is trained on `texts`; every byte is in the vocabulary, so no word is unknown."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    # the same normalisation and pre-tokenisation as CLIPTokenizer, so the learnt merges apply there
    tok = Tokenizer(models.BPE(unk_token=EOS, end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(
            Regex(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
            behavior="removed", invert=True,
        ),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    n_base = 2 + 2 * len(alphabet)  # specials, each byte alone and each byte ending a word
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - n_base + len(alphabet) + 2, special_tokens=[BOS, EOS], initial_alphabet=alphabet,
        end_of_word_suffix="</w>", show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    state = json.loads(tok.to_str())["model"]
    learnt: dict[str, int] = state["vocab"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    # vocabulary in a fixed order: specials, bytes, bytes ending a word, then merges in learnt order
    vocab: dict[str, int] = {BOS: 0, EOS: 1}
    for ch in sorted(alphabet):
        vocab.setdefault(ch, len(vocab))
    for ch in sorted(alphabet):
        vocab.setdefault(ch + "</w>", len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for token in sorted(learnt, key=learnt.get):
        vocab.setdefault(token, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)
    if len(tokenizer) != len(vocab):
        raise RuntimeError(f"CLIPTokenizer built a vocabulary of {len(tokenizer)} tokens, expected {len(vocab)}")
    return tokenizer


def build_text_encoder(vocab_size: int, max_length: int, hidden: int, layers: int, heads: int) -> CLIPTextModel:
    """A small randomly initialised CLIP text transformer."""
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, max_position_embeddings=max_length, projection_dim=hidden,
        bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )
    return CLIPTextModel(config)


def build_unet(channels: tuple[int, ...], cross_attention_dim: int, heads: int, groups: int) -> UNet2DConditionModel:
    """A small UNet on 4x16x16 folds, cross-attention to the text in all but the highest-resolution level."""
    n = len(channels)
    return UNet2DConditionModel(
        sample_size=PADDED_SIZE // FOLD,
        in_channels=FOLD * FOLD,
        out_channels=FOLD * FOLD,
        block_out_channels=tuple(channels),
        layers_per_block=1,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=heads,  # legacy naming: this is the NUMBER of heads
        only_cross_attention=True,
        norm_num_groups=groups,
    )


def build_schedulers(train_steps: int) -> tuple[DDPMScheduler, DDIMScheduler]:
    """The training scheduler (DDPM, epsilon) and the sampling scheduler (DDIM, trailing, no clipping)."""
    ddpm = DDPMScheduler(num_train_timesteps=train_steps, beta_schedule="linear", prediction_type="epsilon",
                         clip_sample=False)
    ddim = DDIMScheduler(num_train_timesteps=train_steps, beta_schedule="linear", prediction_type="epsilon",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing")
    return ddpm, ddim


# ----------------------------------------------------------------------------------------------------------------
# Training


@dataclass
class GeneratorTrainConfig:
    """How the mini generator is trained (defaults: the shipped model)."""

    minutes: float = 45.0  # wall-clock cap; training stops at this or at max_steps, whichever comes first
    max_steps: int = 1700  # step cap and length of the learning-rate schedule (makes re-runs reproducible)
    batch_size: int = 64  # real Fashion-MNIST train images per step
    lr: float = 1e-3  # AdamW peak learning rate
    warmup_steps: int = 200  # linear warm-up, then cosine decay to lr_min_ratio*lr at max_steps
    lr_min_ratio: float = 0.05  # final learning rate as a fraction of lr
    weight_decay: float = 0.01  # AdamW weight decay
    ema_decay: float = 0.999  # EMA of the weights used for sampling (with warm-up)
    caption_dropout: float = 0.1  # fraction of captions replaced by "" (the unconditional prompt of CFG)
    snr_gamma: float = 0.0  # Min-SNR loss weighting (Hang et al. 2023) if > 0; 0 = plain MSE (the shipped model)
    train_timesteps: int = 1000  # DDPM noise levels
    channels: list[int] = dataclasses.field(default_factory=lambda: [32, 64, 64])  # UNet widths per level
    attention_heads: int = 4  # cross-attention heads in the UNet
    text_hidden: int = 64  # text-encoder width (= UNet cross-attention dim)
    text_layers: int = 2  # text-encoder transformer layers
    text_heads: int = 2  # text-encoder attention heads
    max_tokens: int = 40  # prompt length in tokens (longer prompts are truncated; ours are <= 36)
    vocab_size: int = 4096  # BPE vocabulary size, at most (4036 with our corpus)
    checkpoint_every: int = 250  # steps between resumable checkpoints
    log_every: int = 50  # steps between metrics.jsonl rows
    seed: int = 0  # seeds initialisation, batches, noise and captions (step s uses seed and s alone)
    init_from: str | None = None  # a MiniFashionPipeline folder whose weights and tokenizer start the training
    threads: int = 1  # torch CPU threads (1 is fastest on a shared, busy machine; 2+ on an idle one)

    def validate(self) -> None:
        """Raise FakeitError on values that cannot train."""
        checks = {
            "minutes": self.minutes > 0, "max_steps": self.max_steps >= 1, "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0, "caption_dropout": 0 <= self.caption_dropout < 1, "ema_decay": 0 < self.ema_decay < 1,
            "vocab_size": self.vocab_size >= 600, "checkpoint_every": self.checkpoint_every >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise FakeitError(f"invalid generator training parameter(s): {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")


def training_captions(seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Per Fashion-MNIST label: its fixed prompts (variants c, c_hc, c_dc, clip) and its scene prompts."""
    from .classes import load_class_set
    from .prompts import VARIANTS, build_prompts

    class_set = load_class_set("fashion-mnist")
    fixed: list[list[str]] = [[] for _ in range(len(class_set))]
    scenes: list[list[str]] = [[] for _ in range(len(class_set))]
    for variant in VARIANTS:
        for p in build_prompts(class_set, variant):
            (scenes if p.scene is not None else fixed)[p.class_index].append(p.text)
    return fixed, scenes


def _lr_factor(step: int, cfg: GeneratorTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class _CaptionTable:
    """All training captions tokenised once; samples a caption id per image from a step's generator."""

    def __init__(self, tokenizer: CLIPTokenizer, fixed: list[list[str]], scenes: list[list[str]]):
        texts = [""]
        self.fixed_ids, self.scene_ids = [], []
        for f, s in zip(fixed, scenes):
            self.fixed_ids.append(torch.arange(len(texts), len(texts) + len(f)))
            texts.extend(f)
            self.scene_ids.append(torch.arange(len(texts), len(texts) + len(s)))
            texts.extend(s)
        self.input_ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length,
                                   truncation=True, return_tensors="pt").input_ids
        self.n_variants = max(len(f) for f in fixed) + 1  # the fixed variants plus one "scene" variant

    def sample(self, labels: torch.Tensor, dropout: float, g: torch.Generator) -> torch.Tensor:
        """Token ids (B, T): per image a uniformly chosen variant (a random scene for the scene variant), some dropped."""
        rows = []
        u = torch.rand(len(labels), 3, generator=g)
        for y, (uv, us, ud) in zip(labels.tolist(), u.tolist()):
            f, s = self.fixed_ids[y], self.scene_ids[y]
            choices = len(f) + (1 if len(s) else 0)
            k = min(int(uv * choices), choices - 1)
            idx = int(f[k]) if k < len(f) else int(s[min(int(us * len(s)), len(s) - 1)])
            rows.append(0 if ud < dropout else idx)
        return self.input_ids[torch.tensor(rows)]


def _load_train_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The REAL Fashion-MNIST train split as (60000, 1, 28, 28) floats in [0, 1] and official labels."""
    from .realdata import fashion_mnist

    ds = fashion_mnist("train")
    images = ds.data.unsqueeze(1).float() / 255.0
    return images, ds.targets.clone()


def build_pipeline(cfg: GeneratorTrainConfig, tokenizer: CLIPTokenizer) -> tuple[MiniFashionPipeline, DDPMScheduler]:
    """A randomly initialised MiniFashionPipeline for `cfg`, and its training scheduler."""
    torch.manual_seed(cfg.seed)
    text_encoder = build_text_encoder(len(tokenizer), cfg.max_tokens, cfg.text_hidden, cfg.text_layers, cfg.text_heads)
    unet = build_unet(tuple(cfg.channels), cfg.text_hidden, cfg.attention_heads, groups=8)
    ddpm, ddim = build_schedulers(cfg.train_timesteps)
    pipe = MiniFashionPipeline(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=ddim)
    return pipe, ddpm


def train_generator(
    cfg: GeneratorTrainConfig, out: Path, progress: bool = True, tokenizer: CLIPTokenizer | None = None
) -> Path:
    """Train the mini generator into run folder `out`; returns the folder of the finished pipeline (EMA weights).

    Resumes from the run folder's checkpoint if there is one. `tokenizer` replaces the BPE trained on WordNet.
    """
    from diffusers.training_utils import EMAModel, compute_snr
    from tqdm.auto import tqdm

    from .store import atomic_write_text, claim_folder, is_done, mark_done

    cfg.validate()
    out = claim_folder(Path(out), cfg)
    final = out / "pipeline"
    if is_done(out):
        return final
    torch.set_num_threads(cfg.threads)
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

    images, labels = _load_train_images()
    fixed, scenes = training_captions()
    captions = _CaptionTable(tokenizer, fixed, scenes)
    alphas = ddpm.alphas_cumprod
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
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)  # step s depends on (seed, s) alone
        idx = torch.randint(len(images), (cfg.batch_size,), generator=g)
        x0 = images_to_latents(images[idx])
        ids = captions.sample(labels[idx], cfg.caption_dropout, g)
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, cfg.train_timesteps, (cfg.batch_size,), generator=g)
        xt = ddpm.add_noise(x0, noise, t)
        eps = unet(xt, t, encoder_hidden_states=text_encoder(ids)[0]).sample
        mse = F.mse_loss(eps, noise, reduction="none").mean(dim=(1, 2, 3))
        if cfg.snr_gamma > 0:
            snr = compute_snr(ddpm, t)
            weights = torch.clamp(snr, max=cfg.snr_gamma) / snr
            loss = (mse * weights).mean()
        else:
            loss = mse.mean()
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


# ----------------------------------------------------------------------------------------------------------------
# Sampling and measuring


def sample_class_images(
    pipe: MiniFashionPipeline,
    images_per_class: int,
    guidance_scale: float,
    steps: int = 25,
    seed: int = 0,
    variants: tuple[str, ...] | None = None,
    batch_size: int = 100,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(B,1,28,28) images in [0,1], their labels and prompts: `images_per_class` per Fashion-MNIST class.

    Image i of class c uses variant variants[i % len(variants)] (a seeded random scene for c_hc_inside_b) and a
    generator seeded with seed*1_000_000 + c*10_000 + i, so each image is fixed whatever the batch size.
    """
    from tqdm.auto import tqdm

    from .classes import load_class_set
    from .prompts import VARIANTS, build_prompts

    variants = tuple(variants or VARIANTS)
    class_set = load_class_set("fashion-mnist")
    by_variant = {v: build_prompts(class_set, v) for v in variants}
    rng = random.Random(seed)
    jobs: list[tuple[int, int, str]] = []
    for c in range(len(class_set)):
        for i in range(images_per_class):
            v = variants[i % len(variants)]
            options = [p.text for p in by_variant[v] if p.class_index == c]
            jobs.append((c, seed * 1_000_000 + c * 10_000 + i, options[rng.randrange(len(options))]))
    pipe.set_progress_bar_config(disable=True)
    images = []
    for k in tqdm(range(0, len(jobs), batch_size), desc=f"sample g={guidance_scale}", disable=not progress):
        chunk = jobs[k : k + batch_size]
        gens = [torch.Generator().manual_seed(s) for _, s, _ in chunk]
        out = pipe([t for _, _, t in chunk], num_inference_steps=steps, guidance_scale=guidance_scale,
                   generator=gens, output_type="pt")
        images.append(out.images)
    return torch.cat(images), torch.tensor([c for c, _, _ in jobs]), [t for _, _, t in jobs]


def measure_generator(
    pipe: MiniFashionPipeline,
    images_per_class: int = 50,
    guidance_scales: tuple[float, ...] = (7.5, 2.0),
    steps: int = 25,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Judge scores (fidelity, per-class fidelity, diversity) of the generator at each guidance scale."""
    from .judge import load_judge, score_images

    judge, real_acc = load_judge(progress=progress)
    result: dict = {"judge_real_test_accuracy": real_acc, "images_per_class": images_per_class, "steps": steps,
                    "seed": seed, "by_guidance": {}}
    for g in guidance_scales:
        t0 = time.perf_counter()
        images, labels, _ = sample_class_images(pipe, images_per_class, g, steps, seed, progress=progress)
        scores = score_images(judge, images, labels)
        scores["sampling_s"] = round(time.perf_counter() - t0, 1)
        result["by_guidance"][str(g)] = scores
    return result


# ----------------------------------------------------------------------------------------------------------------
# Command line


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
    from .params import from_dict

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(GeneratorTrainConfig)}
    cfg = from_dict(GeneratorTrainConfig, values)
    final = train_generator(cfg, args.out, progress=not args.quiet)
    print(final)
    return 0
