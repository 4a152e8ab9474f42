"""Output folders: the suite writes only to its own temp root (never ./outputs), and folder-name slugs."""

import re
import sys
from pathlib import Path

from fakeit_lib.core import store

ROOT = Path(__file__).resolve().parents[1]


def test_stages_and_caches_go_under_the_suites_own_folders(output_root: Path):
    assert store.output_root() == output_root
    assert not output_root.resolve().is_relative_to((ROOT / "outputs").resolve())
    assert store.cache_root().parent == output_root.parent  # the session's folder, not ~/.cache/fakeit
    assert not store.cache_root().resolve().is_relative_to((Path.home() / ".cache").resolve())
    assert store.stage_dir("judge-fmnist", {"seed": 0}).parent == output_root


def test_commands_started_by_tests_inherit_them(output_root: Path):
    import subprocess

    code = "from fakeit_lib.core.store import cache_root, output_root; print(output_root()); print(cache_root())"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.split() == [str(output_root), str(store.cache_root())]


def test_only_the_store_names_where_outputs_and_caches_go():
    """Every stage folder comes from store.output_root and every cache from store.cache_root: no module reads the
    variables or names ~/.cache itself, so pointing them at a folder (as the tests do) moves everything."""
    offenders = []
    for path in sorted((ROOT / "fakeit_lib").rglob("*.py")):
        if path.name == "store.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"environ.*FAKEIT_(OUTPUT|CACHE)|Path\.home\(|~/\.cache[^ )]*[\"']", line.split("#")[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_slug_rules_of_class_and_stage_folders():
    assert store.slug("Otter cat (wild)!", "_") == "otter_cat_wild"  # a class folder
    assert store.slug("CompVis/stable-diffusion-v1.4", keep=".") == "compvis-stable-diffusion-v1.4"  # a stage folder
    assert store.slug("***") == ""
