"""Experiments: the paper's numbers as data, paper-vs-ours tables, findings, and the stage cache across re-runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fakeit_lib import experiments as ex
from fakeit_lib.errors import FakeitError
from fakeit_lib.params import from_dict

ROOT = Path(__file__).resolve().parents[1]


def test_paper_numbers_match_values_typed_from_the_paper():
    # typed here from the paper's Table 1 and Table 2, independently of the data file
    assert ex.paper_rows("table1", row=1)[0]["in_val_top1"] == 87.4
    assert ex.paper_rows("table1", row=8)[0]["in_val_top1"] == 64.8
    assert ex.paper_rows("table1", row=12)[0]["in_val_top5"] == 91.7
    assert ex.paper_rows("table1", row=9)[0]["in_a_top5"] == 63.1
    row17 = ex.paper_rows("table1", row=17)[0]
    assert [row17[f"{s}_top5"] for s in ("in_val", "in_v2", "in_sketch", "in_r", "in_a")] == [70.3, 70.3, 35.1, 45.3, 15.1]
    assert ex.paper_rows("table2", row=3)[0]["average"] == 63.2
    assert ex.paper_rows("table2", row=8)[0]["eurosat"] == 96.7
    assert ex.paper_rows("table2", row=1)[0]["inat2018"] == 0.1


def test_table2_averages_are_the_mean_of_the_ten_datasets():
    cols = ex.paper_results()["table2"]["columns"][:10]
    for row in ex.paper_rows("table2"):
        assert abs(sum(row[c] for c in cols) / 10 - row["average"]) <= 0.06, row["row"]  # averages of unrounded values


def test_paper_rows_for_settings():
    assert ex.paper_table1_row("imagenet100", "synthetic", "c_hc_inside_b", 7.5)["row"] == 5
    assert ex.paper_table1_row("imagenet100", "synthetic", "c_dc", 2.0, 20.0)["row"] == 11
    assert ex.paper_table1_row("imagenet100", "synthetic", "clip", 2.0) is None
    assert [p["value"] for p in ex.paper_scaling_points() if p["metric"] == "IN-Val top-1"] == [64.8, 72.4, 72.4, 73.3, 87.4]


def _rows():
    r = lambda data, v, g, t1: {"data": data, "variant": v, "guidance": g, "multiplier": 1.0,
                                "fashion-mnist-test top-1": t1, "fashion-mnist-test top-5": 99.0}
    return [r("real", None, None, 80.0), r("synthetic", "c", 7.5, 50.0), r("synthetic", "c_dc", 7.5, 56.0),
            r("synthetic", "c", 2.0, 60.0), r("synthetic", "c_dc", 2.0, 58.0)]


def test_paper_beside_ours_at_mini_scale_shows_in_val_and_our_test_set():
    table = ex.paper_beside_ours(ex.PipelineParams(class_set="fashion-mnist"), _rows())
    assert table[0]["paper row"] == 1 and table[0]["paper val top-1"] == 87.4
    assert table[3] == {"training data": "synthetic (1x)", "prompt": "c", "guidance": 2.0, "paper row": 6,
                        "paper val top-1": 63.5, "paper val top-5": 86.9,
                        "this run fashion-mnist-test top-1": 60.0, "this run fashion-mnist-test top-5": 99.0}


def test_findings():
    f = ex.findings(_rows(), "fashion-mnist-test top-1")
    assert f["mean_by_guidance"] == {7.5: 53.0, 2.0: 59.0} and f["low_guidance_wins"] is True
    assert f["best"] == 60.0 and f["best_variant"] == "c" and f["gap_to_real"] == 20.0


def test_images_spec_and_bad_parameters():
    assert ex.images_spec(ex.PipelineParams(images_per_class=50), 0.2) == 10
    assert ex.images_spec(ex.PipelineParams(real_root="/data/in100"), 10.0) == "x10:/data/in100"
    with pytest.raises(FakeitError, match="'match' needs real_root"):
        ex.images_spec(ex.PipelineParams(), 1.0)
    with pytest.raises(FakeitError, match="parameter recipe='huge' is not valid; valid: smoke, mini, paper"):
        from_dict(ex.PipelineParams, {"recipe": "huge"})
    with pytest.raises(FakeitError, match="eval_roots has unknown test set"):
        from_dict(ex.PipelineParams, {"eval_roots": {"valid": "/x"}})


def _stage_marks(out: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/DONE")}


@pytest.mark.integration
def test_rerun_with_a_changed_parameter_recomputes_only_what_it_touches(tmp_path: Path):
    env = {**os.environ, "FAKEIT_OUTPUT": str(tmp_path / "outputs")}
    base = ["-f", str(ROOT / "presets" / "smoke.yaml"), "-y", "variants: [c]", "-k", "python3", "--no-progress-bar"]

    def run(out: str, guidances: str) -> dict:
        subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "tab1_prompts.ipynb"),
                        str(tmp_path / out), *base, "-y", f"guidances: {guidances}"], check=True, env=env, cwd=ROOT,
                       capture_output=True)
        nb = nbformat.read(tmp_path / out, as_version=4)
        return nb

    run("first.ipynb", "[7.5]")
    first = _stage_marks(tmp_path / "outputs")
    kinds = sorted(name.split("-")[0] for name in first)
    assert len([k for k in kinds if k == "train"]) == 2  # real baseline and the c / 7.5 clone
    nb = run("second.ipynb", "[7.5, 2.0]")
    second = _stage_marks(tmp_path / "outputs")
    assert {k: v for k, v in second.items() if k in first} == first  # nothing finished was recomputed
    new = sorted(set(second) - set(first))
    assert any(n.startswith("fashion-mnist-c-gs2-") for n in new), new  # the new clone
    assert sum(n.startswith("train-") for n in new) == 1 and sum(n.startswith("eval-") for n in new) == 1
    assert nb.metadata["papermill"]["parameters"]["guidances"] == [7.5, 2.0]
