"""One identity per stage: the plan's commands run by hand (CLI) leave outputs that the notebooks' library calls find
and reuse; nothing is generated, trained or evaluated twice (tiny Stable Diffusion pipeline, smoke recipe)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_sd import build_tiny_sd

from fakeit_lib.experiments.params import PipelineParams

ROOT = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.mark.integration
def test_cli_runs_of_the_plan_are_what_the_notebook_path_finds(tmp_path, monkeypatch):
    from fakeit_lib.experiments import commands, plan
    from fakeit_lib.experiments import stages as experiments
    from fakeit_lib.generation import generate

    sd = build_tiny_sd(tmp_path / "sd")
    out = tmp_path / "outputs"
    monkeypatch.setenv("FAKEIT_OUTPUT", str(out))
    preset = dict(scale="smoke", class_set="fashion-mnist", generator=str(sd), steps=2, gen_batch_size=4, images_per_class=2,
                  variants=["c"], guidances=[2.0], recipe="smoke", real_root="", eval_suite="mini", eval_roots={},
                  eval_max_images=40, multipliers=[1.0, 2.0], scaling_variant="c", scaling_guidance=2.0, best_variant="c",
                  best_guidance=2.0, best_multiplier=2.0, transfer_suite="mini", transfer_roots={}, seed=0)
    stages = plan.plan(preset)
    second = "c, gs 2, 1x, generation seed 1"  # Table 1's second draw of the same clone
    assert [(s.step, s.what, s.done) for s in stages] == [
        ("generate", "c, gs 2, 1x/2x", False), ("generate", second, False),
        ("train", "c, gs 2, 1x", False), ("evaluate", "c, gs 2, 1x", None),
        ("train", "c, gs 2, 2x", False), ("evaluate", "c, gs 2, 2x", None),
        ("train", f"{second} (second draw)", False), ("evaluate", f"{second} (second draw)", None)]
    env = {**os.environ, "FAKEIT_OUTPUT": str(out), "OMP_NUM_THREADS": "1"}
    by_hand = [stages[0], stages[2], stages[3]]  # the ladder, then the 1x model and its evaluation
    for s in by_hand:
        res = subprocess.run([sys.executable, "-m", "fakeit_lib", *s.command], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
        assert res.returncode == 0, f"{commands.command_text(s)}\n{res.stderr[-2000:]}"
    assert [s.done for s in plan.plan(preset)][:4] == [True, False, True, True]
    before = snapshot(out)

    def no_drawing(*a, **k):
        raise AssertionError("the notebook path loaded a generator: the CLI's dataset was not found")

    monkeypatch.setattr(generate, "load_generator", no_drawing)
    p = PipelineParams(scale="smoke", class_set="fashion-mnist", generator=str(sd), steps=2, gen_batch_size=4,
                                   images_per_class=2, recipe="smoke", eval_suite="mini", eval_max_images=40, seed=0)
    clone = experiments.synthetic_clone(p, "c", 2.0)
    assert clone == generate.dataset_dir(plan.clone_config(preset, "c", 2.0, 1.0))
    checkpoint = experiments.trained_checkpoint(p, clone, 0)  # the plan trains seed 0 (the preset has no train_seeds)
    results = experiments.evaluation(p, checkpoint)
    assert snapshot(out) == before  # nothing new, nothing rewritten
    eval_folder = next(out.glob("eval-mini-*"))
    assert json.loads((eval_folder / "results.json").read_text())["datasets"] == results["datasets"]
    assert experiments.synthetic_clone(p, "c", 2.0, 2.0) == generate.dataset_dir(plan.clone_config(preset, "c", 2.0, 2.0))
