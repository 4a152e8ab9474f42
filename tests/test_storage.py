"""Clones stored as tar shards: the same images as class folders (same identity, same bytes), read back by training,
resumed byte for byte after SIGKILL, written by two torchrun processes, and viewed by smaller clones."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from test_generate import cli_args, env_one_thread, example_env, tree_bytes
from tiny_sd import build_tiny_sd

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets import shards
from fakeit_lib.datasets.images import clone_image, read_manifest, training_samples
from fakeit_lib.generation import generate, writer
from fakeit_lib.generation.generate import GenerateConfig, generate_clones, generate_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "sd")


def config(sd: Path, n: int = 3, **kw) -> GenerateConfig:
    values = dict(classes="fashion-mnist", variant="c", generator=str(sd), images_per_class=n, guidance=2.0, steps=2,
                  size=32, batch_size=2, seed=0)
    return GenerateConfig(**{**values, **kw})


def plain(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in writer.SHARD_FIELDS}


def test_shards_hold_the_images_of_class_folders(tmp_path, tiny_sd, one_thread):
    folder = generate_dataset(config(tiny_sd), tmp_path / "folder", progress=False)
    sharded = generate_dataset(config(tiny_sd, storage="shards", shard_images=7), tmp_path / "shards", progress=False)
    assert generate.dataset_dir(config(tiny_sd)) == generate.dataset_dir(config(tiny_sd, storage="shards"))  # one identity
    assert (folder / "config.yaml").read_text() == (sharded / "config.yaml").read_text()
    assert sorted(p.name for p in sharded.iterdir()) == ["DONE", "config.yaml", "cost.json", "manifest.jsonl", "shards"]
    rows_f, rows_s = read_manifest(folder), read_manifest(sharded)
    assert [plain(r) for r in rows_s] == rows_f and all(tuple(r)[-3:] == writer.SHARD_FIELDS for r in rows_s)
    # 10 classes x 3 images in batches of 2 (2 kept of the first, 1 of the second): a shard closes at >= 7 images
    assert [int(r["shard"][-10:-4]) for r in rows_s[::3]] == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]  # first image of each class
    assert json.loads((sharded / "DONE").read_text())["shards"] == 4
    for r_f, r_s in zip(rows_f, rows_s):
        member = shards.Member(str(sharded / r_s["shard"]), r_s["offset"], r_s["length"], r_s["path"])
        assert shards.read_member(member) == (folder / r_f["path"]).read_bytes()
        assert clone_image(sharded, r_s).tobytes() == clone_image(folder, r_f).tobytes()
    # plain tar files: tarfile lists `<key>.png`, `<key>.json` pairs at the rows' offsets; the json is the folder row
    tar_path = sharded / rows_s[0]["shard"]
    assert tar_path.stat().st_size % tarfile.RECORDSIZE == 0
    members = shards.list_members(tar_path)
    assert [m.name for m in members[:2]] == ["n03595614/n03595614_00000.png", "n03595614/n03595614_00000.json"]
    assert [(m.offset, m.length) for m in members[::2]] == [(r["offset"], r["length"]) for r in rows_s if r["shard"] == rows_s[0]["shard"]]
    assert json.loads(shards.read_member(members[1])) == rows_f[0]
    with tarfile.open(tar_path) as tar:
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in tar.getmembers())
    samples, n = training_samples(sharded)
    assert n == 10 and samples[4] == (shards.Member(str(sharded / rows_s[4]["shard"]), rows_s[4]["offset"], rows_s[4]["length"],
                                                    rows_s[4]["path"]), 1)


def test_bad_storage_and_a_run_begun_with_another_storage_are_refused(tmp_path, tiny_sd, one_thread):
    with pytest.raises(FakeitError, match=r"unknown storage 'tape'; valid: folder, shards"):
        config(tiny_sd, storage="tape").validate()
    with pytest.raises(FakeitError, match=r"shard_images must be >= 1, got 0"):
        config(tiny_sd, shard_images=0).validate()
    folder = generate_dataset(config(tiny_sd, n=2), tmp_path / "ds", progress=False)
    (folder / "DONE").unlink()  # as if killed before the rank files were merged
    (folder / "manifest.jsonl").rename(folder / "manifest.rank0.jsonl")
    with pytest.raises(FakeitError, match=r"was begun with other storage settings \(batch 0 is in class folders, this run "
                                          r"puts it in shards/shard-000000.tar\); resume it with the storage"):
        generate_dataset(config(tiny_sd, n=2, storage="shards"), folder, progress=False)


def test_training_on_shards_equals_training_on_folders(tmp_path, tiny_sd, one_thread):
    import torch

    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import make_config

    data = {s: generate_dataset(config(tiny_sd, n=4, storage=s, shard_images=9), tmp_path / s, progress=False)
            for s in ("folder", "shards")}
    weights = {}
    for s, folder in data.items():  # colour 32-px images: the per-image worker loader, as at paper scale
        cfg = make_config("smoke", data=str(folder), loader="workers", workers=0, epochs=1, global_size=32, local_size=16,
                          device="cpu")
        run = train(cfg, tmp_path / f"run-{s}", log=lambda *a, **k: None)
        weights[s] = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    a, b = weights["folder"], weights["shards"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc.weight"], torch.zeros_like(a["fc.weight"]))


def test_views_of_a_sharded_clone_point_into_its_shards(tmp_path, tiny_sd, one_thread, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "ladder"))
    big, one = generate_clones([config(tiny_sd, 3, storage="shards", shard_images=7), config(tiny_sd, 1, storage="shards")],
                               progress=False)
    done = json.loads((one / "DONE").read_text())
    assert done["view_of"] == big.name and done["storage"] == "shards"
    assert sorted(p.name for p in one.iterdir()) == ["DONE", "config.yaml", "manifest.jsonl"]  # no file per image (and no drawing cost: a view draws nothing)
    rows = read_manifest(one)
    assert {r["shard"] for r in rows} == {f"../{big.name}/shards/shard-00000{k}.tar" for k in range(4)}
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "alone"))
    alone = generate_dataset(config(tiny_sd, 1, storage="shards"), progress=False)
    assert alone.name == one.name and [plain(r) for r in read_manifest(alone)] == [plain(r) for r in rows]
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "ladder", moved)  # relative shard paths: the view moves with the clone it views
    view = moved / one.name
    assert [clone_image(view, r).tobytes() for r in rows] == [clone_image(alone, r).tobytes() for r in read_manifest(alone)]


@pytest.mark.integration
def test_resume_after_sigkill_gives_the_same_shard_bytes(tmp_path, tiny_sd):
    full, killed = tmp_path / "full", tmp_path / "killed"
    storage = ["--storage", "shards", "--shard-images", "6"]
    uninterrupted = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, full), *storage],
                                     env=env_one_thread(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, killed), *storage], env=env_one_thread(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rank_file = killed / "manifest.rank0.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not rank_file.exists() or rank_file.read_text().count("\n") < 10):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "DONE").exists(), "the run ended before it could be killed; make it longer"
    rows = generate.read_rows(rank_file)[0]
    assert 10 <= len(rows) < 40
    finished = {r["shard"] for r in rows} - {rows[-1]["shard"]}
    assert finished  # at least one shard was complete when the run was killed
    stamps = {s: (killed / s).stat().st_mtime_ns for s in finished}
    current = killed / rows[-1]["shard"]
    with open(current, "ab") as f:  # as if the kill had cut the next batch's write short
        f.write(shards.member_header("n03595614/x.png", 4000) + b"\x89PNG half an image")
    with open(rank_file, "ab") as f:  # and a manifest write
        f.write(b'{"path": "n03595614/n03595614_0')
    rerun = subprocess.run([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, killed), *storage], env=env_one_thread(),
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert uninterrupted.wait(timeout=600) == 0
    assert f"{len(rows) - len(rows) % 2} were already done" in rerun.stderr
    assert {s: (killed / s).stat().st_mtime_ns for s in finished} == stamps  # finished shards were not rewritten
    assert tree_bytes(killed) == tree_bytes(full)  # shards, manifest, config and DONE
    assert len(list((killed / "shards").iterdir())) == 7  # 40 images, 4 a class, batches of 2, >= 6 a shard


@pytest.mark.integration
def test_torchrun_two_processes_write_the_shards_of_one(tmp_path, tiny_sd):
    import numpy as np

    one, two = tmp_path / "one", tmp_path / "two"
    storage = ["--storage", "shards", "--shard-images", "6"]
    single = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, one, per_class=3, steps=3), *storage],
                              env=env_one_thread(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = example_env(NPROC=2, CLASSES="fashion-mnist", VARIANT="c_dc", GENERATOR=tiny_sd, IMAGES_PER_CLASS=3, GUIDANCE=2)
    overrides = ["--steps", "3", "--size", "32", "--batch-size", "2", "--seed", "7", "--no-progress", *storage]
    res = subprocess.run(["bash", str(ROOT / "examples" / "generate_torchrun.sh"), str(two), *overrides], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert single.wait(timeout=600) == 0
    # 30 images, 3 a class in 2 batches: 5 shards of two classes; rank 0 writes shards 0, 2, 4 and rank 1 shards 1, 3
    assert "rank 0: generated 18 images" in res.stderr and "rank 1: generated 12 images" in res.stderr
    assert sorted(tree_bytes(one)) == sorted(tree_bytes(two))  # the same files, no rank file left
    assert not list(two.glob("cost.rank*")) and json.loads((two / "cost.json").read_text())["seconds"] > 0
    rows_a, rows_b = read_manifest(one), read_manifest(two)
    assert [plain(r) | {"sha256": 0} for r in rows_a] == [plain(r) | {"sha256": 0} for r in rows_b] and len(rows_a) == 30
    for a, b in zip(rows_a, rows_b):
        pa, pb = (np.asarray(clone_image(d, r), dtype=int) for d, r in ((one, a), (two, b)))
        assert np.abs(pa - pb).max() <= 1
    for tar_path in (two / "shards").iterdir():
        with tarfile.open(tar_path) as tar:
            assert len(tar.getnames()) == 12  # six samples, each a .png and a .json


def test_the_paper_presets_store_clones_as_shards():
    from fakeit_lib.experiments import plan, presets

    for name in ("paper", "paper-1k"):
        preset = presets.load_preset(name, ROOT)
        assert plan.clone_config(preset, "c_dc", 2.0, 1.0).storage == "shards"
        commands = [s.command for s in plan.plan(preset) if s.step == "generate"]
        assert commands and all(c[c.index("--storage") + 1] == "shards" for c in commands)
    mini = presets.load_preset("mini", ROOT)
    assert plan.clone_config(mini, "c_dc", 2.0, 1.0).storage == "folder"
