"""What the Table 1, Fig. 2, prompts and own-dataset pages say to a reader: a missing clone named only when it is
missing, units on every number, one plain clause for the generator's measured reactions, the result of the
own-dataset page at its top, commands that wrap between words. Each test reads a sentence, a table or a notebook
cell and would have failed on what the page showed before."""

import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd

from fakeit_lib.experiments import stages as ex
from fakeit_lib.experiments import table1

ROOT = Path(__file__).resolve().parents[1]
TEST = "fashion-mnist-test"


def runs_of(label, data, variant, guidance, top1):
    result = lambda t: {"datasets": {TEST: {"top1": t / 100, "top5": 0.99}}}
    return ex.ModelRuns(label, data, variant, guidance, 1.0, Path(f"/x/{label}"), 500, list(range(len(top1))),
                        [Path(f"/c/{label}/{s}") for s in range(len(top1))], [result(t) for t in top1])


def table1_runs(variants=("c", "c_hc")):
    runs = {"real": runs_of("real", "real", None, None, [80.0, 80.5, 79.5])}
    for i, v in enumerate(variants):
        hi, lo = 50.0 + i, 60.0 + i / 2
        runs[(v, 7.5)] = runs_of(f"{v} 7.5", "synthetic", v, 7.5, [hi, hi + 1, hi - 1])
        runs[(v, 2.0)] = runs_of(f"{v} 2", "synthetic", v, 2.0, [lo, lo + 0.5, lo - 0.5])
    return runs


def tab1_verdicts(monkeypatch, variants=("c", "c_hc"), shares=None):
    from fakeit_lib.chapters import tab1_prompts as ch

    shares = shares or {}
    monkeypatch.setattr(ch, "sensitivity", lambda runs, a, b, g: {"share": shares.get(b, 0.25), "same_seed": 0.05,
                                                                  "between_seeds": 0.2})
    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", generator="CompVis/stable-diffusion-v1-4",
                            variants=list(variants), train_seeds=[0, 1, 2])
    return {v.id: v for v in ch.table1_findings(p, table1_runs(variants))}


def test_a_missing_clone_is_named_only_when_it_is_missing(monkeypatch):
    from fakeit_lib.chapters import tab1_prompts as ch

    verdicts = tab1_verdicts(monkeypatch)
    # the run has class name + hypernym at 7.5: only the background clone is missing
    why = verdicts["backgrounds_help_high_guidance"].reason
    assert why.startswith("the run has no clone of class name + hypernym + background at guidance 7.5")
    assert "class name + hypernym and" not in why and "no clones of" not in why
    assert verdicts["definition_beats_name"].reason == "the run has no clone of class name + definition at guidance 7.5"
    assert ch.no_clone(["c", "c_dc"], 7.5) == "the run has no clone of class name or of class name + definition at guidance 7.5"


def test_fig2_names_only_the_missing_clone_and_states_the_diversity_bound():
    from fakeit_lib.chapters import fig2_qualitative as ch

    sample = lambda f, d: [{"fidelity": f + 0.01 * k, "diversity": d + 0.1 * k} for k in range(5)]
    samples = {("c", 7.5): sample(0.90, 10.0), ("c", 2.0): sample(0.85, 11.5),
               ("c_hc", 7.5): sample(0.90, 9.9), ("c_hc", 2.0): sample(0.85, 11.4)}
    q = ch.Quality(0.897, pd.DataFrame({"diversity": [10.0]}), samples, "the judge")
    p = SimpleNamespace(scale="mini", variants=["c", "c_hc"])
    verdicts = {v.id: v for v in ch.qualitative_findings(p, q)}
    assert verdicts["definition_richer_images"].reason == "the run has no clone of class name + definition at guidance 7.5"
    hypernym = verdicts["hypernym_richer_images"]
    assert "smallest effect of interest for diversity 0.3 judge units" in hypernym.reason
    said = hypernym.sentence()  # the fidelity part is the one the headline shows, in its unit
    assert "of images judged faithful" in said and not re.search(r"of images(?! judged)", said)


def test_prompts_alike_parts_carry_their_unit(monkeypatch):
    alike = tab1_verdicts(monkeypatch)["prompts_alike_low_guidance"]
    assert "class name and class name + hypernym within 1 point" in alike.evidence
    assert not any(k.endswith("within 1") for k in alike.evidence)


