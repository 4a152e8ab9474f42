"""Web-like captions of the mini generator: attributes computed from pixels, never a prompt variant, reproducible."""

import random

import pytest
import torch

from fakeit_lib.generation.mini import captions as cap


def _blob(top, bottom, left, right, value=1.0):
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, top:bottom, left:right] = value
    return x


def test_attributes_follow_the_pixels():
    images = torch.cat([_blob(10, 18, 2, 26, 0.95), _blob(2, 26, 11, 17, 0.4), _blob(4, 24, 4, 24, 0.7)])
    labels = torch.tensor([7, 1, 3])  # sneaker, trouser, dress: no sleeve word for any of them
    thresholds = {"area": [0.2, 0.4], "brightness": [0.5, 0.8], "texture": [0.01, 0.2], "aspect": [0.8, 1.3]}
    attrs = cap.image_attributes(images, labels, thresholds)
    assert attrs[0] == ["light", "plain", "wide"]  # 8x24 box: area 0.24, aspect 1/3
    assert attrs[1] == ["small", "dark", "plain", "tall"]  # 24x6 box: area 0.18, aspect 4
    assert attrs[2] == ["large", "plain"]  # 20x20: area 0.51, aspect 1


def test_sleeves_only_for_tops():
    short = torch.zeros(1, 1, 28, 28)
    short[0, 0, 3:9, 2:26] = 0.8  # wide shoulders and sleeves
    short[0, 0, 9:26, 8:20] = 0.8  # a narrower body below
    thresholds = {"area": [0.1, 0.9], "brightness": [0.1, 0.9], "texture": [0.0, 1.0], "aspect": [0.1, 9.0]}
    assert "short sleeves" in cap.image_attributes(short, torch.tensor([0]), thresholds)[0]  # a T-shirt
    assert not any("sleeves" in a for a in cap.image_attributes(short, torch.tensor([8]), thresholds)[0])  # a bag


def test_captions_are_reproducible_and_never_a_prompt_variant():
    from fakeit_lib.datasets.classes import load_class_set
    from fakeit_lib.prompts.variants import build_prompts

    cs = load_class_set("fashion-mnist")
    names = [cap.class_names(c.lemmas, c.label) for c in cs]
    parents = [cap.parent_words(c.hypernyms, []) for c in cs]
    attrs = [["dark", "wide"]] * 200
    sampler = cap.CaptionSampler(names, parents, ("kitchen", "beach"), attrs)
    labels = [i % 10 for i in range(200)]
    a = sampler.captions(list(range(200)), labels, seed=3)
    assert a == sampler.captions(list(range(200)), labels, seed=3)
    assert a != sampler.captions(list(range(200)), labels, seed=4)
    many = sampler.captions(list(range(200)) * 50, labels * 50, seed=0)
    # definitions, CLIP templates and scene prompts never occur; a bare name ("coat") or a name and its parent
    # ("coat, overgarment") can, as on the web: the short variants of one-lemma classes are also plausible captions
    long_prompts = {p.text for v in ("c_dc", "clip", "c_hc_inside_b") for p in build_prompts(cs, v)}
    assert not long_prompts & set(many)
    assert {p.text for p in build_prompts(cs, "c_hc")} & set(many) == {"coat, overgarment", "shirt, garment",
                                                                        "sandal, shoe", "boot, footwear"}
    # the no-name share: about 15% of captions hold no name of their class
    no_name = sum(not any(n in c for n in names[y]) for c, y in zip(many, labels * 50)) / len(many)
    assert 0.10 < no_name < 0.20


def test_seen_word_share_of_prompts():
    vocab = {"sandal", "shoe", "strap"}
    assert cap.seen_word_share("sandal, a shoe with a strap", vocab) == pytest.approx(3 / 6)
    assert cap.words_of("T-shirt, women's tee") == ["t-shirt", "women's", "tee"]
    assert cap.seen_word_share("", vocab) == 1.0


def test_plural_and_class_names():
    assert cap._plural("sandal") == "sandals" and cap._plural("pants") == "pants" and cap._plural("dress") == "dress"
    assert cap.class_names(["jersey", "T-shirt"], "T-shirt/top") == ["jersey", "t-shirt", "top"]
    rng = random.Random(0)
    s = cap.CaptionSampler([["coat"]], [[]], (), [[]], cap.CaptionConfig(no_name_share=1.0, filler_share=0.0, place_share=0.0))
    assert s.caption(0, 0, rng) in cap.FILLERS  # no name and no attribute: a filler, never an empty caption
