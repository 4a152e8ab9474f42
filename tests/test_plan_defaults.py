"""A plan whose defaults cannot mislead: the cores it assumes, the probes' cost, unset data variables, the read
bandwidth of training, and the examples' storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.experiments import commands, costs, estimates, plan, presets, report
from fakeit_lib.experiments.params import preset_params

ROOT = Path(__file__).resolve().parents[1]
PAPER_VARIABLES = ("IMAGENET100_TRAIN", "IMAGENET_VAL", "IMAGENET_V2", "IMAGENET_SKETCH", "IMAGENET_R", "IMAGENET_A",
                   "TRANSFER_ROOT")


@pytest.fixture
def unset(monkeypatch):
    for name in PAPER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_cores_default_to_a_dgx_a100s_never_this_machines(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert estimates.Cluster(8).cores == 128 and estimates.Cluster(1).cores == 16 and estimates.Cluster(8, 96).cores == 96
    assert estimates.Cluster(8).cores_text() == ("128 CPU cores (assumed: 16 a GPU, as a DGX A100's 128 cores for its 8 GPUs; "
                                             "give --cpus N with your node's)")
    assert estimates.Cluster(8, 96).cores_text() == "96 CPU cores (--cpus)"


def test_probe_products_run_at_half_the_fp32_peak_and_copy_only_what_does_not_fit():
    rates = costs.assumed_rates(8, 2.0)
    assert rates["probe_flops"] == pytest.approx(0.5 * 19.5e12)
    assert estimates.features_fit_on_gpu(437_513, 2048)  # iNaturalist 2018, the largest of the ten: 3.6 GB of 40
    assert estimates.features_fit_on_gpu(1_281_167, 2048)  # ImageNet-1K: 10.5 GB
    assert not estimates.features_fit_on_gpu(5_000_000, 2048)  # 41 GB: more than half of 80 GB
    per = costs.probe_flops_per_sample(2048, 1000) / rates["probe_flops"]
    assert estimates.sgd_probe_seconds(1_000_000, 1_281_167, 2048, 1000, 2, 3, rates) == pytest.approx(3 * 3_281_167 * per)
    copied = per + 4 * 2048 / rates["host_bytes"]
    assert estimates.sgd_probe_seconds(4_000_000, 5_000_000, 2048, 1000, 2, 3, rates) == pytest.approx(3 * 13_000_000 * copied)


def test_a_terminal_plan_refuses_an_unset_data_variable_by_name(unset):
    with pytest.raises(FakeitError) as err:
        report.plan_report("paper", presets.load_preset("paper", ROOT))
    msg = str(err.value)
    assert msg.startswith("the preset names environment variables that are not set: IMAGENET100_TRAIN (used by real_root); "
                          "IMAGENET_VAL (used by eval_roots.val);")
    assert "TRANSFER_ROOT (used by transfer_roots.aircraft, transfer_roots.cars," in msg
    with pytest.raises(FakeitError, match="IMAGENET100_TRAIN"):
        plan.plan(presets.load_preset("paper", ROOT), refuse_unset_data=True)


def test_the_books_plan_names_a_real_model_by_the_command_that_finds_it(unset):
    stages = plan.plan(presets.load_preset("paper", ROOT), 1, 16)
    real = [s for s in stages if s.what == "real"]
    assert [s.step for s in real] == ["train", "evaluate", "transfer"]
    assert real[0].status == "after IMAGENET100_TRAIN is set"
    finder = '"$(fakeit train "$IMAGENET100_TRAIN" --preset paper --set class_set=imagenet100 --print-folder)/checkpoint.pt"'
    assert commands.command_text(real[1]).startswith(f"fakeit evaluate {finder} --suite imagenet --val \"$IMAGENET_VAL\"")
    assert not any("train-$" in commands.command_text(s) or "-train-resnet50-" in commands.command_text(s) for s in stages)
    # training reads its clone's every image each epoch: PNG bytes x samples/s at its planned speed
    train = next(s for s in stages if s.step == "train" and s.what == "c_dc, gs 2, 50x")
    samples = 100 * 6_334_400
    assert train.read_gb_s == pytest.approx(samples * plan.png_kb_per_image() * 1024 / (train.hours * 3600) / 1e9)
    text = report.reading_text(stages)
    assert f"needs ~{train.read_gb_s:,.2f} GB/s of random reads" in text and "node-local disk" in text


def test_train_prints_the_run_folder_it_would_use(tmp_path: Path, monkeypatch, cli_main):
    from PIL import Image

    from fakeit_lib.training.train import make_config, run_folder

    for c in ("a", "b"):
        (tmp_path / "real" / c).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "real" / c / "0.png")
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("FAKEIT_CACHE", str(tmp_path / "cache"))
    res = cli_main("train", str(tmp_path / "real"), "--preset", "smoke", "--print-folder")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(run_folder(make_config("smoke", data=str(tmp_path / "real"))))
    assert not (tmp_path / "out").exists()  # nothing trained, no folder made
    missing = cli_main("train", str(tmp_path / "none"), "--print-folder")
    assert missing.returncode != 0 and "does not exist: its run folder is named by its content" in missing.stderr


def test_the_examples_store_clones_as_shards_as_the_presets_do():
    for name in ("generate_torchrun.sh", "generate_slurm.sbatch"):
        text = (ROOT / "examples" / name).read_text()
        assert '--steps 50 --seed 0 --storage shards \\' in text, name
    assert preset_params(presets.load_preset("paper-1k", ROOT)).storage == "shards"
