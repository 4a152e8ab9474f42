"""The mini text-to-image generator: pipeline contract, tokenizer, training entry, and the shipped model's quality."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from conftest import JUDGE_FLIP_TOLERANCE, measured_judge_accuracy

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.generation.mini.model import (
    MiniFashionPipeline, images_to_latents, latents_to_images, mini_generator_path, train_tokenizer,
)
from fakeit_lib.generation.mini.train import GeneratorTrainConfig, build_pipeline, train_generator

TEXTS = ["sandal, shoe", "a photo of a sandal", "boot, footwear inside airfield", "coat, overgarment", "trouser, pant"]
TINY = dict(channels=[8, 16], attention_heads=2, text_hidden=16, text_layers=1, text_heads=2, max_tokens=16,
            vocab_size=600)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    return train_tokenizer(TEXTS * 20, vocab_size=600, max_length=16)


@pytest.fixture(scope="module")
def tiny_pipe(tiny_tokenizer):
    pipe, _ = build_pipeline(GeneratorTrainConfig(**TINY), tiny_tokenizer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _gens(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_fold_is_lossless():
    x = torch.rand(3, 1, 28, 28)
    z = images_to_latents(x)
    assert tuple(z.shape) == (3, 4, 16, 16)
    assert z.min() >= -1.0 and z.max() <= 1.0
    torch.testing.assert_close(latents_to_images(z), x, rtol=0, atol=1e-6)


def test_tokenizer_vocab_and_no_unknown_bytes(tiny_tokenizer):
    # every byte alone and ending a word, plus two specials, are always in the vocabulary
    assert 2 + 2 * 256 < len(tiny_tokenizer) <= 600
    ids = tiny_tokenizer("Zürich café, sandal").input_ids
    assert tiny_tokenizer.unk_token_id not in ids[1:-1]
    assert tiny_tokenizer.convert_ids_to_tokens(ids[-1]) == "<|endoftext|>"


def test_pipeline_outputs_28x28_greyscale(tiny_pipe):
    out = tiny_pipe(["sandal", "coat"], num_inference_steps=2, generator=_gens([1, 2]))
    assert [im.size for im in out.images] == [(28, 28), (28, 28)]
    assert {im.mode for im in out.images} == {"L"}
    arr = tiny_pipe("sandal", num_inference_steps=2, output_type="np", generator=_gens([1])).images
    assert arr.shape == (1, 28, 28, 1) and 0.0 <= arr.min() and arr.max() <= 1.0
    assert tiny_pipe.latent_shape(3) == (3, tiny_pipe.unet.config.in_channels, 16, 16)
    assert tiny_pipe.unet.config.sample_size * tiny_pipe.vae_scale_factor == 32


@pytest.mark.parametrize("kwargs,message", [
    ({"height": 64}, "only 28x28 images; got height=64"),
    ({"width": 32}, "only 28x28 images; got width=32"),
    ({"output_type": "jpg"}, "unknown output_type 'jpg'"),
    ({"generator": [torch.Generator()] * 3}, "got 3 generators for 1 images"),
])
def test_bad_arguments_rejected(tiny_pipe, kwargs, message):
    with pytest.raises(FakeitError, match=message):
        tiny_pipe("sandal", num_inference_steps=1, **kwargs)


def test_native_height_accepted(tiny_pipe):
    out = tiny_pipe("sandal", num_inference_steps=1, height=28, width=28, output_type="pt", generator=_gens([0]))
    assert tuple(out.images.shape) == (1, 1, 28, 28)


def test_save_load_round_trip_is_exact(tiny_pipe, tmp_path):
    tiny_pipe.save_pretrained(tmp_path / "mini")
    loaded = MiniFashionPipeline.from_pretrained(tmp_path / "mini", local_files_only=True)
    loaded.set_progress_bar_config(disable=True)
    assert len(loaded.tokenizer) == len(tiny_pipe.tokenizer)
    assert loaded.scheduler.config.clip_sample is False
    kw = dict(num_inference_steps=3, guidance_scale=3.0, output_type="np")
    a = tiny_pipe(["sandal", "boot"], generator=_gens([5, 6]), **kw).images
    b = loaded(["sandal", "boot"], generator=_gens([5, 6]), **kw).images
    np.testing.assert_array_equal(a, b)


def test_image_depends_on_its_own_generator_only(tiny_pipe):
    kw = dict(num_inference_steps=3, guidance_scale=4.0, output_type="np")
    alone = tiny_pipe(["coat"], generator=_gens([42]), **kw).images[0]
    batched = tiny_pipe(["sandal", "coat", "trouser, pant"], generator=_gens([7, 42, 9]), **kw).images
    np.testing.assert_allclose(batched[1], alone, atol=2e-3)  # float sums vary with batch size; < 1/255
    assert np.abs(batched[0] - alone).max() > 0.05  # other seeds do give other images


def test_train_generator_runs_and_logs(tmp_path, tiny_tokenizer):
    cfg = GeneratorTrainConfig(**TINY, max_steps=4, batch_size=8, log_every=2, checkpoint_every=2, warmup_steps=2)
    final = train_generator(cfg, tmp_path / "run", progress=False, tokenizer=tiny_tokenizer)
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["max_steps"] == 4
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(np.isfinite(r["mse"]) and r["mse"] > 0 for r in rows)
    assert json.loads((run / "DONE").read_text())["steps"] == 4
    pipe = MiniFashionPipeline.from_pretrained(final)
    pipe.set_progress_bar_config(disable=True)
    assert pipe("sandal", num_inference_steps=1, generator=_gens([0])).images[0].size == (28, 28)
    assert train_generator(cfg, run, progress=False) == final  # a finished run is reused, not retrained


def test_train_generator_rejects_bad_config(tmp_path):
    with pytest.raises(FakeitError, match="max_steps=0"):
        train_generator(GeneratorTrainConfig(max_steps=0), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cli_reports_bad_parameter(tmp_path, capsys):
    from fakeit_lib.cli import main

    assert main(["train-generator", "--out", str(tmp_path / "r"), "--caption-dropout", "1.5"]) == 2
    assert "caption_dropout=1.5" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# The shipped model


def test_shipped_tokenizer_knows_every_word_of_its_captions():
    from fakeit_lib.generation.mini.captions import generator_captions

    pipe = MiniFashionPipeline.from_pretrained(mini_generator_path(), local_files_only=True)
    tok = pipe.tokenizer
    assert len(tok) == pipe.text_encoder.config.vocab_size == 4036
    words = generator_captions("mini")["vocabulary"]
    ids = tok(words).input_ids
    assert tok.model_max_length == 40
    assert sum(j == tok.unk_token_id for i in ids for j in i[1:-1]) == 0


@pytest.mark.integration
def test_shipped_model_fidelity_and_diversity():
    """The shipped generator at its book settings (its own sampler and steps) against the quality bar of its model
    card, judged by the shipped judge: 50 images per class, each bar checked with a 95% Student-t interval over five
    disjoint image samples (independent draws of the generator, as the findings use), so the test states what holds
    of the generator, not of one sample's last digits. Little speckle and saturation compared with real test images,
    faithful at guidance 7.5, more diverse at 2.0, and the prompt changing the image (same seeds, `c` and `c, d_c`)."""
    from fakeit_lib.generation.quality.generator_quality import measure_generator
    from fakeit_lib.paper.stats import mean_interval, paired_differences

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread is fastest on a busy 2-core machine
    try:
        pipe = MiniFashionPipeline.from_pretrained(mini_generator_path(), local_files_only=True)
        steps = json.loads((mini_generator_path() / "training" / "measurements.json").read_text())["steps"]
        result = measure_generator(pipe, images_per_class=50, guidance_scales=(7.5, 2.0), steps=steps, progress=False)
    finally:
        torch.set_num_threads(threads)
    recorded, measured = measured_judge_accuracy()
    assert result["judge_real_test_accuracy"] == recorded and abs(measured - recorded) <= JUDGE_FLIP_TOLERANCE
    real = result["real"]
    hi, lo = result["by_guidance"]["7.5"], result["by_guidance"]["2.0"]
    per_sample = lambda g, key: [s[key] for s in g["samples"]]
    assert len(hi["samples"]) == len(lo["samples"]) == 5
    for g in (hi, lo):
        # speckle: at most 5x the real rate (or one speck in the sample, when real images have almost none)
        assert mean_interval(per_sample(g, "speckle per 1k px")).high <= max(5 * real["speckle per 1k px"], 1000 / (500 * 784)), g
        assert mean_interval(per_sample(g, "saturated share")).high <= 3 * real["saturated share"], g
        assert g["pixel_distance_c_vs_c_dc"] >= 0.01, g  # the prompt changes what is drawn
    assert mean_interval(per_sample(hi, "fidelity")).low >= 0.85, hi["samples"]
    assert min(hi["per_class_fidelity"].values()) >= 0.6, hi["per_class_fidelity"]
    more_diverse = mean_interval(paired_differences(per_sample(lo, "diversity"), per_sample(hi, "diversity")))
    assert more_diverse.low > 0, more_diverse


# ---------------------------------------------------------------------------------------------------------------
# The judge's measures on hand-made inputs


def test_fidelity_measures():
    from fakeit_lib.generation.quality.judge import fidelity, per_class_fidelity

    assert fidelity([0, 1, 2, 2], [0, 1, 2, 1]) == 0.75
    assert per_class_fidelity([0, 1, 2, 2], [0, 1, 2, 1]) == {0: 1.0, 1: 0.5, 2: 1.0}
    with pytest.raises(FakeitError, match="got 2 and 3"):
        fidelity([0, 1], [0, 1, 2])


def test_diversity_is_mean_within_class_distance():
    from fakeit_lib.generation.quality.judge import diversity, per_class_diversity, within_class_spread

    assert within_class_spread(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # an equilateral triangle of side 2: every pair at distance 2
    tri = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0 ** 0.5]])
    assert within_class_spread(tri) == pytest.approx(2.0)
    feats = torch.cat([tri, torch.zeros(2, 2)])
    labels = [0, 0, 0, 1, 1]
    assert per_class_diversity(feats, labels) == {0: pytest.approx(2.0), 1: 0.0}
    assert diversity(feats, labels) == pytest.approx(1.0)


def test_shipped_judge_is_checked_by_its_hash(tmp_path):
    import shutil

    from fakeit_lib.generation.quality.judge import WEIGHTS, load_judge, read_judge, shipped_judge_path

    model, accuracy = load_judge()
    assert accuracy >= 0.85 and not model.training
    copy = tmp_path / "judge"
    shutil.copytree(shipped_judge_path(), copy)
    data = bytearray((copy / WEIGHTS).read_bytes())
    data[-1] ^= 1
    (copy / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(FakeitError, match=r"weights.safetensors has sha256 \w+\.\.\., not the \w+\.\.\. its judge.json records"):
        read_judge(copy)


def test_a_judge_trained_and_saved_loads_back_with_its_record(tmp_path):
    from fakeit_lib.generation.quality.judge import JudgeConfig, read_judge, save_judge, train_judge

    threads = torch.get_num_threads()
    cfg = JudgeConfig(epochs=1, batch_size=1024, width=2, feature_dim=8)
    model, accuracy = train_judge(cfg, progress=False)
    assert torch.get_num_threads() == threads  # the judge's one thread is not left behind
    assert 0.3 < accuracy <= 1.0  # ten classes: a judge this small still learns far above chance in one epoch
    loaded, recorded, recorded_cfg = read_judge(save_judge(model, cfg, accuracy, tmp_path / "j"))
    assert recorded == accuracy and recorded_cfg == cfg
    x = torch.rand(4, 1, 28, 28)
    model.eval()
    torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)


def test_judge_reads_pil_arrays_and_tensors():
    from PIL import Image

    from fakeit_lib.generation.quality.judge import as_tensor

    arr = np.zeros((2, 28, 28, 1), dtype=np.uint8)
    arr[1] = 255
    pil = [Image.fromarray(a[..., 0], mode="L") for a in arr]
    for x in (as_tensor(arr), as_tensor(pil), as_tensor(torch.from_numpy(arr[..., 0]).float() / 255)):
        assert tuple(x.shape) == (2, 1, 28, 28) and x[0].max() == 0.0 and x[1].min() == 1.0
    with pytest.raises(FakeitError, match=r"shape \(2, 1, 32, 32\)"):
        as_tensor(torch.zeros(2, 1, 32, 32))
