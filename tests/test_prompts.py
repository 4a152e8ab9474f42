"""Class sets and prompts: the paper's examples verbatim, counts, and agreement with timm's ImageNet metadata."""

import importlib.util
from pathlib import Path

import pytest

from fakeit_lib.chapters.prompts import prompt_counts
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets.classes import class_set_from_file, load_class_set, timm_info_file
from fakeit_lib.prompts.scenes import load_scenes, readable_scene
from fakeit_lib.prompts.variants import VARIANTS, build_prompts

ROOT = Path(__file__).resolve().parents[1]


def _text(set_name: str, wnid: str, variant: str) -> str:
    return next(p.text for p in build_prompts(load_class_set(set_name), variant) if p.wnid == wnid)


def test_paper_examples_verbatim():
    assert _text("imagenet1k", "n02086910", "c_hc") == "papillon, toy spaniel"
    assert _text("imagenet1k", "n02086910", "c_dc") == (
        "papillon, small slender toy spaniel with erect ears and a black-spotted brown to white coat"
    )
    assert _text("imagenet1k", "n03947888", "c") == "pirate, pirate ship"
    assert _text("imagenet1k", "n03947888", "c_dc") == "pirate, pirate ship, a ship that is manned by pirates"
    assert _text("imagenet1k", "n03947888", "c_hc") == "pirate, pirate ship, ship"
    assert _text("imagenet1k", "n01820546", "clip") == "a photo of a lorikeet"


def test_background_prompts_pair_each_class_with_every_scene():
    prompts = [p for p in build_prompts(load_class_set("imagenet100"), "c_hc_inside_b")]
    assert len(prompts) == 100 * 365
    papillon = [p for p in prompts if p.wnid == "n02086910"]
    assert papillon[0].text == "papillon, toy spaniel inside airfield" and papillon[0].scene == "airfield"
    assert len({p.scene for p in papillon}) == 365


@pytest.mark.parametrize("name,count", [("imagenet1k", 1000), ("imagenet100", 100), ("imagenet-r", 200),
                                        ("imagenet-a", 200), ("fashion-mnist", 10)])
def test_class_set_sizes(name, count):
    cs = load_class_set(name)
    assert len(cs) == count
    assert [c.index for c in cs] == list(range(count))
    assert len({c.wnid for c in cs}) == count


def test_scene_count_and_readable_names():
    scenes = load_scenes()
    assert len(scenes) == 365 and len(set(scenes)) == 365
    assert readable_scene("apartment_building/outdoor") == "outdoor apartment building"
    assert readable_scene("airplane_cabin") == "airplane cabin"
    assert all("_" not in s and "/" not in s for s in scenes)


def _timm_table(name: str) -> dict[str, str]:
    rows = (ln.split("\t", 1) for ln in timm_info_file(name).read_text().splitlines() if ln.strip())
    return {w: t.strip() for w, t in rows}


def test_every_imagenet1k_wnid_matches_timm_lemmas_and_definitions():
    lemmas, definitions = _timm_table("imagenet_synset_to_lemma.txt"), _timm_table("imagenet_synset_to_definition.txt")
    cs = load_class_set("imagenet1k")
    assert [", ".join(c.lemmas) for c in cs] == [lemmas[c.wnid] for c in cs]
    assert [c.definition for c in cs] == [definitions[c.wnid] for c in cs]
    assert cs[0].wnid == "n01440764" and cs[999].wnid == "n15075141"


def _timm_lines(name: str) -> list[str]:
    """A file of timm's ImageNet metadata, found and read here, not through fakeit_lib.datasets.classes."""
    info = Path(importlib.util.find_spec("timm").origin).parent / "data" / "_info"
    return [ln.strip() for ln in (info / name).read_text().splitlines() if ln.strip()]


def _imagenet100_file() -> set[str]:
    return {ln.strip() for ln in (ROOT / "fakeit_lib" / "data" / "imagenet100_wnids.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")}


@pytest.mark.parametrize("name,key,ends,first_indices,shared_with_in100", [
    ("imagenet-r", "r", ("n01443537", "n12267677"), [1, 2, 4, 6, 8], 19),
    ("imagenet-a", "a", ("n01498041", "n12267677"), [6, 11, 13, 15, 17], 15),
])
def test_imagenet_r_and_a_are_timms_200_classes(name, key, ends, first_indices, shared_with_in100):
    wnids, indices = _timm_lines(f"imagenet_{key}_synsets.txt"), [int(i) for i in _timm_lines(f"imagenet_{key}_indices.txt")]
    in1k = _timm_lines("imagenet_synsets.txt")
    cs = load_class_set(name)
    assert len(wnids) == len(indices) == len(cs) == 200
    assert [in1k[i] for i in indices] == wnids  # timm's two files agree with each other
    assert cs.wnids == wnids and [c.index for c in cs] == list(range(200))  # label i = timm's line i (sorted wnids)
    assert [c.imagenet1k_index for c in cs] == indices
    assert (cs[0].wnid, cs[199].wnid) == ends and indices[:5] == first_indices
    assert len(set(wnids) & _imagenet100_file()) == shared_with_in100


