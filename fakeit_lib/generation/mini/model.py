"""The mini text-to-image generator: a pixel-space diffusion pipeline for 28x28 Fashion-MNIST-like images.

`MiniFashionPipeline` is a `diffusers.DiffusionPipeline` with the call signature of `StableDiffusionPipeline`
(prompts, steps, guidance, one `torch.Generator` per image, output type). It has no VAE: a 28x28 image is padded
to 32x32 and folded losslessly with `pixel_unshuffle(2)` into a 4x16x16 "latent", which a small
`UNet2DConditionModel` denoises under cross-attention to a small `CLIPTextModel`. `train_generator` trains one on
the REAL Fashion-MNIST train split (never the test split), captioned with our WordNet prompts of the Fashion-MNIST
classes, with caption dropout for classifier-free guidance and EMA weights for sampling.
"""

from __future__ import annotations

import inspect
import json
import random
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, DiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from ...core.errors import FakeitError
from ...prompts.scenes import load_scenes

NATIVE_SIZE = 28  # Fashion-MNIST images are 28x28 greyscale
PADDED_SIZE = 32  # padded so that two UNet downsamplings of the 16x16 fold stay integral
FOLD = 2  # pixel_unshuffle factor: 1x32x32 -> 4x16x16
PAD = (PADDED_SIZE - NATIVE_SIZE) // 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def mini_generator_path() -> Path:
    """The folder of the shipped mini generator (diffusers format, model card, training records): `data/mini_generator`
    inside the installed package."""
    import importlib.resources

    return Path(str(importlib.resources.files("fakeit_lib") / "data" / "mini_generator"))


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
        guidance_rescale: float = 0.0,
    ):
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)
        # the model's own default for __call__'s guidance_rescale, saved with the pipeline (model_index.json)
        self.register_to_config(guidance_rescale=float(guidance_rescale))
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
        guidance_rescale: float | None = None,
    ) -> ImagePipelineOutput | tuple:
        """Images for the prompts: 28x28 mode-"L" PIL images ("pil"), (B,28,28,1) floats ("np") or (B,1,28,28) ("pt").

        `guidance_rescale` (Lin et al. 2024, Sec. 3.4, as in StableDiffusionPipeline) pulls the guided prediction's
        spread back toward the conditional one's, against the over-exposure of high guidance; None: the model's own.
        """
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
        if guidance_rescale is None:
            guidance_rescale = float(getattr(self.config, "guidance_rescale", 0.0))
        if not 0.0 <= guidance_rescale <= 1.0:
            raise FakeitError(f"guidance_rescale must be in [0, 1], got {guidance_rescale}")
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
        # only stochastic samplers (DDPM, Euler ancestral, ...) take a generator in step()
        step_kwargs = {"generator": generator} if "generator" in inspect.signature(self.scheduler.step).parameters else {}
        for t in self.progress_bar(self.scheduler.timesteps):
            model_in = torch.cat([latents, latents]) if use_cfg else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            pred = self.unet(model_in, t, encoder_hidden_states=text.to(dtype)).sample  # epsilon or v
            if use_cfg:
                pred_uncond, pred_cond = pred.chunk(2)
                pred = pred_uncond + guidance_scale * (pred_cond - pred_uncond)
                if guidance_rescale > 0:
                    pred = rescale_noise_cfg(pred, pred_cond, guidance_rescale=guidance_rescale)
            latents = self.scheduler.step(pred, t, latents, **step_kwargs).prev_sample

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
    from ...datasets.classes import load_class_set
    from ...datasets.wordnet import wordnet
    from ...prompts.variants import PAPER_VARIANTS, build_prompts

    wn = wordnet()
    texts: list[str] = []
    for synset in wn.all_synsets("n"):
        texts.append(" ".join(l.replace("_", " ") for l in synset.lemma_names()))
        texts.append(synset.definition())
    texts.extend(load_scenes())
    class_set = load_class_set("fashion-mnist")
    for variant in PAPER_VARIANTS:
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


def build_schedulers(train_steps: int, beta_schedule: str = "linear", prediction_type: str = "epsilon"
                     ) -> tuple[DDPMScheduler, DDIMScheduler]:
    """The training scheduler (DDPM) and the sampling scheduler (DDIM, trailing, no clipping) of one noise schedule."""
    common = dict(num_train_timesteps=train_steps, beta_schedule=beta_schedule, prediction_type=prediction_type,
                  clip_sample=False)
    ddpm = DDPMScheduler(**common)
    ddim = DDIMScheduler(**common, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing")
    return ddpm, ddim


# ----------------------------------------------------------------------------------------------------------------
# Sampling


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

    from ...datasets.classes import load_class_set
    from ...prompts.variants import PAPER_VARIANTS, build_prompts

    variants = tuple(variants or PAPER_VARIANTS)
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
