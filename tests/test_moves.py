"""Stage identities follow what the inputs are, never where they are: an output root and a user's ImageFolder moved
elsewhere keep every finished stage, and a plan made before the data exists names the stages that will be run."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from fakeit_lib.core import store
from fakeit_lib.datasets.classes import load_class_set


def user_image_folder(root: Path, per_class: int = 2) -> Path:
    """A user's real ImageFolder (no config, no manifest): Fashion-MNIST train images in class folders."""
    from fakeit_lib.datasets.fashion_mnist import fashion_mnist

    ds, classes = fashion_mnist("train"), load_class_set("fashion-mnist")
    seen: dict[int, int] = {}
    for i, label in enumerate(ds.targets.tolist()):
        if seen.get(label, 0) < per_class:
            (root / classes[label].folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(ds.data[i].numpy()).save(root / classes[label].folder / f"{i}.png")
            seen[label] = seen.get(label, 0) + 1
        if len(seen) == 10 and min(seen.values()) >= per_class:
            return root
    raise AssertionError("Fashion-MNIST has fewer images than asked")


def chain(real: Path) -> dict[str, Path]:
    """generate (a clone as large as the user's set, in shards) -> train on it and on the user's set -> evaluate both
    on the user's set -> probe the clone's model: the library calls the notebooks make, with defaults for folders."""
    from fakeit_lib.evaluation.evaluate import EvalConfig, evaluate, results_folder
    from fakeit_lib.evaluation.transfer import transfer
    from fakeit_lib.evaluation.transfer_config import TransferConfig
    from fakeit_lib.evaluation.transfer import results_folder as transfer_folder
    from fakeit_lib.generation.generate import GenerateConfig, dataset_dir, generate_dataset
    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import make_config, run_folder

    gen = GenerateConfig(classes="fashion-mnist", variant="c", generator="mini", images_per_class=f"match:{real}", steps=2,
                         guidance=2.0, batch_size=2, storage="shards", shard_images=8)
    planned = {"clone": dataset_dir(gen)}  # before anything exists
    planned["train"] = run_folder(make_config("smoke", data=str(planned["clone"]), class_set="fashion-mnist"))
    clone = generate_dataset(gen, progress=False)
    runs = {}
    for name, data in (("train", clone), ("real", real)):
        runs[name] = train(make_config("smoke", data=str(data), class_set="fashion-mnist", device="cpu"), log=lambda *a, **k: None)
    folders = {"clone": clone, **runs}
    for name, run in runs.items():
        ev = EvalConfig(checkpoint=str(run / "checkpoint.pt"), suite="folder", test_root=str(real), class_set="fashion-mnist",
                        workers=0, device="cpu")
        assert evaluate(ev)["datasets"][real.name]["images"] == 20
        folders[f"eval-{name}"] = results_folder(ev)
    tc = TransferConfig(checkpoint=str(runs["train"] / "checkpoint.pt"), suite="mini", mini_sets=["digits"], workers=0,
                        max_iter=30, device="cpu")
    transfer(tc)
    folders["transfer"] = transfer_folder(tc)
    assert folders["clone"] == planned["clone"] and folders["train"] == planned["train"]  # the plan named them
    return folders


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_moving_the_output_root_and_the_real_data_keeps_every_finished_stage(tmp_path, monkeypatch):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first, second = tmp_path / "disk1", tmp_path / "mnt" / "disk2"
        monkeypatch.setenv("FAKEIT_OUTPUT", str(first / "outputs"))
        real = user_image_folder(first / "imagenet-like" / "train")
        before = {k: v.relative_to(first / "outputs") for k, v in chain(real).items()}
        stages = sorted(p.name for p in (first / "outputs").iterdir())
        assert len([s for s in stages if s != "features"]) == 6  # clone, two runs, two evaluations, one probe
        files = snapshot(first / "outputs")
        second.parent.mkdir(parents=True)
        shutil.move(first, second)  # the output root and the user's data, elsewhere (another node's mount point)
        time.sleep(0.01)
        monkeypatch.setenv("FAKEIT_OUTPUT", str(second / "outputs"))
        after = {k: v.relative_to(second / "outputs") for k, v in chain(second / "imagenet-like" / "train").items()}
        assert after == before  # every stage under the same name
        assert sorted(p.name for p in (second / "outputs").iterdir()) == stages  # no stage folder made anew
        assert snapshot(second / "outputs") == files  # nothing written, nothing rewritten
    finally:
        torch.set_num_threads(threads)


def test_a_user_folder_listing_is_cached_until_a_folder_under_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKEIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    for c in range(3):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(4):
            (root / f"c{c}" / f"{i}.png").write_bytes(b"x" * (i + 1))
    (root / ".hidden").write_text("not data")
    first = store.content_identity(root)
    assert len(first) == 12 and store.content_identity(root) == first
    old = time.time() - 60  # settled: older than LISTING_SETTLE_SECONDS, so the listing is cached
    for d in [root, *root.iterdir()]:
        os.utime(d, (old, old))
    assert store.folder_listing_identity(root) == first
    cached = list((store.cache_root() / "listings").glob("*.json"))
    assert len(cached) == 1 and '"files": 12' in cached[0].read_text()
    calls = []
    monkeypatch.setattr(store, "_walk", lambda *a: calls.append(a) or iter(()))
    assert store.folder_listing_identity(root) == first and calls == []  # the directories' times alone said "unchanged"
    monkeypatch.undo()
    (root / "c1" / "4.png").write_bytes(b"new")  # a file added: its folder's time changes
    second = store.content_identity(root)
    assert second != first
    moved = tmp_path / "elsewhere"
    root.rename(moved)
    assert store.content_identity(moved) == second  # the same files, another place: the same identity


def test_a_clone_is_named_by_its_generator_and_real_counts_not_their_paths(tmp_path):
    from fakeit_lib.generation.generate import GenerateConfig, dataset_dir, recorded_config

    copies = []
    for where in ("here", "there"):  # a local diffusers folder (its identity is its files' content; nothing loads it here)
        copies.append(tmp_path / where / "my-generator")
        (copies[-1] / "unet").mkdir(parents=True)
        (copies[-1] / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
        (copies[-1] / "unet" / "weights.safetensors").write_bytes(bytes(range(256)))
    real = [user_image_folder(tmp_path / where / "train", per_class=1) for where in ("a", "b")]
    configs = [GenerateConfig(classes="fashion-mnist", variant="c", generator=str(g), images_per_class=f"x2:{r}")
               for g, r in zip(copies, real)]
    assert dataset_dir(configs[0]) == dataset_dir(configs[1])
    recorded = recorded_config(configs[0])[0]
    assert recorded["images_per_class"] == "x2" and recorded["generator"] == "my-generator" and recorded["counts"] == [2] * 10
    assert str(tmp_path) not in str(recorded)


def test_a_clone_being_generated_has_the_identity_a_plan_gave_it(tmp_path):
    clone = tmp_path / "fashion-mnist-c-gs2-mini-abc123"
    assert store.content_identity(clone, missing_ok=True) == "stage:fashion-mnist-c-gs2-mini-abc123"  # planned
    store.claim_folder(clone, {"guidance": 2.0, "code": "0123"})  # begun: config.yaml, no manifest yet
    (clone / "manifest.rank0.jsonl").write_text('{"path": "a/0.png"}\n')
    assert store.content_identity(clone) == "stage:fashion-mnist-c-gs2-mini-abc123"
    user = tmp_path / "photos"
    (user / "a").mkdir(parents=True)
    (user / "a" / "0.png").write_bytes(b"x")
    (user / "config.yaml").write_text("camera: mine\n")  # a config of the user's own: still hashed by its files
    assert not store.is_stage_output(user) and store.content_identity(user) != "stage:photos"
