"""A preset's parameter names are checked before any work: a typo would leave a declared default in force."""

import pytest

from fakeit_lib.builder.runner import build_book
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.experiments.presets import load_preset, project_root
from fakeit_lib.nb import check_preset_names


def test_every_shipped_preset_names_known_parameters():
    for name in ("smoke", "mini", "paper", "paper-1k"):
        check_preset_names(load_preset(name, project_root()), name)


def test_a_misspelt_preset_parameter_is_refused_before_the_build(tmp_path):
    preset = tmp_path / "typo.yaml"
    preset.write_text((project_root() / "presets" / "smoke.yaml").read_text() + "best_multipler: 10\n")
    with pytest.raises(FakeitError, match=r"sets 'best_multipler', a parameter no notebook of the book has; "
                                          r"did you mean 'best_multiplier'\?"):
        build_book(str(preset), build_dir=tmp_path / "_build")
    assert not (tmp_path / "_build").exists()  # refused before any work


def test_a_paper_build_refuses_unset_data_variables_before_anything_starts(tmp_path, monkeypatch):
    for name in ("IMAGENET100_TRAIN", "IMAGENET_VAL", "TRANSFER_ROOT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(FakeitError, match=r"not set: .*IMAGENET100_TRAIN \(used by .*remove the entries"):
        build_book("paper", build_dir=tmp_path / "_build", gpus=1)
    assert not (tmp_path / "_build").exists()
