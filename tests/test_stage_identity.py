"""A stage's folder is named by its config, its inputs' content and its code: change any of them, get a new folder."""

import json
import shutil
from pathlib import Path

import pytest

from fakeit_lib.core import store
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.imports import PACKAGE_DIR
from fakeit_lib.experiments.params import PipelineParams


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A finished-looking synthetic dataset folder: config, manifest and one image per class."""
    from PIL import Image

    folder = tmp_path / "clone"
    rows = []
    for c, wnid in enumerate(["n03595614", "n04489008"]):
        (folder / wnid).mkdir(parents=True)
        Image.new("L", (28, 28), 40 * c).save(folder / wnid / "0.png")
        rows.append({"path": f"{wnid}/0.png", "class_index": c, "wnid": wnid})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "config.yaml").write_text("class_set: fashion-mnist\nguidance: 2.0\n")
    return folder


def test_training_identity_of_a_stage_output_is_known_before_it_exists(dataset: Path):
    from fakeit_lib.training.train import make_config, run_folder

    cfg = make_config("smoke", data=str(dataset), class_set="fashion-mnist")
    before = run_folder(cfg)
    assert run_folder(cfg) == before  # stable
    moved = dataset.rename(dataset.parent / "clone-planned")
    planned = run_folder(make_config("smoke", data=str(moved.parent / "clone"), class_set="fashion-mnist"))
    assert planned == before  # a plan names the run of a clone not yet generated: the run training will use
    assert store.content_identity(moved) == "stage:clone-planned"  # the stage folder's name hashes its own identity
    assert run_folder(make_config("smoke", data=str(moved), class_set="fashion-mnist")) != before


def test_every_stage_identity_follows_its_code(dataset: Path, tmp_path: Path, monkeypatch):
    from fakeit_lib.evaluation.evaluate import EvalConfig
    from fakeit_lib.evaluation.transfer_config import TransferConfig
    from fakeit_lib.training.train import make_config, run_folder

    cfg = make_config("smoke", data=str(dataset), class_set="fashion-mnist")
    ev, tr = EvalConfig(checkpoint="x.pt", suite="mini"), TransferConfig(checkpoint="x.pt", suite="mini")
    before = (run_folder(cfg), ev.identity("abc", "fashion-mnist"), tr.identity("abc"))
    copy = tmp_path / "fakeit_lib"  # the package with one line added to a module all three stages run
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    (copy / "training" / "models.py").write_text((copy / "training" / "models.py").read_text() + "\nEDITED = 1\n")
    for stage in ("training.loop", "evaluation.evaluate", "evaluation.transfer"):
        name = f"fakeit_lib.{stage}"
        assert store._code_version_uncached(name, PACKAGE_DIR) == store.code_version(name)
        monkeypatch.setitem(store._CODE_CACHE, name, store._code_version_uncached(name, copy))
    after = (run_folder(cfg), ev.identity("abc", "fashion-mnist"), tr.identity("abc"))
    assert all(a != b for a, b in zip(after, before))
    assert after[1]["code"] == store._code_version_uncached("fakeit_lib.evaluation.evaluate", copy) != before[1]["code"]


def test_code_version_hashes_the_content_of_the_stage_modules(tmp_path: Path):
    copy = tmp_path / "fakeit_lib"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    train = store.code_version("fakeit_lib.training.loop")
    assert store._code_version_uncached("fakeit_lib.training.loop", copy) == train  # same bytes, elsewhere: same
    augment = copy / "training" / "augment.py"
    text = augment.read_text()
    augment.write_text("# a comment\n" + text.replace("(", "( ", 1).replace('"""', '""" Reworded.', 1))
    assert store._code_version_uncached("fakeit_lib.training.loop", copy) == train  # comment, space, docstring: same code
    augment.write_text(text + "\nEDITED = 1\n")  # one statement more
    assert store._code_version_uncached("fakeit_lib.training.loop", copy) != train
    assert store.code_version("fakeit_lib.evaluation.evaluate") != train
    with pytest.raises(FakeitError, match="'fakeit_lib.paint' is not a module of fakeit_lib"):
        store.code_version("fakeit_lib.paint")


def test_generation_identity_follows_the_generator_weights(tmp_path: Path):
    from tiny_sd import build_tiny_sd

    from fakeit_lib.generation.generate import GenerateConfig, dataset_dir
    from fakeit_lib.generation.pipeline import generator_content

    gen = build_tiny_sd(tmp_path / "gen")
    cfg = GenerateConfig(classes="fashion-mnist", variant="c", generator=str(gen), images_per_class=1)
    before = dataset_dir(cfg)
    other = tmp_path / "gen2"
    shutil.copytree(gen, other)
    weights = next(other.glob("unet/*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the UNet's weights
    weights.write_bytes(bytes(data))
    generator_content.cache_clear()
    changed = dataset_dir(GenerateConfig(classes="fashion-mnist", variant="c", generator=str(other), images_per_class=1))
    assert changed.name.rsplit("-", 1)[1] != before.name.rsplit("-", 1)[1]
    assert generator_content("CompVis/stable-diffusion-v1-4", None) == "hub:CompVis/stable-diffusion-v1-4@default"
    assert generator_content("mini").startswith("sha256:")


def test_content_identity_of_a_user_image_folder(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"12345")
    first = store.content_identity(tmp_path)
    (tmp_path / "a" / "y.png").write_bytes(b"1")
    assert store.content_identity(tmp_path) != first
    with pytest.raises(FakeitError, match="dataset .*nowhere does not exist"):
        store.content_identity(tmp_path / "nowhere")


def test_job_slots_from_the_environment(monkeypatch):
    from fakeit_lib.core.parallel import job_slots

    monkeypatch.setenv("FAKEIT_JOBS", "3")
    assert job_slots() == 3
    monkeypatch.setenv("FAKEIT_JOBS", "many")
    with pytest.raises(FakeitError, match="FAKEIT_JOBS must be a whole number of parallel jobs, got 'many'"):
        job_slots()
    monkeypatch.setenv("FAKEIT_JOBS", "0")
    with pytest.raises(FakeitError, match="FAKEIT_JOBS must be at least 1, got 0"):
        job_slots()


def test_pin_threads_sets_every_pool_whatever_the_environment():
    import os
    import subprocess
    import sys

    code = "import json; from fakeit_lib.core.parallel import pin_threads; print(json.dumps(pin_threads(1)))"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}  # the pools' own defaults: one per core
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    pools = json.loads(res.stdout)
    blas = [k for k in pools if k.split(":")[0] in ("openblas", "mkl", "blis", "flexiblas")]
    assert pools["torch"] == 1 and (blas or sys.platform == "darwin"), pools  # threadpoolctl cannot see Accelerate
    assert set(pools.values()) == {1}, pools
    from fakeit_lib.core.parallel import pin_threads

    with pytest.raises(FakeitError, match="threads must be at least 1, got 0"):
        pin_threads(0)


@pytest.mark.integration
def test_seeds_trained_side_by_side_equal_seeds_trained_in_turn(tmp_path: Path, monkeypatch):
    """Two worker processes give the very weights one process gives (one thread each, seeded per image)."""
    import torch

    from fakeit_lib.experiments import stages as ex

    p = PipelineParams(scale="smoke", class_set="fashion-mnist", recipe="smoke", eval_suite="mini",
                          images_per_class=4, eval_max_images=50, train_seeds=[0, 1])
    weights = {}
    for jobs in ("2", "1"):  # two output roots: the checkpoints record different data paths, so compare weights
        monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / f"out{jobs}"))
        monkeypatch.setenv("FAKEIT_JOBS", jobs)
        runs = ex.model_runs(p, device="cpu")  # bit-exact on the CPU with one thread each; not part of the identity
        weights[jobs] = [torch.load(c, weights_only=False)["model"] for c in runs.checkpoints]
        assert [r["datasets"]["fashion-mnist-test"]["images"] for r in runs.results] == [50, 50]
    for side_by_side, in_turn in zip(weights["2"], weights["1"]):
        assert all(torch.equal(side_by_side[k], in_turn[k]) for k in in_turn)
    assert not torch.equal(weights["1"][0]["fc.weight"], weights["1"][1]["fc.weight"])  # the seeds differ


def test_a_stage_computed_anew_says_why(tmp_path: Path):
    old = tmp_path / "train-clone-resnet10_narrow-aaaaaa"
    store.claim_folder(old, {"epochs": 2, "code": "old-code", "data_content": "x"})
    store.mark_done(old)
    new = tmp_path / "train-clone-resnet10_narrow-bbbbbb"
    note = store.recompute_note(new, {"epochs": 2, "code": "new-code", "data_content": "x"})
    assert note == ("train-clone-resnet10_narrow-bbbbbb: computed anew beside finished train-clone-resnet10_narrow-aaaaaa "
                    "(its code changed; differs in: code)")
    assert store.recompute_note(new, {"epochs": 2, "code": "old-code", "data_content": "y"}).endswith(
        "(its inputs changed; differs in: data_content)")
    assert store.recompute_note(new, {"epochs": 3, "code": "new-code", "data_content": "x"}) is None  # another stage
    assert store.recompute_note(tmp_path / "eval-mini-other-cccccc", {"code": "x"}) is None  # no finished sibling