def test_the_generators_reactions_are_one_clause(monkeypatch):
    verdicts = tab1_verdicts(monkeypatch, ("c", "c_hc", "c_dc"), {"c_hc": 0.06, "c_dc": 0.42})
    reason = verdicts["prompt_matters_less_low_guidance"].reason
    assert reason.count("measured:") == 1
    assert reason.startswith("measured: at guidance 7.5, the change from class name to class name + definition moves the "
                             "same-seed images by 42% of a seed change, and the change to class name + hypernym by 6%, "
                             "below 10%: this generator barely reacts")
    # one reaction keeps the shared sentence
    assert verdicts["hypernym_beats_name"].reason.startswith("measured: the change from class name to class name + hypernym")


def test_table1_names_the_papers_validation_set_as_the_findings_do():
    from fakeit_lib.chapters import tab1_prompts as ch

    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", variants=["c", "c_hc"], train_seeds=[0, 1, 2])
    columns = list(ch.table1_frame(p, table1_runs()).columns)
    assert "paper (reported) IN-100 val top-1" in columns and "this run: Fashion-MNIST test top-1" in columns
    assert not any("IN-val" in c for c in columns)


def test_table1_opens_with_one_short_paragraph_before_the_result():
    nb = nbformat.read(ROOT / "notebooks" / "tab1_prompts.ipynb", as_version=4)
    first, second = nb.cells[0], nb.cells[1]
    assert first.source.startswith("# Table 1") and len(first.source) < 400  # the builder's result cell follows it
    assert second.cell_type == "markdown" and second.source.startswith("Its claims (Sec. 5.1)")


def test_fig2_tables_give_their_units():
    from fakeit_lib.chapters import fig2_qualitative as ch

    headings = set(ch.QUALITY_COLUMNS.values())
    assert {"saturated (share of pixels)", "ink in border (share of border pixels)",
            "pixel distance to class name (grey levels, 0–1)"} <= headings


def test_prompts_page_keeps_code_names_in_its_developer_note():
    from fakeit_lib.chapters import prompts as ch
    from fakeit_lib.datasets.classes import load_class_set

    rows = ch.prompt_rows([load_class_set("imagenet1k").by_wnid("n02086910")], ["c"])
    assert list(rows[0]) == ["WordNet ID", "class", "variant", "prompt"]
    fig = ch.lengths_figure(ch.PromptsParams(class_set="fashion-mnist", variants=["c", "c_dc"]))
    assert fig.layout.xaxis.title.text == "prompt variant" and fig.layout.yaxis.title.text == "prompt length (words)"
    nb = nbformat.read(ROOT / "notebooks" / "prompts.ipynb", as_version=4)
    prose = [c.source for c in nb.cells if c.cell_type == "markdown" and "fakeit-developers" not in c.source]
    assert not any(re.search(r"`(c_hc|c_dc|c_hc_inside_b\w*|clip)`", s) for s in prose)
    assert not any("its name in code" in s or "lemmas" in s or "77 CLIP tokens" in s for s in prose)
    assert "`c_hc_inside_b_matched`" in nb.cells[-1].source  # the mapping, for developers


def test_own_dataset_states_its_result_at_the_top_and_wraps_commands_between_words():
    from fakeit_lib.chapters import own_dataset as ch

    p = ch.OwnDatasetParams(scale="mini", generator="mini", own_images_per_class=50, train_seeds=[0, 1, 2], own_seeds=1)
    results = [{"datasets": {"folder": {"images": 3000, "classes": 3, "top1": 0.867, "top5": 1.0}}}]
    assert ch.result_line(p, results) == (
        "at the mini scale, a classifier trained only on 50 synthetic images of each of the 3 classes, never on a real "
        "one, reaches 86.7% top-1 on 3,000 real test images, against 33.3% by chance.")
    assert list(ch.results_frame(p, results).columns)[-2:] == ["top-1 (%)", "chance top-1 (%)"]
    note = ch.run_note(p, results)
    assert "(one training seed, so no interval; this page checks no finding of the paper, so it trains fewer seeds" in note
    assert "parameter" not in note and not re.search(r"\([^()]*\(", note)  # no bracket inside a bracket
    assert ch.result_line(ch.OwnDatasetParams(), []).startswith("nothing was generated or trained at the paper scale")
    assert all(len(line) <= ch.WIDTH for line in ch.commands(p).splitlines())  # breaks between words, not at hyphens
    generate = re.sub(r" \\\n\s+", " ", ch.commands(p)).splitlines()[1]
    assert generate == ("fakeit generate --classes my_classes.tsv --variant c_dc --guidance 2 --generator "
                        "CompVis/stable-diffusion-v1-4 --images-per-class 1300 --out my_clone/")
    nb = nbformat.read(ROOT / "notebooks" / "own_dataset.ipynb", as_version=4)
    assert "{glue:text}`own_result`" in nb.cells[1].source  # right under the title's paragraph
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "wnid" not in text and "output root" not in text and "They\nare no number" not in text
