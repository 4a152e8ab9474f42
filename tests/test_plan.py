"""The paper-scale plan (stages, commands that resolve to the notebooks' folders, costs from stated assumptions),
its page in the book, and Fig. 1's data."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from fakeit_lib.builder import pages, runner
from fakeit_lib.experiments import presets
from fakeit_lib.chapters.fig1_spider import fig1_axes, paper_fig1_groups, run_fig1_groups
from fakeit_lib.experiments import commands, costs, plan, report
from fakeit_lib.experiments.params import PipelineParams
from fakeit_lib.generation import generate
from fakeit_lib.training.loop import configure_parser as train_parser
from fakeit_lib.training.train import make_config, run_folder

ROOT = Path(__file__).resolve().parents[1]


CPUS = 16  # the cores beside one GPU in these tests (not this machine's): every estimate below is machine-independent


# Throughputs chosen by the tests, round numbers, so that the hours below follow from arithmetic written here (not from
# the plan's own cost functions or the assumptions of data/paper_costs.yaml, which may change)
HAND = {"generation_flops": 100e12, "training_flops": 50e12, "inference_flops": 50e12, "probe_flops": 5e12,
        "host_bytes": 10e9, "multicrop_synthetic_per_core": 100.0, "multicrop_real_per_core": 100.0,
        "eval_decode_per_core": 50.0, "cpu_flops_per_core": 1e11}
HAND_RATES = costs.Rates({k: costs.Figure(v, "-", "chosen by the test") for k, v in HAND.items()})
# FLOPs counted from the published configurations, written out: Stable Diffusion v1.4 (64 x 64 latent, 77 tokens),
# one UNet pass, the text encoder and the VAE decoder; ResNet-50 (100 classes) at 224 and 96 px, forward + backward
SD_UNET, SD_TEXT, SD_VAE = 803.27e9, 13.299e9, 2514.5e9
SD_IMAGE_50_STEPS = 50 * 2 * SD_UNET + 2 * SD_TEXT + SD_VAE  # guided: every step and the text run twice = 82.87 TFLOP
MULTICROP = 24.288e9 + 8 * 4.4621e9  # one 224 px crop and eight 96 px crops = 59.98 GFLOP a sample


@pytest.fixture(scope="module")
def paper_stages():
    return plan.plan(presets.load_preset("paper", ROOT), 1, CPUS)


def test_paper_plan_draws_the_largest_clone_once_and_costs_it(paper_stages):
    generates = [s for s in paper_stages if s.step == "generate"]
    assert len(generates) == 9  # Table 1's eight prompt x guidance clones (c_dc at 2.0 carries the 1/10x-50x ladder), one drawn again
    assert generates[-1].what == "c_dc, gs 2, 1x, generation seed 1" and generates[-1].paper == "second draw"
    ladder = next(s for s in generates if "50x" in s.what)
    assert ladder.what == "c_dc, gs 2, 0.1x/1x/10x/20x/50x" and ladder.paper == "T1 r8, T1 r10, T1 r11, T1 r12"
    # 50 x 126,689 images in 100 classes, whole batches of 8: 6,334,400 images of 82.87 TFLOP at 100 TFLOP/s
    hand = plan.plan(presets.load_preset("paper", ROOT), 1, CPUS, HAND_RATES)
    hand_ladder = next(s for s in hand if s.step == "generate" and "50x" in s.what)
    assert hand_ladder.hours == pytest.approx(6334400 * SD_IMAGE_50_STEPS / 100e12 / 3600, rel=1e-4)  # 1,458 h
    # training the 50x clone: 100 epochs of 6,334,400 images; the recipe's 14 loader workers (one core each) decode
    # 100 samples/s each, 1,400 samples/s, more than the 50 TFLOP/s / 59.98 GFLOP = 834 the GPU takes: GPU-bound
    train_50x = next(s for s in hand if s.step == "train" and s.what == "c_dc, gs 2, 50x")
    assert train_50x.hours == pytest.approx(100 * 6334400 * MULTICROP / 50e12 / 3600, rel=1e-4)  # 211,100 h
    assert train_50x.bound.startswith("GPU-bound: the GPUs take 834 samples/s, 14 cores decode 1,400")
    assert paper_stages[0].what == "the authors' ImageNet-100-SD model" and paper_stages[0].status == "after downloading imagenet_100_sd.pth"
    last = [s for s in paper_stages if s.step == "transfer"][-1]  # random weights: the 1x clone's network at its start
    assert last.paper == "T2 r1" and last.what == "c_dc, gs 2, 1x at initialisation" and "--random-init" in last.command
    hours, disk = commands.totals(paper_stages)
    assert 2500 < hours < 3500 and disk > 2000


def test_generation_estimate_agrees_with_first_principles():
    sd = costs.generator_flops("CompVis/stable-diffusion-v1-4")
    assert sd.parameters == pytest.approx(860e6, rel=0.005)  # the model card's "860M UNet": the configuration is SD's
    per_image = sd.per_image(50, 7.5)  # 50 steps, each the UNet on the latent and its unconditional twin, + decode
    assert 70e12 < per_image < 90e12
    # the plan's rate at batch 8 (published iterations/s) against FLOPs / (A100 peak x the utilisation ResNet-50's
    # published training rate reaches), both with FLOPs counted from the configurations
    plan_seconds = per_image / costs.assumed_rates(8, 7.5)["generation_flops"]
    first_principles = per_image / (312e12 * costs.utilisation())
    assert 0.15 < costs.utilisation() < 0.25
    assert abs(plan_seconds / first_principles - 1) < 0.3
    assert plan_seconds < 0.75 * 1.6  # batch 8 beats the batch-1 benchmark the plan used to take (1.6 s an image)


def test_flops_counted_on_the_meta_device_are_those_of_a_real_forward(tmp_path):
    """The count needs no weights: on a tiny UNet (tests/tiny_sd.py) meta tensors give the FLOPs real tensors give,
    attention included (on the CPU, torch's fused attention kernel has no FLOP formula: the real forward runs
    attention as matrix products here, as it runs on the meta device)."""
    import json

    import torch
    from diffusers import UNet2DConditionModel
    from tiny_sd import build_tiny_sd
    from torch.nn.attention import SDPBackend, sdpa_kernel

    folder = build_tiny_sd(tmp_path / "sd")
    counted = costs.generator_flops(str(folder))
    unet = UNet2DConditionModel.from_config(json.loads((folder / "unet" / "config.json").read_text()))
    text = json.loads((folder / "text_encoder" / "config.json").read_text())
    side = unet.config.sample_size

    def forward():
        unet(torch.randn(1, 4, side, side), torch.ones(1), encoder_hidden_states=torch.randn(1, text["max_position_embeddings"], 32))

    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        real = costs.count_flops(forward)
    with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        fused = costs.count_flops(forward)
    assert counted.unet == real > fused > 0  # what the fused kernel hides is the attention the plan must count
    # the first convolution by hand: 2 x (3 x 3 x 4) multiply-adds per output value, 32 channels, side x side values
    conv_in = 2 * 3 * 3 * 4 * 32 * side * side
    assert costs.count_flops(lambda: unet.conv_in(torch.randn(1, 4, side, side))) == conv_in


def test_training_is_costed_by_what_limits_it():
    p = presets.load_preset("paper", ROOT)
    recipe = make_config("paper", data="-")
    sample = costs.multicrop_flops(recipe, 100)
    per_crop = [costs.classifier_flops("resnet50", s, 100).train for s in (224, 96)]
    assert sample == per_crop[0] + 8 * per_crop[1] and 2.9 < per_crop[0] / costs.classifier_flops("resnet50", 224, 100).forward < 3.0

    def train_1x(gpus, cpus, rates):
        return next(s for s in plan.plan(p, gpus, cpus, rates) if s.step == "train" and s.what == "c_dc, gs 2, 1x")

    a = HAND_RATES
    samples = 100 * 126700  # 100 epochs of the 1x clone: 1,267 images a class (126,689 / 100 classes, rounded)
    few, capped = train_1x(8, 16, a), train_1x(8, 1024, a)
    assert few.hours == pytest.approx(samples / (8 * 100) / 3600, rel=1e-9)  # 16 cores - 8 training loops: 8 decode
    assert few.bound.startswith("loader-bound: 8 cores decode 800 samples/s")
    # with cores to spare, the recipe's 14 loader workers per process decode 8 x 14 x 100 = 11,200 samples/s, more
    # than 8 GPUs take (8 x 50 TFLOP/s / 59.98 GFLOP = 6,668): the paper recipe is then GPU-bound
    assert capped.hours == pytest.approx(samples * MULTICROP / (8 * 50e12) / 3600, rel=1e-4)
    assert capped.bound.startswith("GPU-bound: the GPUs take 6,668 samples/s")
    fast = train_1x(8, 16, a.replaced({"multicrop_synthetic_per_core": costs.Figure(1e4, "samples/s", "test", "cpu")}))
    assert fast.hours == pytest.approx(samples * MULTICROP / (8 * 50e12) / 3600, rel=1e-4)
    assert fast.bound.startswith("GPU-bound") and few.gpus == fast.gpus == 8 and few.gpu_hours == 8 * few.hours


def test_transfer_features_and_probes(tmp_path):
    from fakeit_lib.evaluation.probe import SGDSettings

    p = {**presets.load_preset("paper-1k", ROOT), "transfer_roots": {"in1k": "/x/in1k"}}
    stage = next(s for s in plan.plan(p, 1, 9, HAND_RATES) if s.step == "transfer" and s.what.endswith("at initialisation"))
    images = 1281167 + 50000
    # 8 cores decode 50 images/s each; the GPU would take 50 TFLOP/s / 8.178 GFLOP (ResNet-50 at 224 px) = 6,114/s
    features = images / (8 * 50)
    s = SGDSettings()
    # forward and weight gradient at 5 TFLOP/s; ImageNet-1K's 10.9 GB of features stay on an 80 GB GPU: no host copy
    per = 4 * 2048 * 1000 / 5e12
    probe = 100 * (16 * int(1281167 * 0.8) + 1281167) * per  # 16 (lr, wd) fits on 80%, the refit on all, 100 epochs
    assert len(s.lrs) * len(s.wds) == 16
    assert stage.hours == pytest.approx((features + probe) / 3600, rel=1e-3)  # + the bias's few FLOPs
    assert stage.bound == "features 0.9 h (loader-bound: 8 cores decode 400 images/s, the GPUs would take 6,114), probes 0.8 h on one process"


def test_stages_shard_over_the_gpus():
    p = presets.load_preset("paper", ROOT)
    one, four = plan.plan(p, 1, 64), plan.plan(p, 4, 64)
    for a, b in zip(one, four):
        assert (a.step, a.what, a.command) == (b.step, b.what, b.command) and (a.gpus, b.gpus) == (1, 4)
        if a.step == "generate":  # drawing shards evenly: a quarter of the wall clock, the same GPU-hours
            assert b.hours == pytest.approx(a.hours / 4, rel=1e-12) and b.gpu_hours == pytest.approx(a.gpu_hours, rel=1e-12)
        if a.step == "transfer":  # the features shard, the probes spread (the largest set bounds them)
            assert a.hours / 4 < b.hours < a.hours
    assert commands.totals(four)[0] < commands.totals(one)[0] / 2
    assert commands.command_text(four[2]).startswith("torchrun --standalone --nproc-per-node 4 -m fakeit_lib generate ")
    assert commands.command_text(one[2]).startswith("fakeit generate ")


def test_plan_uses_measured_figures():
    p = presets.load_preset("paper", ROOT)
    a = costs.assumed_rates(8, 2.0)
    measured = a.replaced({"generation_flops": costs.Figure(1e12, "FLOP/s", "test", "cpu")})
    ladder = next(s for s in plan.plan(p, 2, CPUS, measured) if s.step == "generate" and "50x" in s.what)
    sd = costs.generator_flops("CompVis/stable-diffusion-v1-4")
    assert ladder.hours == pytest.approx(6334400 * sd.per_image(50, 2.0) / (2 * 1e12) / 3600, rel=1e-9)


def test_plan_commands_resolve_to_the_folders_the_notebooks_use(paper_stages, monkeypatch, tmp_path):
    from fakeit_lib.cli import build_parser

    p = presets.load_preset("paper", ROOT)
    ladder = next(s for s in paper_stages if s.step == "generate" and "50x" in s.what)
    args = build_parser(ladder.command).parse_args(ladder.command)
    from_cli = [generate.dataset_dir(c) for c in generate.configs_from_args(args)]
    assert from_cli == [generate.dataset_dir(plan.clone_config(p, "c_dc", 2.0, m)) for m in (0.1, 1.0, 10.0, 20.0, 50.0)]
    train = next(s for s in paper_stages if s.step == "train" and s.what == "c_dc, gs 2, 1x")
    parser = argparse.ArgumentParser()
    train_parser(parser)
    targs = parser.parse_args(train.command[1:])
    overrides = {"data": targs.data, **dict(item.split("=", 1) for item in targs.set)}
    notebook = make_config("paper", data=str(generate.dataset_dir(plan.clone_config(p, "c_dc", 2.0, 1.0))), class_set="imagenet100", seed=0)
    assert run_folder(make_config(targs.preset, **overrides)) == run_folder(notebook)


def test_paper_1k_plan_has_the_papers_three_clones_and_published_models():
    stages = plan.plan(presets.load_preset("paper-1k", ROOT))
    assert [s.what for s in stages if s.step == "generate"] == ["c_dc, gs 7.5, 1x", "c_dc, gs 2, 1x", "c_hc_inside_b, gs 7.5, 1x",
                                                                "c_dc, gs 2, 1x, generation seed 1"]
    assert [s.paper for s in stages if s.step == "evaluate"][:3] == ["T1 r17", "T1 r13", "T1 r14"]
    assert not any(s.what == "real" for s in stages)  # the real ImageNet-1K rows are published models
    probed = {s.what for s in stages if s.step == "transfer"}
    assert {"c_dc, gs 7.5, 1x", "c_hc_inside_b, gs 7.5, 1x", "c_dc, gs 2, 1x", "c_dc, gs 2, 1x at initialisation"} <= probed
    assert "--cog" in stages[-1].command and "--in1k" in stages[-1].command


def test_book_plan_command_and_page(cli_main, tmp_path, monkeypatch):
    for name in ("IMAGENET100_TRAIN", "IMAGENET_VAL", "IMAGENET_V2", "IMAGENET_SKETCH", "IMAGENET_R", "IMAGENET_A", "TRANSFER_ROOT"):
        monkeypatch.setenv(name, str(tmp_path / "data" / name.lower()))  # the terminal plan refuses unset ones
    res = cli_main("book", "--preset", "paper", "--plan", "--gpus", "4", "--cpus", "64")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Plan of preset paper on 4 GPUs (torchrun, one process each) and 64 CPU cores (--cpus): 47 stages" in out  # with the second draw's transfer probe (Table 2, Fig. 1)
    commands = [line.strip() for line in out.splitlines() if line.startswith("     ")]
    assert len(commands) == 47 and all(c.startswith("torchrun --standalone --nproc-per-node 4 -m fakeit_lib ") for c in commands)
    assert "generate c_dc, gs 2, 0.1x/1x/10x/20x/50x" in out and "\ntotal: ~" in out and " hours on 4 GPUs (~" in out
    assert "#SBATCH --array=0-8\n" in out and "#SBATCH --gpus-per-node=4\n" in out
    assert "  6) torchrun --standalone --nproc-per-node 4 -m fakeit_lib generate --classes imagenet100 --variant c_dc" in out
    # the files from outside: where to get them, checksums only where published
    assert "- CompVis/stable-diffusion-v1-4: Stable Diffusion v1.4" in out
    assert "fe4efff1e174c627256e44ec2991ba279b3816e364b49f9be2abc0b3ff3f8556" in out
    assert "- imagenet_100_sd.pth: the authors' ResNet-50 trained on ImageNet-100-SD" in out
    assert "- inat2018: iNaturalist 2018" in out and "md5 b1c6952ce38f31868cc50ea72d066cc3" in out
    assert "one image of CompVis/stable-diffusion-v1-4 (50 steps, guidance 7.5) 82.9 TFLOP" in out
    assert "- first principles: one image at 19% of the 312 TFLOPS peak" in out
    bad = cli_main("book", "--preset", "paper", "--plan", "--gpus", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "fakeit book: error: --gpus 0 is not valid; valid: a number of GPUs, at least 1"
    page = tmp_path / "book" / "paper_scale.md"
    page.parent.mkdir()
    page.write_text((ROOT / "book" / "paper_scale.md").read_text())
    pages.write_plan_page(tmp_path, ROOT)
    text = page.read_text()
    assert pages.PLAN_MARKER not in text
    assert "| ImageNet-100 (preset `paper`) | 2," in text and "| ImageNet-1K (preset `paper-1k`) | 1," in text
    assert text.count("| | **total** |") == 2 and "and 16 CPU cores" in text
    # the book's tables: words and numbers in six columns, the commands folded below them (tests/test_paper_pages.py)
    assert text.count("| # | stage | in the paper | waits for | hours | disk GB |") == 2 and "| `fakeit " not in text
    assert text.count("::::{dropdown} Commands, in plan order") == 2 and "c_hc, gs 7.5" not in text


def test_paper_1k_plan_lists_the_baselines_as_downloaded():
    import timm
    import torchvision

    p = presets.load_preset("paper-1k", ROOT)
    names = [n for n, _ in report.needed_artefacts(p)]
    urls = {n: e["where"] for n, e in report.needed_artefacts(p)}
    assert names[:5] == ["CompVis/stable-diffusion-v1-4", "imagenet_1k_sd.pth", "resnet50-0676ba61.pth",
                         "resnet50_a1_0-14fe96d1.pth", "real_root"] and "cog" in names and "in1k" in names
    assert urls["resnet50-0676ba61.pth"] == torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    assert timm.models.get_pretrained_cfg("resnet50.a1_in1k").url in urls["resnet50_a1_0-14fe96d1.pth"]


def test_published_checksums_are_the_ones_their_publishers_check():
    from torchvision import datasets

    a = plan.artefacts()["datasets"]
    assert f"md5 {datasets.imagenet.ARCHIVE_META['train'][1]} " in a["real_root"]["checksum"]
    assert f"md5 {datasets.imagenet.ARCHIVE_META['val'][1]} " in a["val"]["checksum"]
    assert f"md5 {datasets.DTD._MD5} " in a["dtd"]["checksum"] and f"md5 {datasets.Food101._MD5} " in a["food101"]["checksum"]
    assert f"md5 {datasets.SUN397._DATASET_MD5} " in a["sun397"]["checksum"]
    assert all(md5 in a["flowers"]["checksum"] for _, md5 in datasets.Flowers102._file_dict.values())
    assert all(md5 in a["pets"]["checksum"] for _, md5 in datasets.OxfordIIITPet._RESOURCES)
    assert all(f"md5 {datasets.inaturalist.DATASET_MD5[y]} " in a[f"inat{y}"]["checksum"] for y in ("2018", "2019"))
    for entry in [*a.values(), *plan.artefacts()["models"].values()]:  # a checksum, or the words "not published"
        assert "not published" in entry["checksum"] or entry["checksum"].startswith(("md5 ", "sha256 ", "as "))


def test_fig1_groups_from_the_papers_tables():
    groups = paper_fig1_groups()
    sd = groups["ImageNet-1K-SD (c, d_c, guidance 2.0)"]
    assert list(sd) == fig1_axes() and len(sd) == 8
    assert sd["IN-val (top-5)"] == 70.3 and sd["small-scale (8 sets, avg top-1)"] == 75.3
    assert sd["long-tail (iNat 2018-19, avg top-1)"] == 40.6 and sd["ImageNet-CoG (5 levels, avg top-1)"] is None
    assert groups["ImageNet-1K (RSB-A1 ResNet-50)"]["small-scale (8 sets, avg top-1)"] == 73.4
    run = run_fig1_groups({"datasets": {"val": {"top5": 0.5}}},
                          {"datasets": {"aircraft": {"top1": 0.4}, "dtd": {"top1": 0.6}, "cog_l1": {"top1": 0.3}}})
    assert run == {"IN-val (top-5)": 50.0, "small-scale (8 sets, avg top-1)": 50.0,
                   "long-tail (iNat 2018-19, avg top-1)": None, "ImageNet-CoG (5 levels, avg top-1)": 30.0}


def test_calibrate_measures_this_machine_and_says_which(cli_main):
    """`--calibrate` on the CPU with the smoke preset (the shipped mini generator, the smoke recipe): every throughput
    measured, on the device named, within its time boxes; the plan printed after it uses them."""
    res = cli_main("book", "--preset", "smoke", "--plan", "--calibrate", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    head = res.stdout.splitlines()[0]
    assert head.startswith("Calibration: measured on cpu (") and head.endswith(
        "(time box 1 s a measurement); the plan below uses the measured figures")
    assert re.search(r" cores?\) in \d+ s \(time box", head)  # how long it took, however fast this machine is
    table = {line.split()[0]: line.split()[1:] for line in res.stdout.splitlines() if line.startswith("  ") and
             line.split() and line.split()[0] in costs.RATES}
    assert set(table) == set(costs.RATES)
    assumed = {name: float(cells[0].replace(",", "")) for name, cells in table.items()}
    measured = {name: float(cells[1].replace(",", "")) for name, cells in table.items()}  # a number, not "-"
    # what any CPU measures, in the units shown: a unit slip (ms for s, per core for per machine) leaves these ranges
    plausible = {"FLOP/s": (1e8, 1e14), "B/s": (1e7, 1e12), "samples/s": (1.0, 1e6), "images/s": (1.0, 1e6)}
    for name, cells in table.items():
        low, high = plausible[cells[2]]
        assert low < measured[name] < high, (name, measured[name], cells[2])
    for name in ("generation_flops", "training_flops", "inference_flops", "probe_flops"):
        assert measured[name] < assumed[name], name  # a CPU is slower than the A100 the plan assumes
    assert measured["inference_flops"] == measured["training_flops"]  # taken at the measured training rate
    assert measured["cpu_flops_per_core"] < 1e12  # one core in float32: AVX-512's 64 FLOP a cycle, a few GHz
    assert "- generation_flops (" in res.stdout and "measured on cpu (" in res.stdout
    assert re.search(r"measured on cpu \(.+\): \d+ denoising steps of mini at batch 4, guidance 7.5", res.stdout)
    assert "\nPlan of preset smoke on 1 GPU and " in res.stdout
    for args, message in ((("--calibrate",), "--calibrate measures the throughputs of a plan; valid only with --plan"),
                          (("--plan", "--calibrate", "0"), "--calibrate takes the seconds of each measurement's time box, "
                                                          "more than 0; got 0")):
        bad = cli_main("book", "--preset", "smoke", *args)
        assert bad.returncode == 2 and bad.stderr.strip() == f"fakeit book: error: {message}"


def _tiny_paper_run(output: Path) -> dict:
    """A preset of the paper's shape at smoke size: one clone from the shipped mini generator, the smoke recipe."""
    return dict(scale="smoke", class_set="fashion-mnist", generator="mini", steps=2, gen_batch_size=4, images_per_class=4,
                variants=["c"], guidances=[2.0], recipe="smoke", real_root="", eval_suite="mini", eval_roots={},
                eval_max_images=40, multipliers=[1.0], scaling_variant="c", scaling_guidance=2.0, best_variant="c",
                best_guidance=2.0, best_multiplier=1.0, transfer_suite="mini", transfer_roots={}, seed=0)


