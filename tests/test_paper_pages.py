"""The book's "At paper scale" page as a reader meets it: plan tables narrow enough for a laptop and a phone, words
instead of the codes the terminal plan shows, commands folded below each table under the reader's $FAKEIT_OUTPUT, a
cost model in units, and a set-up that exports every variable the presets read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakeit_lib.builder import pages
from fakeit_lib.experiments import plan, presets, report

ROOT = Path(__file__).resolve().parents[1]
PRESET_VARIABLES = ("IMAGENET100_TRAIN", "IMAGENET1K_TRAIN", "IMAGENET1K_ROOT", "IMAGENET_COG_ROOT", "IMAGENET_VAL",
                    "IMAGENET_V2", "IMAGENET_SKETCH", "IMAGENET_R", "IMAGENET_A", "TRANSFER_ROOT", "FAKEIT_OUTPUT")


@pytest.fixture(scope="module")
def page() -> str:
    """The generated part of the page as the book's build makes it: no data here, the default output root."""
    with pytest.MonkeyPatch.context() as mp:
        for name in PRESET_VARIABLES:
            mp.delenv(name, raising=False)
        return pages.plan_page_text(ROOT)


def test_a_stage_reads_in_words():
    assert report.what_words("c_hc, gs 7.5, 1x") == "class name + hypernym, guidance 7.5, 1x"
    assert report.what_words("c_dc, gs 2, 0.1x/1x/10x/20x/50x") == "class name + definition, guidance 2, 0.1x/1x/10x/20x/50x"
    assert report.what_words("c_dc, gs 2, 1x, generation seed 1") == "class name + definition, guidance 2, 1x, generation seed 1"
    assert (report.what_words("c_dc, gs 2, 1x, generation seed 1 (second draw)")
            == "class name + definition, guidance 2, 1x, second draw (generation seed 1)")
    assert (report.what_words("c_hc_inside_b, gs 2, 1x, seed 1 at initialisation")
            == "random weights (the network of the model on class name + hypernym + background, guidance 2, 1x, training "
               "seed 1, untrained)")
    assert report.what_words("real") == "real training images" and report.what_words("real, seed 2") == "real training images, training seed 2"
    assert report.what_words("the authors' ImageNet-100-SD model") == "the authors' ImageNet-100-SD model"


def test_the_paper_s_rows_read_in_words_and_never_leave_a_cell_empty():
    assert report.paper_words("T1 r12") == "Table 1 row 12"
    assert report.paper_words("T1 r1 T2 r2") == "Table 1 row 1, Table 2 row 2"
    assert report.paper_words("T1 r8, T1 r10, T1 r11, T1 r12") == "Table 1 rows 8, 10, 11, 12"
    assert report.paper_words("T1 r12 Fig. 4 T2 r3") == "Table 1 row 12, Fig. 4, Table 2 row 3"
    assert report.paper_words("second draw") == "none: the spread between draws"
    assert report.paper_words("", "c_dc, gs 2, 1x, generation seed 1 (second draw)") == "none: the spread between draws"
    assert report.paper_words("") == "– (no row of the paper)"


def test_each_stage_waits_for_the_row_it_reads(monkeypatch):
    for name in PRESET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    stages = plan.plan(presets.load_preset("paper", ROOT), 1, 16)
    row = {(s.step, s.what): i for i, s in enumerate(stages)}
    waits = {(s.step, s.what): report.waits_words(stages, i) for i, s in enumerate(stages)}
    assert waits[("generate", "c_hc, gs 7.5, 1x")] == "–"
    assert waits[("train", "c_dc, gs 2, 20x")] == f"#{row[('generate', 'c_dc, gs 2, 0.1x/1x/10x/20x/50x')] + 1}"
    assert waits[("evaluate", "c_dc, gs 2, 20x")] == f"#{row[('train', 'c_dc, gs 2, 20x')] + 1}"
    assert waits[("transfer", "c_dc, gs 2, 1x at initialisation")] == f"#{row[('train', 'c_dc, gs 2, 1x')] + 1}"
    second = "c_dc, gs 2, 1x, generation seed 1 (second draw)"
    assert waits[("train", second)] == f"#{row[('generate', 'c_dc, gs 2, 1x, generation seed 1')] + 1}"
    assert waits[("train", "real")] == "its data" and waits[("evaluate", "the authors' ImageNet-100-SD model")] == "its download"


