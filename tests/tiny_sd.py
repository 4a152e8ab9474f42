"""A tiny, randomly initialised Stable Diffusion pipeline built from configs alone (no hub), for tests.

It runs the real `StableDiffusionPipeline` code (CLIP text encoder, UNet with cross-attention, VAE decoder,
DDIM) at a size that makes a 32 px image in a fraction of a second on a CPU. Its images are noise-like: it is
for testing plumbing (seeds, batching, resume, sharding), not pictures.
"""

from __future__ import annotations

import json
from pathlib import Path

# words the tokenizer learns merges from; anything else is split into characters (or the unknown token)
_CORPUS = [
    "a photo of a t-shirt top trouser pullover dress coat sandal shirt sneaker bag ankle boot",
    "clothing garment footwear container worn on the body upper lower inside outside in an",
    "airfield kitchen beach forest street office bedroom, goldfish tench great white shark",
]


def _tokenizer():
    """A CLIPTokenizer with a small BPE vocabulary trained here on `_CORPUS`."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    alphabet = list("abcdefghijklmnopqrstuvwxyz0123456789-,.'")
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        end_of_word_suffix="</w>",
        special_tokens=["<|startoftext|>", "<|endoftext|>"],
        initial_alphabet=alphabet,
    )
    # every character also as a word end, so any lowercase word has a tokenization
    bpe.train_from_iterator(_CORPUS * 4 + [" ".join(alphabet)], trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tok = CLIPTokenizer(vocab=model["vocab"], merges=merges, model_max_length=32)
    assert len(tok) == len(model["vocab"]) > 100, len(tok)  # transformers can silently build a 2-token vocabulary
    return tok


def _safety_checker():
    """A tiny random NSFW filter of Stable Diffusion's kind (CLIP vision tower + concept embeddings) and its processor."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    small = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(small, vocab_size=100, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(small, image_size=32, patch_size=8),
        projection_dim=16,
    )
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return StableDiffusionSafetyChecker(config), processor


def build_tiny_sd(folder: Path, seed: int = 0, safety_checker: bool = False) -> Path:
    """Save a tiny random StableDiffusionPipeline (diffusers format) in `folder` and return the folder.

    With `safety_checker=True` it also holds a tiny NSFW filter, as Stable Diffusion v1.x on the hub does.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    tokenizer = _tokenizer()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=2,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=32,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    checker, processor = _safety_checker() if safety_checker else (None, None)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=checker,
        feature_extractor=processor,
        requires_safety_checker=safety_checker,
    )
    pipe.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    import sys

    print(build_tiny_sd(Path(sys.argv[1])))