def test_overlaps_of_the_test_class_sets():
    r, a = set(load_class_set("imagenet-r").wnids), set(load_class_set("imagenet-a").wnids)
    in100 = set(load_class_set("imagenet100").wnids)
    assert in100 == _imagenet100_file() and len(in100) == 100
    assert (len(r & in100), len(a & in100), len(r & a), len(r & a & in100)) == (19, 15, 86, 6)
    assert sorted(r & in100)[:3] == ["n01820546", "n01855672", "n01983481"]
    assert sorted(a & in100)[:3] == ["n01558993", "n01735189", "n01820546"]


def test_subsets_point_into_imagenet1k():
    in1k = load_class_set("imagenet1k").wnids
    r = load_class_set("imagenet-r")
    assert [c.imagenet1k_index for c in r][:3] == [1, 2, 4]
    assert all(in1k[c.imagenet1k_index] == c.wnid for name in ("imagenet-r", "imagenet-a", "imagenet100")
               for c in load_class_set(name))
    in100 = load_class_set("imagenet100")
    assert in100.wnids == sorted(in100.wnids)  # ImageFolder order


def test_fashion_mnist_classes_keep_official_labels():
    cs = load_class_set("fashion-mnist")
    assert [c.label for c in cs][:3] == ["T-shirt/top", "Trouser", "Pullover"]
    assert cs[5].wnid == "n04133789" and cs[5].name == "sandal"
    assert cs[7].lemmas == ["gym shoe", "sneaker", "tennis shoe"]
    assert _text("fashion-mnist", "n04489008", "c_hc") == "trouser, pant, garment"


def test_counts_table():
    row = prompt_counts(["imagenet100"], list(VARIANTS))[0]
    assert row == {"class set": "ImageNet-100", "classes": 100, "c": 100, "c_hc": 100, "c_dc": 100,
                   "c_hc_inside_b": 36500, "clip": 100, "c_hc_inside_b_matched": 1000}


def test_counts_page_names_every_class_set_in_words():
    from fakeit_lib.chapters.prompts import PromptsParams, counts_frame

    table = counts_frame(PromptsParams(class_set="fashion-mnist", variants=["c", "c_dc"]))
    assert table["class set"].tolist() == ["Fashion-MNIST", "ImageNet-A", "ImageNet-R", "ImageNet-100", "ImageNet-1K"]
    assert list(table.columns) == ["class set", "classes", "class name", "class name + definition"]


def test_class_file_with_wnids_and_free_classes(tmp_path: Path):
    f = tmp_path / "mine.txt"
    f.write_text("# my dataset\nn02086910\notter cat\ta cat that swims\tcat\n\nshoebox\ta box for shoes\n")
    cs = class_set_from_file(f)
    assert [c.name for c in cs] == ["papillon", "otter cat", "shoebox"]
    assert [c.folder for c in cs] == ["n02086910", "otter_cat", "shoebox"]
    texts = [p.text for p in build_prompts(cs, "c_dc")]
    assert texts == ["papillon, small slender toy spaniel with erect ears and a black-spotted brown to white coat",
                     "otter cat, a cat that swims", "shoebox, a box for shoes"]
    assert build_prompts(cs, "clip")[1].text == "a photo of an otter cat"
    with pytest.raises(FakeitError, match="'shoebox' has no parent"):
        build_prompts(cs, "c_hc")


@pytest.mark.parametrize("content,message", [
    ("", "holds no classes"),
    ("# only a comment\n", "holds no classes"),
    ("papillon\n", "line 1 is malformed: 'papillon'"),
    ("n02086910\nn02086910\n", "lists n02086910 twice"),
    ("n99999999\n", "wnid n99999999 is not a noun synset of WordNet 3.0"),
])
def test_bad_class_files(tmp_path: Path, content, message):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(FakeitError, match=message):
        class_set_from_file(f)


def test_unknown_variant_and_set_name_the_valid_choices():
    with pytest.raises(FakeitError, match="unknown prompt variant 'c_x'; valid: c, c_hc, c_dc, c_hc_inside_b, clip"):
        build_prompts(load_class_set("fashion-mnist"), "c_x")
    with pytest.raises(FakeitError, match="unknown class set 'imagenet-2k'; valid: imagenet1k, imagenet100"):
        load_class_set("imagenet-2k")
