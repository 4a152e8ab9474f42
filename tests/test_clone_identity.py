"""A clone's identity follows what its prompts are made of: a class file by its content, the scene lists for
background prompts; not where the class file lies."""

from pathlib import Path

from fakeit_lib.generation import config as gc
from fakeit_lib.generation.config import GenerateConfig, dataset_dir


def _clone(classes: Path, variant: str = "c_dc") -> Path:
    return dataset_dir(GenerateConfig(classes=str(classes), variant=variant, generator="mini", images_per_class=2))


def test_an_edited_class_file_makes_a_new_clone(tmp_path: Path):
    classes = tmp_path / "shop.tsv"
    classes.write_text("sandal\ta light shoe with straps\tshoe\nboot\ta shoe covering the ankle\tshoe\n")
    before = _clone(classes)
    assert _clone(classes) == before
    classes.write_text("sandal\ta light open shoe with straps\tshoe\nboot\ta shoe covering the ankle\tshoe\n")
    after = _clone(classes)
    assert after != before and after.name.rsplit("-", 1)[0] == before.name.rsplit("-", 1)[0]


def test_background_clones_follow_the_scene_lists(tmp_path: Path, monkeypatch):
    plain, scenes = gc.classes_content("fashion-mnist", "c_hc"), gc.classes_content("fashion-mnist", "c_hc_inside_b")
    assert plain != scenes  # the scene lists count for background prompts only
    data = tmp_path / "fakeit_lib" / "data"
    data.mkdir(parents=True)
    for name in gc.SCENE_FILES:
        (data / name).write_bytes((Path(gc.__file__).parents[1] / "data" / name).read_bytes())
    (data / "places365_categories.txt").write_text((data / "places365_categories.txt").read_text() + "/z/zoo 365\n")
    monkeypatch.setattr(gc, "__file__", str(tmp_path / "fakeit_lib" / "generation" / "config.py"))
    monkeypatch.setattr(gc, "_CLASSES_CONTENT", {})
    assert gc.classes_content("fashion-mnist", "c_hc_inside_b") != scenes
    assert gc.classes_content("fashion-mnist", "c_hc") == plain