def test_launcher_runs_what_the_plan_prints(monkeypatch, tmp_path):
    import sys

    from fakeit_lib.experiments import launch

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    todo = launch.run_stages(_tiny_paper_run(tmp_path), 2, dry_run=True)
    assert [(s.step, s.what) for s in todo] == [("generate", "c, gs 2, 1x"), ("generate", "c, gs 2, 1x, generation seed 1"),
                                                ("train", "c, gs 2, 1x"), ("train", "c, gs 2, 1x, generation seed 1 (second draw)")]
    for s in todo:
        printed = commands.command_text(s).split()
        assert printed[:6] == ["torchrun", "--standalone", "--nproc-per-node", "2", "-m", "fakeit_lib"]
        assert launch.launch_argv(s) == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                                         "2", "-m", "fakeit_lib", *s.command]  # this interpreter's torchrun
        assert printed[6:] == s.command  # no word needs quoting here: the printed line is the launched one


@pytest.mark.integration
def test_launcher_runs_stages_over_two_processes(monkeypatch, tmp_path):
    """make book PRESET=paper on 2 GPUs, here 2 gloo processes on the CPU: every stage launched with torchrun, and the
    notebooks' library calls then find the outputs instead of computing them."""
    from fakeit_lib.experiments import launch
    from fakeit_lib.experiments import stages as experiments

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    p = _tiny_paper_run(tmp_path)
    lines = []
    ran = launch.run_stages(p, 2, cwd=ROOT, log=lines.append)
    again = "c, gs 2, 1x, generation seed 1"
    assert [(s.step, s.what) for s in ran] == [("generate", "c, gs 2, 1x"), ("generate", again), ("train", "c, gs 2, 1x"),
                                               ("evaluate", "c, gs 2, 1x"), ("train", f"{again} (second draw)"),
                                               ("evaluate", f"{again} (second draw)")]
    assert all(line.startswith("launching ") and " torchrun --standalone --nproc-per-node 2 -m fakeit_lib " in line for line in lines)
    assert all(s.done for s in plan.plan(p, 2))

    def no_drawing(*a, **k):
        raise AssertionError("the notebook path loaded a generator: the launched stage's dataset was not found")

    monkeypatch.setattr(generate, "load_generator", no_drawing)
    params = PipelineParams(scale="smoke", class_set="fashion-mnist", generator="mini", steps=2, gen_batch_size=4,
                                        images_per_class=4, recipe="smoke", eval_suite="mini", eval_max_images=40, seed=0)
    runs = experiments.model_runs(params, "c", 2.0)
    assert runs.checkpoints[0].parent == run_folder(make_config("smoke", data=str(runs.dataset), class_set="fashion-mnist", seed=0))
    assert runs.results[0]["processes"] == 2  # the evaluation the notebook reads is the one torchrun made


def test_paper_book_launches_its_stages_before_the_notebooks(monkeypatch, tmp_path):
    from fakeit_lib.experiments import launch

    calls = []

    class Stop(Exception):
        pass

    def record(p, gpus, cwd=None, log=print):
        calls.append((p["scale"], gpus, cwd))
        raise Stop

    def no_notebook(*a, **k):
        raise Stop

    monkeypatch.setattr(launch, "run_stages", record)
    monkeypatch.setattr(runner, "execute_notebook", no_notebook)
    for name in ("IMAGENET100_TRAIN", "IMAGENET_VAL", "IMAGENET_V2", "IMAGENET_SKETCH", "IMAGENET_R", "IMAGENET_A",
                 "TRANSFER_ROOT"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))  # a paper build refuses unset data variables first
    for gpus in (2, 1):
        with pytest.raises(Stop):
            runner.build_book("paper", ROOT, tmp_path / f"build{gpus}", gpus=gpus)
    assert calls == [("paper", 2, ROOT)]  # one GPU: the notebooks compute, as before