def test_the_plan_tables_are_narrow_and_speak_words(page: str):
    rows = [line for line in page.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 47 + 23  # every stage of the two plans
    assert all(line.count("|") == 7 for line in rows)  # six columns: a seventh lets the book's style break numbers
    assert page.count("| # | stage | in the paper | waits for | hours | disk GB |") == 2
    assert not any("fakeit " in line or "| |" in line or "||" in line for line in rows)  # no command, no empty cell
    assert "| 4 | generate: class name + hypernym, guidance 7.5, 1x | Table 1 row 3 | – | 38.7 | 44.9 |" in page
    assert "| 12 | train: real training images | Table 1 row 1, Table 2 row 2 | its data | 3.5 | 0.2 |" in page
    assert "generate: class name + definition, guidance 2, 0.1x/1x/10x/20x/50x | Table 1 rows 8, 10, 11, 12 | – | 1,925.1 |" in page
    assert "| train: class name + definition, guidance 2, 1x, second draw (generation seed 1) | none: the spread between draws |" in page
    for code in ("c_hc", "c_dc", "gs 7.5", "gs 2,", "T1 r", "T2 r", "to do", "after the stage above", "is set"):
        assert code not in page.replace("--variant c_hc", "").replace("--variant c_dc", "").split("```bash")[0], code
    table_text = "\n".join(rows)
    assert not re.search(r"\bc_\w+|\bgs \d|T\d r\d", table_text)


def test_the_commands_are_folded_in_plan_order_under_the_reader_s_output_root(page: str):
    assert page.count("::::{dropdown} Commands, in plan order\n```bash\n") == 2 and page.count("```\n::::") == 2
    assert "# 4. generate: class name + hypernym, guidance 7.5, 1x (Table 1 row 3)\nfakeit generate --classes imagenet100 --variant c_hc " in page
    assert ("# 47. transfer: random weights (the network of the model on class name + definition, guidance 2, 1x, "
            "untrained) (Table 2 row 1)\n") in page
    assert "fakeit train $FAKEIT_OUTPUT/imagenet100-c-gs7.5-stable-diffusion-v1-4-" in page
    assert "outputs/" not in page and "`rsync -a --info=progress2 $FAKEIT_OUTPUT/<clone folder> /local/scratch/`" in page


def test_a_relative_output_root_reads_as_the_reader_s_variable(monkeypatch):
    monkeypatch.delenv("FAKEIT_OUTPUT", raising=False)
    monkeypatch.setattr(pages, "plan_page", lambda _: 'train outputs/a "outputs/b" my-outputs/c $FAKEIT_OUTPUT/outputs/d')
    assert pages.plan_page_text(ROOT) == 'train $FAKEIT_OUTPUT/a "$FAKEIT_OUTPUT/b" my-outputs/c $FAKEIT_OUTPUT/outputs/d'


def test_the_reading_paragraph_says_per_gpu_and_per_node(page: str, monkeypatch):
    for name in PRESET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    stages = plan.plan(presets.load_preset("paper", ROOT), 1, 16)
    heaviest = max((s for s in stages if s.step == "train"), key=lambda s: (round(s.read_gb_s, 2), s.hours))
    assert heaviest.what == "c_dc, gs 2, 50x"  # every clone reads as fast; the longest run is named
    assert (f"on one GPU with its 16 CPU cores, training on class name + definition, guidance 2, 50x reads "
            f"~{heaviest.read_gb_s:.2f} GB/s at random (no training stage reads more). That is per GPU: the same run "
            f"over a node of 8 such GPUs reads 8 times as much, ~{8 * heaviest.read_gb_s:.1f} GB/s") in page


def test_the_cost_model_reads_in_units_with_its_sources_in_words(page: str):
    model = page[page.index("**The cost model.**"):]
    assert not re.search(r"\d\.?\d*e[+-]\d+", page)  # no e-notation anywhere
    for text in ("FLOP/s one GPU sustains generating images at the chosen batch: **75.7 TFLOP/s** — 47.1 image-steps/s",
                 "(forward and backward of every crop): **60 TFLOP/s**", "(float32): **9.75 TFLOP/s**",
                 "copies to the GPU: **4.5 GB/s**", "(5.5 GB per second of one thread's CPU time)",
                 "(the full-batch L-BFGS probe runs on the CPU): **170 GFLOP/s**",
                 "(the diffusers documentation's iterations/s, interpolated between the batch sizes it measured)",
                 "one image of Stable Diffusion v1.4 (50 denoising steps, guidance 7.5): 82.9 TFLOP",
                 "**A check from first principles.** At 19% of the GPU's 312 TFLOP/s peak",
                 "**Disk.** The disk column counts 371 KB a generated image",
                 "the loader benchmark above decoded other crops of such photographs, 389 KB each.",
                 "```{container} fakeit-developers\nFor developers: the cost model is `fakeit_lib/experiments/costs.py`"):
        assert text in model, text
    for name in ("sd_iterations_per_second", "colour_ops", "GB/s per second", "Cost model (fakeit_lib"):
        assert name not in page, name
    assert model.index("For developers:") > model.index("**Disk.**")  # the file paths last, apart


def test_the_terminal_cost_model_is_the_one_it_was():
    from fakeit_lib.experiments.estimates import Cluster
    from fakeit_lib.experiments.params import preset_params

    p = preset_params(presets.load_preset("paper", ROOT))
    text = report.cost_model_text(p, plan.plan_rates(p), Cluster(1, 16))
    assert text.startswith("Cost model (fakeit_lib/experiments/costs.py;") and "(sd_iterations_per_second, interpolated)" in text
    assert ": 7.57e+13 FLOP/s (" in text  # a terminal's notation: only the book's page says 75.7 TFLOP/s


def test_the_page_says_first_that_nothing_on_it_ran_here():
    text = (ROOT / "book" / "paper_scale.md").read_text()
    first = text.split("\n\n")[1]
    assert first.startswith("Nothing on this page ran in this build: the book is built at the mini scale, and the tables")


def test_the_set_up_exports_every_variable_the_presets_read(monkeypatch):
    from fakeit_lib.experiments.params import preset_params

    for name in PRESET_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    text = (ROOT / "book" / "paper_scale.md").read_text()
    exported = {name for line in text.splitlines() if line.startswith("export ")
                for name in re.findall(r"\b([A-Z][A-Z0-9_]*)=", line)}
    for preset in ("paper", "paper-1k"):  # the variables its values name (presets.expand_vars leaves unset ones as is)
        read = set(plan.unset_variables(preset_params(presets.load_preset(preset, ROOT))))
        assert read and read <= exported, (preset, sorted(read - exported))
    assert "For ImageNet-1K, export these as well, and use `--preset paper-1k`" in text and "export IMAGENET1K_TRAIN=" in text and "export IMAGENET_COG_ROOT=" in text


def test_the_page_opens_with_each_preset_s_estimated_cost():
    """The first screen says what a paper-scale run costs (the tables, five screens down, give it stage by stage)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in PRESET_VARIABLES:
            mp.delenv(name, raising=False)
        presets = pages._plan_presets(ROOT)
        text = report.plan_totals_text(report.planned(presets))
        grand = pages.plan_page_text(ROOT)
    for title, p in presets.items():
        hours, disk = report.totals(plan.plan(p, 1, 16))
        assert f"{title.split(' (')[0]} needs about {hours:,.0f} hours of one A100" in text
        assert f"| {title} | {hours:,.0f} | {disk:,.0f} |" in grand  # the same totals as the page's table
    assert text.startswith("**Estimated cost:** ImageNet-100 needs about ") and "days on a node of 8" in text
    page = (ROOT / "book" / "paper_scale.md").read_text()
    assert page.index(pages.PLAN_TOTALS_MARKER) < page.index("## First: check an authors' checkpoint")
