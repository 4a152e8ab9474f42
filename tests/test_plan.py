"""The paper-scale plan (stages, commands that resolve to the notebooks' folders, costs from stated assumptions),
its page in the book, and Fig. 1's data."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fakeit_lib.builder import runner
from fakeit_lib.chapters.fig1_spider import fig1_axes, paper_fig1_groups, run_fig1_groups
from fakeit_lib.experiments import plan
from fakeit_lib.generation import generate
from fakeit_lib.training.train import configure_parser as train_parser
from fakeit_lib.training.train import make_config, run_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def paper_stages():
    return plan.plan(runner.load_preset("paper", ROOT))


def test_paper_plan_draws_the_largest_clone_once_and_costs_it(paper_stages):
    generates = [s for s in paper_stages if s.step == "generate"]
    assert len(generates) == 8  # Table 1's eight prompt x guidance clones; c_dc at 2.0 carries the 1/10x-50x ladder
    ladder = next(s for s in generates if "50x" in s.what)
    assert ladder.what == "c_dc, gs 2, 0.1x/1x/10x/20x/50x" and ladder.paper == "T1 r8, T1 r10, T1 r11, T1 r12"
    # 50 x 126,689 images in 100 classes, whole batches of 8, 1.6 s an image (paper_costs.yaml)
    assert ladder.gpu_hours == pytest.approx(100 * 63344 * 1.6 / 3600, rel=1e-9)
    train_50x = next(s for s in paper_stages if s.step == "train" and s.what == "c_dc, gs 2, 50x")
    assert train_50x.gpu_hours == pytest.approx(100 * 6334400 * (1 + 8 * (96 / 224) ** 2) / 2600 / 3600)
    assert paper_stages[0].what == "the authors' ImageNet-100-SD model" and paper_stages[0].status == "after downloading imagenet_100_sd.pth"
    assert [s.paper for s in paper_stages if s.step == "transfer"][-1] == "T2 r1"  # random weights
    hours, disk = plan.totals(paper_stages)
    assert 3000 < hours < 4000 and disk > 2000


def test_plan_commands_resolve_to_the_folders_the_notebooks_use(paper_stages, monkeypatch, tmp_path):
    from fakeit_lib.cli import build_parser

    p = runner.load_preset("paper", ROOT)
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
    stages = plan.plan(runner.load_preset("paper-1k", ROOT))
    assert [s.what for s in stages if s.step == "generate"] == ["c_dc, gs 7.5, 1x", "c_dc, gs 2, 1x", "c_hc_inside_b, gs 7.5, 1x"]
    assert [s.paper for s in stages if s.step == "evaluate"][:3] == ["T1 r17", "T1 r13", "T1 r14"]
    assert not any(s.what == "real" for s in stages)  # the real ImageNet-1K rows are published models
    probed = {s.what for s in stages if s.step == "transfer"}
    assert {"c_dc, gs 7.5, 1x", "c_hc_inside_b, gs 7.5, 1x", "c_dc, gs 2, 1x", "random weights"} <= probed
    assert "--cog" in stages[-1].command and "--in1k" in stages[-1].command


def test_book_plan_command_and_page(cli, tmp_path):
    res = cli("book", "--preset", "paper", "--plan")
    assert res.returncode == 0, res.stderr
    assert "generate c_dc, gs 2, 0.1x/1x/10x/20x/50x" in res.stdout and "\ntotal: ~3," in res.stdout
    assert "generation_seconds_per_image = 1.6: fal-ai/stable-diffusion-benchmarks" in res.stdout
    page = tmp_path / "book" / "paper_scale.md"
    page.parent.mkdir()
    page.write_text((ROOT / "book" / "paper_scale.md").read_text())
    runner.write_plan_page(tmp_path, ROOT)
    text = page.read_text()
    assert runner.PLAN_MARKER not in text
    assert "| ImageNet-100 (preset `paper`) | 3," in text and "| ImageNet-1K (preset `paper-1k`) | 1," in text
    assert text.count("| | **total** |") == 2


def test_fig1_groups_from_the_papers_tables():
    groups = paper_fig1_groups()
    sd = groups["ImageNet-1K-SD (c, d_c, guidance 2.0)"]
    assert list(sd) == fig1_axes() and len(sd) == 8
    assert sd["IN-val (top-5)"] == 70.3 and sd["small-scale (8 datasets) (avg top-1)"] == 75.3
    assert sd["long-tail (iNat 2018, 2019) (avg top-1)"] == 40.6 and sd["ImageNet-CoG (5 levels) (avg top-1)"] is None
    assert groups["ImageNet-1K (RSB-A1 ResNet-50)"]["small-scale (8 datasets) (avg top-1)"] == 73.4
    run = run_fig1_groups({"datasets": {"val": {"top5": 0.5}}},
                          {"datasets": {"aircraft": {"top1": 0.4}, "dtd": {"top1": 0.6}, "cog_l1": {"top1": 0.3}}})
    assert run == {"IN-val (top-5)": 50.0, "small-scale (8 datasets) (avg top-1)": 50.0,
                   "long-tail (iNat 2018, 2019) (avg top-1)": None, "ImageNet-CoG (5 levels) (avg top-1)": 30.0}
