"""Synthetic datasets: seeds, counts, scenes, manifests, bad input, the real StableDiffusionPipeline path (tiny),
resume after SIGKILL, and torchrun sharding."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeit_lib import cli
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets.images import read_manifest
from fakeit_lib.generation import config, generate, pipeline, writer
from fakeit_lib.generation.generate import GenerateConfig, generate_dataset

sys.path.insert(0, str(Path(__file__).parent))
from tiny_sd import build_tiny_sd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "sd")


@pytest.fixture(scope="module")
def fmnist():
    from fakeit_lib.datasets.classes import load_class_set

    return load_class_set("fashion-mnist")


def tiny_config(generator: Path, **kw) -> GenerateConfig:
    values = dict(classes="fashion-mnist", variant="c", generator=str(generator), images_per_class=2, guidance=2.0,
                  steps=3, size=32, batch_size=3, seed=0)  # fmt: skip
    values.update(kw)
    return GenerateConfig(**values)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file's bytes but cost.json's (the drawing time, which differs between runs by nature)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "cost.json"}


# ----------------------------------------------------------------------------------------------------------------
# Unit: seeds, counts, scenes, batches, manifests


def test_image_seed_depends_on_dataset_seed_class_and_index_alone():
    assert config.image_seed(0, 0, 0) == config.image_seed(0, 0, 0) == 4095316406119061366
    seeds = {config.image_seed(s, c, i) for s in range(2) for c in range(3) for i in range(4)}
    assert len(seeds) == 24 and all(0 <= s < 2**63 for s in seeds)


def test_parse_images_per_class_forms_and_errors():
    assert config.parse_images_per_class(12) == ("n", 12.0, None)
    assert config.parse_images_per_class("12") == ("n", 12.0, None)
    assert config.parse_images_per_class("match") == ("x", 1.0, None)
    assert config.parse_images_per_class("match:/data/train") == ("x", 1.0, "/data/train")
    assert config.parse_images_per_class("x0.1") == ("x", 0.1, None)
    assert config.parse_images_per_class("x50:/data/train") == ("x", 50.0, "/data/train")
    with pytest.raises(FakeitError, match=r"images per class must be >= 1, got 0"):
        config.parse_images_per_class(0)
    with pytest.raises(FakeitError, match=r"multiplier of images per class must be > 0, got 'x0'"):
        config.parse_images_per_class("x0")
    with pytest.raises(FakeitError, match=r"images per class 'lots' is not valid; valid: a number N >= 1, match"):
        config.parse_images_per_class("lots")


def test_counts_match_an_imagefolder_root_keeping_its_imbalance(tmp_path, fmnist):
    real = tmp_path / "real"
    for c in fmnist:
        (real / c.folder).mkdir(parents=True)
        for i in range(c.index + 1):  # class k has k+1 real images
            (real / c.folder / f"{i}.png").write_bytes(b"x")
        (real / c.folder / "notes.txt").write_text("not an image")
    assert generate.resolve_counts(f"match:{real}", fmnist) == list(range(1, 11))
    assert generate.resolve_counts(f"x2:{real}", fmnist) == [2 * k for k in range(1, 11)]
    assert generate.resolve_counts(f"x0.5:{real}", fmnist) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # half up, at least 1
    assert generate.resolve_counts(3, fmnist) == [3] * 10
    (real / fmnist[4].folder / "0.png").unlink()
    (real / fmnist[4].folder / "1.png").unlink()
    for p in (real / fmnist[4].folder).glob("*.png"):
        p.unlink()
    with pytest.raises(FakeitError, match=rf"has no images for 1 class\(es\) of fashion-mnist, e.g. {fmnist[4].folder}"):
        generate.resolve_counts(f"match:{real}", fmnist)
    with pytest.raises(FakeitError, match=r"match root .*nowhere is not a folder"):
        generate.resolve_counts(f"match:{tmp_path / 'nowhere'}", fmnist)


def test_counts_known_without_a_root_only_for_fashion_mnist(fmnist):
    assert generate.resolve_counts("match", fmnist) == [6000] * 10  # the real train split
    assert generate.resolve_counts("x0.1", fmnist) == [600] * 10
    from fakeit_lib.datasets.classes import load_class_set

    with pytest.raises(FakeitError, match=r"real per-class counts of class set 'imagenet100' are not known here"):
        generate.resolve_counts("x2", load_class_set("imagenet100"))


def test_background_prompts_assign_scene_i_plus_c_mod_365(fmnist):
    from fakeit_lib.prompts.scenes import load_scenes
    from fakeit_lib.prompts.variants import build_prompts

    scenes = load_scenes()
    prompts = build_prompts(fmnist, "c_hc_inside_b")
    jobs = generate.plan_images(fmnist, prompts, [400] * 10, seed=0)
    assert len(jobs) == 4000
    for j in jobs[::37]:
        c, i = j.class_index, int(j.path.rsplit("_", 1)[1][:5])
        assert j.scene == scenes[(i + c) % 365]
        assert j.scene in j.text
    class3 = [j.scene for j in jobs if j.class_index == 3]
    assert len(set(class3[:365])) == 365 and class3[365] == class3[0]


def test_plan_labels_paths_and_prefix_stable_batches(fmnist):
    from fakeit_lib.prompts.variants import build_prompts

    prompts = build_prompts(fmnist, "c")
    jobs = generate.plan_images(fmnist, prompts, [2] * 10, seed=5)
    trouser = fmnist[1]  # official Fashion-MNIST label 1
    assert [j.path for j in jobs if j.class_index == 1] == [f"{trouser.folder}/{trouser.folder}_00000.png", f"{trouser.folder}/{trouser.folder}_00001.png"]
    assert jobs[3].seed == config.image_seed(5, 1, 1)
    counts = [7] + [1] * 9
    batches = generate.plan_batches(fmnist, prompts, counts, seed=5, batch_size=3)
    # class 0: images 0-2, 3-5, then 6 kept of the whole batch 6-8; every other class: image 0 of batch 0-2
    assert [(b.jobs[0].class_index, len(b.jobs), b.keep) for b in batches[:4]] == [(0, 3, 3), (0, 3, 3), (0, 3, 1), (1, 3, 1)]
    assert [j.path for b in batches for j in b.kept] == [j.path for j in generate.plan_images(fmnist, prompts, counts, 5)]
    larger = generate.plan_batches(fmnist, prompts, [9] * 10, seed=5, batch_size=3)
    assert batches[2].jobs == larger[2].jobs  # the same pipeline call whatever the clone's size


def test_manifest_shard_repair_drops_truncated_line_and_cut_short_batch(tmp_path):
    batch_of = {"a": 0, "b": 0, "c": 1, "d": 1, "e": 2}
    sizes = [2, 2, 1]
    shard = tmp_path / "manifest.rank0.jsonl"
    rows = [{"path": p} for p in "abce"]  # batch 1 lost its second row, then a line was cut mid-write
    shard.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows) + b'{"path": "d", "cla')
    done = generate.complete_batches(generate.read_rows(shard)[0], batch_of, sizes)
    assert sorted(done) == [0, 2]
    generate.repair_shard(shard, done)
    assert [json.loads(line)["path"] for line in shard.read_text().splitlines()] == ["a", "b", "e"]
    assert shard.read_bytes().endswith(b"\n")


# ----------------------------------------------------------------------------------------------------------------
# Bad input: a clear error, exit 2, nothing created or overwritten


def run_main(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["generate", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--generator", "{tmp}/no-such-model"], r"generator '.*no-such-model' does not exist; valid: 'mini', a local diffusers folder"),
        (["--guidance=-1"], r"guidance must be a number >= 0 \(paper: 7.5 or 2.0\), got -1.0"),
        (["--steps", "0"], r"steps must be >= 1 \(paper: 50\), got 0"),
        (["--images-per-class", "0"], r"images per class must be >= 1, got 0"),
        (["--variant", "c_hc_inside_x"], r"unknown prompt variant 'c_hc_inside_x'; valid: c, c_hc, c_dc, c_hc_inside_b, clip"),
        (["--classes", "imagenet-z"], r"unknown class set 'imagenet-z'; valid: .*imagenet1k"),
        (["--size", "big"], r"--size must be a number of pixels or 'native', got 'big'"),
    ],
)
def test_bad_input_is_a_clear_error_before_anything_is_written(capsys, tmp_path, tiny_sd, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = {"--classes": "fashion-mnist", "--variant": "c", "--generator": str(tiny_sd), "--images-per-class": "1", "--steps": "2"}
    given = {a.split("=")[0] for a in args if a.startswith("--")}
    argv = [x for k, v in base.items() if k not in given for x in (k, v)] + args + ["--out", str(tmp_path / "out")]
    code, err = run_main(capsys, *argv)
    assert code == 2
    assert err.startswith("fakeit generate: error: ") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_an_error(capsys, tmp_path, tiny_sd):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    code, err = run_main(capsys, "--classes", "fashion-mnist", "--generator", str(tiny_sd), "--images-per-class", "1", "--out", str(blocker / "ds"))
    assert code == 2 and f"cannot create output folder {blocker / 'ds'}: {blocker} is a file, not a folder" in err
    assert blocker.read_text() == "keep me"
    # a folder no one may write in, root included (CI runs as root, whom permission bits do not stop)
    code, err = run_main(capsys, "--classes", "fashion-mnist", "--generator", str(tiny_sd), "--out", "/proc/fakeit-ds")
    assert code == 2 and "cannot create output folder /proc/fakeit-ds: /proc is not writable" in err
    assert len(err.strip().splitlines()) == 1 and not Path("/proc/fakeit-ds").exists()
    if os.geteuid() != 0:  # and one whose permission bits forbid it
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, err = run_main(capsys, "--classes", "fashion-mnist", "--generator", str(tiny_sd), "--out", str(locked / "ds"))
        assert code == 2 and "is not writable" in err


def test_folder_with_another_config_is_refused_and_left_intact(capsys, tmp_path, tiny_sd, one_thread):
    folder = generate_dataset(tiny_config(tiny_sd, images_per_class=1), tmp_path / "ds", progress=False)
    before = tree_bytes(folder)
    code, err = run_main(capsys, "--classes", "fashion-mnist", "--variant", "c", "--generator", str(tiny_sd), "--images-per-class", "1",
                         "--guidance", "7.5", "--steps", "3", "--size", "32", "--batch-size", "3", "--out", str(folder))  # fmt: skip
    assert code == 2 and "holds a dataset made with another config (differs in: guidance)" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("x")
    code, err = run_main(capsys, "--classes", "fashion-mnist", "--generator", str(tiny_sd), "--out", str(tmp_path / "other"))
    assert code == 2 and "is not empty and holds no config.yaml" in err
    assert tree_bytes(folder) == before and os.listdir(tmp_path / "other") == ["mine.txt"]


# ----------------------------------------------------------------------------------------------------------------
# The real StableDiffusionPipeline code path, with a tiny random model


def test_tiny_sd_dataset_has_manifest_official_labels_and_done(tmp_path, tiny_sd, fmnist, one_thread):
    cfg = tiny_config(tiny_sd, variant="c_hc_inside_b", images_per_class=2)
    folder = generate_dataset(cfg, tmp_path / "ds", progress=False)
    rows = read_manifest(folder)
    assert len(rows) == 20 and all(tuple(r) == writer.MANIFEST_FIELDS for r in rows)
    for r in rows:
        cls = fmnist.by_folder(r["path"].split("/")[0])
        assert r["class_index"] == cls.index and r["wnid"] == cls.wnid  # official label, not sorted-folder order
        data = (folder / r["path"]).read_bytes()
        assert r["sha256"] == __import__("hashlib").sha256(data).hexdigest()
        assert Image.open(folder / r["path"]).size == (32, 32) and r["size"] == [32, 32]
        assert r["scene"] and r["scene"] in r["text"] and r["steps"] == 3 and r["guidance"] == 2.0
        assert r["revision"] == pipeline.folder_revision(tiny_sd)
    assert sorted(p.name for p in folder.iterdir()) == sorted([c.folder for c in fmnist] + ["DONE", "config.yaml", "cost.json", "manifest.jsonl"])
    assert json.loads((folder / "DONE").read_text())["images"] == 20
    # same config again: found finished, nothing rewritten
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    assert generate_dataset(cfg, folder, progress=False) == folder
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == stamps


def test_initial_noise_does_not_depend_on_batch_size(tmp_path, tiny_sd, monkeypatch, one_thread):
    from diffusers import StableDiffusionPipeline

    seen: list = []
    original = StableDiffusionPipeline.prepare_latents

    def recording(self, *a, **kw):
        latents = original(self, *a, **kw)
        seen.append(latents.clone())
        return latents

    monkeypatch.setattr(StableDiffusionPipeline, "prepare_latents", recording)
    noise, images = {}, {}
    for bs in (1, 4):
        seen.clear()
        folder = generate_dataset(tiny_config(tiny_sd, batch_size=bs, images_per_class=1), tmp_path / f"bs{bs}", progress=False)
        noise[bs] = __import__("torch").cat([s[:1] for s in seen])  # the one kept image of each call
        images[bs] = {r["path"]: np.asarray(Image.open(folder / r["path"]), dtype=int) for r in read_manifest(folder)}
        assert len(seen) == 10 and seen[0].shape[0] == bs  # one whole batch per class: 1 kept, bs - 1 discarded
    assert noise[1].shape == noise[4].shape == (10, 4, 16, 16)
    assert (noise[1] == noise[4]).all()  # exactly the same initial noise for every image
    assert images[1].keys() == images[4].keys()
    assert max(np.abs(images[1][k] - images[4][k]).max() for k in images[1]) <= 1  # sums may round differently


def test_load_generator_picks_scheduler_and_cpu_bf16_autocast(tiny_sd, one_thread):
    import torch

    gen = generate.load_generator(str(tiny_sd), device="cpu", dtype="bfloat16", scheduler="euler")
    assert type(gen.pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    assert gen.autocast == torch.bfloat16 and gen.pipe.unet.dtype == torch.float32  # fp32 weights, bf16 autocast
    assert gen.native_size == 32 and gen.revision == pipeline.folder_revision(tiny_sd) and gen.revision.startswith("sha256:")
    images = generate.generate_images(gen, ["coat", "bag"], [1, 2], guidance=2.0, steps=2, size=16)
    assert [im.size for im in images] == [(16, 16), (16, 16)]
    with pytest.raises(FakeitError, match=r"dtype float16 is not supported on the CPU"):
        generate.load_generator(str(tiny_sd), device="cpu", dtype="float16")
    with pytest.raises(FakeitError, match=r"generator folder .* holds no model_index.json"):
        generate.load_generator(str(tiny_sd / "unet"))


def test_safety_checker_is_off_unless_kept(tmp_path, one_thread):
    folder = build_tiny_sd(tmp_path / "sd-with-checker", safety_checker=True)
    assert json.loads((folder / "model_index.json").read_text())["safety_checker"] == ["stable_diffusion", "StableDiffusionSafetyChecker"]
    off = generate.load_generator(str(folder), device="cpu")
    assert off.pipe.safety_checker is None  # no image can be blacked out and silently lost
    kept = generate.load_generator(str(folder), device="cpu", safety_checker=True)
    assert type(kept.pipe.safety_checker).__name__ == "StableDiffusionSafetyChecker"
    assert len(generate.generate_images(kept, ["coat"], [0], guidance=2.0, steps=2, size=32)) == 1


@pytest.mark.integration  # a fresh interpreter (the hub reads its offline switch at import)
def test_hub_id_unavailable_offline_is_a_clear_error(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}  # an empty cache, no network
    res = subprocess.run([sys.executable, "-m", "fakeit_lib", "generate", "--classes", "fashion-mnist", "--images-per-class", "1",
                          "--device", "cpu", "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 2
    assert "generator 'CompVis/stable-diffusion-v1-4' is not a local folder and could not be had from the Hugging Face hub" in res.stderr
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------------------------------------
# Integration: resume after SIGKILL, torchrun with 2 processes


def cli_args(tiny: Path, out: Path, per_class: int = 4, steps: int = 8) -> list[str]:
    return ["generate", "--classes", "fashion-mnist", "--variant", "c_dc", "--generator", str(tiny), "--images-per-class",
            str(per_class), "--guidance", "2", "--steps", str(steps), "--size", "32", "--batch-size", "2", "--seed", "7",
            "--out", str(out), "--no-progress"]  # fmt: skip


def env_one_thread() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.mark.integration
def test_resume_after_sigkill_is_byte_identical(tmp_path, tiny_sd):
    full, killed = tmp_path / "full", tmp_path / "killed"
    uninterrupted = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, full)], env=env_one_thread(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, killed)], env=env_one_thread(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    shard = killed / "manifest.rank0.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not shard.exists() or shard.read_text().count("\n") < 6):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "DONE").exists(), "the run ended before it could be killed; make it longer"
    done_rows = generate.read_rows(shard)[0]
    assert 6 <= len(done_rows) < 40
    with open(shard, "ab") as f:  # as if the kill had also cut a manifest write short
        f.write(b'{"path": "n03595614/n03595614_0')
    stamps = {r["path"]: (killed / r["path"]).stat().st_mtime_ns for r in done_rows}
    rerun = subprocess.run([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, killed)], env=env_one_thread(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert uninterrupted.wait(timeout=600) == 0
    assert f"{len(done_rows) - len(done_rows) % 2} were already done" in rerun.stderr
    assert {p: (killed / p).stat().st_mtime_ns for p in stamps} == stamps  # nothing complete was regenerated
    assert tree_bytes(killed) == tree_bytes(full)  # images, manifest, config and DONE
    assert len(read_manifest(killed)) == 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_env(**kw) -> dict:
    env = env_one_thread()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # torchrun of this Python
    env.update({k: str(v) for k, v in kw.items()})
    return env


@pytest.mark.integration
def test_torchrun_two_processes_equal_one(tmp_path, tiny_sd):
    """The book's torchrun example, with 2 CPU processes and tiny settings, against one plain process."""
    one, two = tmp_path / "one", tmp_path / "two"
    single = subprocess.Popen([sys.executable, "-m", "fakeit_lib", *cli_args(tiny_sd, one, per_class=3, steps=3)], env=env_one_thread(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = example_env(NPROC=2, CLASSES="fashion-mnist", VARIANT="c_dc", GENERATOR=tiny_sd, IMAGES_PER_CLASS=3, GUIDANCE=2)
    overrides = ["--steps", "3", "--size", "32", "--batch-size", "2", "--seed", "7", "--no-progress", "--storage", "folder"]
    res = subprocess.run(["bash", str(ROOT / "examples" / "generate_torchrun.sh"), str(two), *overrides], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert single.wait(timeout=600) == 0
    # 20 batches of 2, two per class: the first kept whole (rank 0), the second drawn whole, one image kept (rank 1)
    assert "rank 0: generated 20 images" in res.stderr and "rank 1: generated 10 images" in res.stderr
    a, b = tree_bytes(one), tree_bytes(two)
    assert sorted(a) == sorted(b)  # same files, no shard left behind
    rows_a, rows_b = read_manifest(one), read_manifest(two)
    drop = lambda rows: [{k: v for k, v in r.items() if k != "sha256"} for r in rows]  # noqa: E731
    assert drop(rows_a) == drop(rows_b) and len(rows_a) == 30
    for r in rows_a:
        pa, pb = (np.asarray(Image.open(d / r["path"]), dtype=int) for d in (one, two))
        assert np.abs(pa - pb).max() <= 1


@pytest.mark.integration
def test_slurm_example_runs_with_srun_and_scontrol_stand_ins(tmp_path, tiny_sd):
    """The book's sbatch script on one 'node' with 2 CPU processes: srun runs its command, scontrol names this host."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
    (bin_dir / "scontrol").write_text("#!/bin/bash\necho 127.0.0.1\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    out = tmp_path / "slurm"
    env = example_env(OUT=out, CLASSES="fashion-mnist", GENERATOR=tiny_sd, IMAGES_PER_CLASS=1, SLURM_JOB_NODELIST="node1",
                      SLURM_NNODES=1, SLURM_JOB_ID=42, SLURM_GPUS_ON_NODE=2, RDZV_PORT=free_port())  # fmt: skip
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    overrides = ["--steps", "2", "--size", "32", "--batch-size", "2", "--no-progress", "--storage", "folder"]
    res = subprocess.run(["bash", str(ROOT / "examples" / "generate_slurm.sbatch"), *overrides], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rank 1: generated 5 images" in res.stderr  # batches 1, 3, ..., 9 of 10: one batch a class
    rows = read_manifest(out)
    assert [r["class_index"] for r in rows] == list(range(10)) and (out / "DONE").exists()
    assert not list(out.glob("manifest.rank*.jsonl"))


# ----------------------------------------------------------------------------------------------------------------
# The mini generator


@pytest.fixture(scope="module")
def untrained_mini(tmp_path_factory) -> Path:
    """A randomly initialised MiniFashionPipeline saved as a local folder (the shipped one is the trained twin)."""
    from fakeit_lib.generation.mini.model import train_tokenizer
    from fakeit_lib.generation.mini.train import GeneratorTrainConfig, build_pipeline

    cfg = GeneratorTrainConfig()
    pipe, _ = build_pipeline(cfg, train_tokenizer(["t-shirt trouser pullover dress coat sandal shirt sneaker bag ankle boot"], 600, cfg.max_tokens))
    folder = tmp_path_factory.mktemp("mini") / "untrained"
    pipe.save_pretrained(folder)
    return folder


def test_mini_pipeline_folder_loads_by_class_and_writes_official_labels(tmp_path, untrained_mini, fmnist, one_thread):
    assert json.loads((untrained_mini / "model_index.json").read_text())["_class_name"] == "MiniFashionPipeline"
    cfg = GenerateConfig(classes="fashion-mnist", variant="c_dc", generator=str(untrained_mini), images_per_class=1, steps=2, batch_size=4)
    folder = generate_dataset(cfg, tmp_path / "mini", progress=False)
    rows = read_manifest(folder)
    assert [r["class_index"] for r in rows] == list(range(10))  # official labels, in label order
    assert [r["path"].split("/")[0] for r in rows] == [c.folder for c in fmnist]
    for r in rows:
        img = Image.open(folder / r["path"])
        assert img.size == (28, 28) and img.mode == "L" and r["size"] == [28, 28]
    with pytest.raises(FakeitError, match=r"draws only 28x28 images; got size 64"):
        generate_dataset(GenerateConfig(**{**cfg.__dict__, "size": 64}), tmp_path / "mini64", progress=False)
    assert not (tmp_path / "mini64").exists()


def test_mini_generator_writes_fashion_mnist_with_official_labels(tmp_path, fmnist, one_thread):
    cfg = GenerateConfig(classes="fashion-mnist", variant="c_dc", generator="mini", images_per_class=2, guidance=7.5, steps=10, batch_size=10)
    folder = generate_dataset(cfg, tmp_path / "mini", progress=False)
    rows = read_manifest(folder)
    assert [r["class_index"] for r in rows] == [k for k in range(10) for _ in range(2)]
    for r in rows:
        assert r["path"].startswith(fmnist[r["class_index"]].folder + "/") and r["generator"] == "mini"
        img = Image.open(folder / r["path"])
        assert img.size == (28, 28) and img.mode == "L" and r["size"] == [28, 28]


def test_the_drawing_time_of_every_rank_and_run_is_summed_beside_done(tmp_path):
    from fakeit_lib.generation.writer import drawing_seconds, record_seconds

    folder = tmp_path / "clone"
    folder.mkdir()
    record_seconds(folder, 0, 2.0)
    record_seconds(folder, 0, 1.5)  # a rerun resuming the same rank's share adds its own time
    record_seconds(folder, 1, 4.0)
    assert generate.finish(folder, [], {}, [], [], {"images": 0})
    assert drawing_seconds(folder) == 7.5 and not list(folder.glob("cost.rank*"))
    assert json.loads((folder / "DONE").read_text()) == {"images": 0}  # DONE stays free of timings


def _finish_in_a_process(folder: str, start) -> None:
    import sys

    from fakeit_lib.generation import writer

    start.wait()
    sys.exit(0 if writer.finish(Path(folder), [], {}, [], [], {"images": 0}) else 3)


def test_processes_finishing_one_clone_together_merge_its_costs_once(tmp_path):
    """Generation processes that finish a clone at the same moment: before, each merged the rank cost files and one
    could read a file another had just removed (FileNotFoundError); now they take turns on a lock."""
    import multiprocessing as mp

    from fakeit_lib.generation.writer import FINISH_LOCK, drawing_seconds, record_seconds

    for trial in range(8):
        folder = tmp_path / f"clone{trial}"
        folder.mkdir()
        for rank in range(6):
            record_seconds(folder, rank, 1.0 + rank)
        ctx = mp.get_context("fork")
        start = ctx.Event()
        procs = [ctx.Process(target=_finish_in_a_process, args=(str(folder), start)) for _ in range(4)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 4  # each found the clone finished, none raised
        assert drawing_seconds(folder) == 21.0  # 1 + 2 + ... + 6, counted once
        assert not list(folder.glob("cost.rank*")) and not (folder / FINISH_LOCK).exists()
