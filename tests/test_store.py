"""Output folders: the suite writes only to its own temp root (never ./outputs), and folder-name slugs."""

import sys
from pathlib import Path

from conftest import PROJECT_OUTPUTS, _snapshot

from fakeit_lib import store


def test_stages_go_under_the_suites_temp_root(output_root: Path, tmp_path_factory):
    assert store.output_root() == output_root
    assert output_root.is_relative_to(tmp_path_factory.getbasetemp())
    assert not output_root.resolve().is_relative_to(PROJECT_OUTPUTS.resolve())
    assert store.stage_dir("judge-fmnist", {"seed": 0}).parent == output_root


def test_commands_started_by_tests_inherit_it(output_root: Path):
    import subprocess

    code = "from fakeit_lib.store import output_root; print(output_root())"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == str(output_root)


def test_snapshot_sees_a_change(tmp_path: Path):
    assert _snapshot(tmp_path / "missing") is None
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "DONE").write_text("{}")
    before = _snapshot(tmp_path)
    assert set(before) == {".", "run", "run/DONE"}
    (tmp_path / "run" / "DONE").write_text('{"top1": 0.5}')
    assert _snapshot(tmp_path) != before


def test_slug_rules_of_class_and_stage_folders():
    assert store.slug("Otter cat (wild)!", "_") == "otter_cat_wild"  # a class folder
    assert store.slug("CompVis/stable-diffusion-v1.4", keep=".") == "compvis-stable-diffusion-v1.4"  # a stage folder
    assert store.slug("***") == ""
