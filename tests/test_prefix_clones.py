"""Prefix clones: asked for several sizes of one clone, the largest is drawn once and the smaller ones are views of
it, image for image identical to clones drawn in a separate run (tiny Stable Diffusion pipeline)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tiny_sd import build_tiny_sd

from fakeit_lib import cli
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.generation import generate
from fakeit_lib.generation.generate import GenerateConfig, generate_clones, generate_dataset


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "sd")


@pytest.fixture
def calls(monkeypatch):
    """Counts the pipeline calls (batches drawn)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seen = []
    original = generate.generate_images

    def counting(gen, texts, *a, **kw):
        seen.append(len(texts))
        return original(gen, texts, *a, **kw)

    monkeypatch.setattr(generate, "generate_images", counting)
    yield seen
    torch.set_num_threads(threads)  # later tests run with the threads they started with


def config(sd: Path, n: int) -> GenerateConfig:
    return GenerateConfig(classes="fashion-mnist", variant="c", generator=str(sd), images_per_class=n, guidance=2.0,
                          steps=2, size=32, batch_size=2, seed=0)


def content(folder: Path) -> tuple[str, dict[str, bytes]]:
    """The manifest text and every image's bytes (through the links of a view)."""
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    return (folder / "manifest.jsonl").read_text(), {r["path"]: (folder / r["path"]).read_bytes() for r in rows}


def test_smaller_clones_are_views_identical_to_separate_runs(tmp_path, tiny_sd, calls, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "ladder"))
    big, one, two = generate_clones([config(tiny_sd, 3), config(tiny_sd, 1), config(tiny_sd, 2)], progress=False)
    assert calls == [2] * 20  # 3 images a class in whole batches of 2: two calls per class, for the 3x clone only
    assert json.loads((one / "DONE").read_text())["view_of"] == big.name
    link = one / sorted(p.name for p in one.iterdir() if p.is_dir())[0]
    assert all(p.is_symlink() and not os.path.isabs(os.readlink(p)) for p in link.iterdir())
    calls.clear()
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "separate"))
    for n, view in ((1, one), (2, two)):
        alone = generate_dataset(config(tiny_sd, n), progress=False)
        assert alone.name == view.name  # the same identity, hence the same folder name
        assert content(alone) == content(view)  # same manifest text, same image bytes
        assert (alone / "config.yaml").read_text() == (view / "config.yaml").read_text()
    assert calls == [2] * 10 + [2] * 10  # separate runs draw whole batches too


def test_a_finished_larger_clone_is_found_and_viewed_without_drawing(tmp_path, tiny_sd, calls, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "out"))
    big = generate_dataset(config(tiny_sd, 2), progress=False)
    calls.clear()
    small = generate_dataset(config(tiny_sd, 1), progress=False)
    assert calls == [] and json.loads((small / "DONE").read_text())["view_of"] == big.name
    assert len(small.joinpath("manifest.jsonl").read_text().splitlines()) == 10
    # another guidance is another dataset: drawn, not viewed
    other = generate_dataset(GenerateConfig(**{**config(tiny_sd, 1).__dict__, "guidance": 7.5}), progress=False)
    assert len(calls) == 10 and "view_of" not in json.loads((other / "DONE").read_text())


def test_cli_several_sizes_draws_the_largest_once(tmp_path, tiny_sd, calls, monkeypatch, capsys):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "cli"))
    argv = ["generate", "--classes", "fashion-mnist", "--variant", "c", "--generator", str(tiny_sd), "--guidance", "2",
            "--steps", "2", "--size", "32", "--batch-size", "2", "--no-progress", "--images-per-class", "1", "2"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 2 and calls == [2] * 10
    assert json.loads((Path(printed[0]) / "DONE").read_text())["view_of"] == Path(printed[1]).name
    assert cli.main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert "with several --images-per-class values each clone goes to its default folder" in capsys.readouterr().err


def test_clones_that_differ_in_more_than_size_are_refused(tiny_sd):
    other = GenerateConfig(**{**config(tiny_sd, 1).__dict__, "steps": 3})
    with pytest.raises(FakeitError, match=r"differ only in images_per_class; 1 differs from 2 in other settings"):
        generate_clones([config(tiny_sd, 2), other])
