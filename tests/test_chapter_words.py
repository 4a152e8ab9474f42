"""What the chapters show a reader is in words: test sets, prompt variants, classes, class sets, transfer datasets,
shifts and the authors' code by their names, never by the codes the results and caches keep (`fashion-mnist-test`,
`c, h_c` in a figure, `n03595614`, `imagenet100`, `letters`, `sketch`, `naver/trex`). Each test reads a table, a
figure or a sentence a chapter returns, and would have failed on the codes it showed before."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fakeit_lib.experiments import stages as ex
from fakeit_lib.experiments import table1
from fakeit_lib.paper import claims

TEST = "fashion-mnist-test"


def runs_of(label, data, variant, guidance, top1):
    result = lambda t: {"datasets": {TEST: {"top1": t / 100, "top5": 0.99}}}
    return ex.ModelRuns(label, data, variant, guidance, 1.0, Path(f"/x/{label}"), 500, list(range(len(top1))),
                        [Path(f"/c/{label}/{s}") for s in range(len(top1))], [result(t) for t in top1])


def table1_runs():
    runs = {"real": runs_of("real", "real", None, None, [80.0, 80.5, 79.5])}
    for v, (hi, lo) in {"c": (50.0, 60.0), "c_hc": (51.0, 60.5)}.items():
        runs[(v, 7.5)] = runs_of(f"{v} 7.5", "synthetic", v, 7.5, [hi, hi + 1, hi - 1])
        runs[(v, 2.0)] = runs_of(f"{v} 2", "synthetic", v, 2.0, [lo, lo + 0.5, lo - 0.5])
    return runs


def test_table1_names_its_test_split_and_its_figure_names_the_prompts_in_words():
    from fakeit_lib.chapters import tab1_prompts as ch

    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", variants=["c", "c_hc"], train_seeds=[0, 1, 2])
    runs = table1_runs()
    columns = list(ch.table1_frame(p, runs).columns)
    assert "this run: Fashion-MNIST test top-1" in columns and not any(TEST in c for c in columns)
    assert table1.test_set_name(TEST) == "Fashion-MNIST test" and table1.test_set_name("val") == "IN-val"
    assert table1.test_set_words(TEST) == "the Fashion-MNIST test split"  # the sentences' form, unchanged
    ticks = list(dict.fromkeys(x for trace in ch.table1_figure(p, runs).data for x in trace.x))
    # the words first, the paper's template below them (the table keeps the template: the paper's own notation)
    assert ticks == ["class name<br>(c)", "class name +<br>hypernym<br>(c, h_c)"]


def test_table1_prompt_parts_and_notes_name_the_variants_in_words(monkeypatch):
    from fakeit_lib.chapters import tab1_prompts as ch

    monkeypatch.setattr(ch, "sensitivity", lambda runs, a, b, g: {"share": 0.25, "same_seed": 0.05, "between_seeds": 0.2})
    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", generator="CompVis/stable-diffusion-v1-4",
                            variants=["c", "c_hc"], train_seeds=[0, 1, 2])
    verdicts = {v.id: v for v in ch.table1_findings(p, table1_runs())}
    assert "the change from class name to class name + hypernym at guidance 7.5" in verdicts["hypernym_beats_name"].reason
    assert "class name and class name + hypernym within 1 point" in verdicts["prompts_alike_low_guidance"].evidence
    assert verdicts["backgrounds_help_in1k"].reason == ("the claim is ImageNet-1K's; the run has no clone of class name + "
                                                        "hypernym + background or of class name + definition at guidance 7.5")


def test_fig2_grids_are_titled_by_the_class_name_and_prompt_pairs_in_words(monkeypatch):
    from fakeit_lib.chapters import fig2_qualitative as ch
    from fakeit_lib.datasets.classes import load_class_set
    from fakeit_lib.generation.quality import generator_quality

    titles = []
    monkeypatch.setattr(ch, "real_images", lambda p, info, n: [])
    monkeypatch.setattr(ch, "synthetic_images", lambda folder, index, n=None: [])
    monkeypatch.setattr(ch, "image_grid", lambda rows, title="": titles.append((title, [r for r, _ in rows])))
    p = SimpleNamespace(images_shown=2)
    jersey = load_class_set("fashion-mnist").by_wnid("n03595614")
    ch.class_grids(p, {("c", 7.5): Path("/x"), ("c_dc", 2.0): Path("/y")}, [jersey])
    assert titles == [("jersey", ["real", "class name, guidance 7.5", "class name + definition, guidance 2"])]
    monkeypatch.setattr(generator_quality, "prompt_sensitivity", lambda a, b: {"same_seed": 0.1, "between_seeds": 0.2,
                                                                             "share": 0.5})
    p = SimpleNamespace(guidances=[7.5], variants=["c", "c_hc", "c_dc"])
    pairs = ch.sensitivity_frame(p, {(v, 7.5): Path(f"/{v}") for v in p.variants})
    assert pairs[["prompt a", "prompt b"]].values.tolist() == [
        ["class name", "class name + hypernym"], ["class name", "class name + definition"],
        ["class name + hypernym", "class name + definition"]]


def test_fig1_names_the_papers_clone_by_its_prompt_in_words():
    from fakeit_lib.chapters import fig1_spider as ch

    models = list(ch.paper_spider())
    assert models == ["ImageNet-1K (RSB-A1 ResNet-50)", "ImageNet-1K (PyTorch ResNet-50)",
                      "ImageNet-1K-SD (class name + definition, guidance 2.0)"]
    assert ch.model_colours(models)[-1] == ch.SYNTHETIC_COLOUR  # still drawn as the synthetic model
    gap = claims.paper_value("gap_narrows_in_transfer", "imagenet100")
    assert gap == ("the paper makes this claim for ImageNet-1K, not ImageNet-100: on ImageNet-1K the real-trained "
                   "ResNet-50 leads the clone by 33.2 points of val top-1 (76.1 against 42.9); in transfer the clone "
                   "leads it by 2.7 points (68.4 against 65.7, the 10-dataset average), so no gap is left (Tables 1-2 "
                   "rows 13 and 17, 4 and 8)")


def test_imagenet1k_rows_and_the_posters_clone_name_the_prompt_in_words():
    from fakeit_lib.chapters import imagenet1k as ch

    t1 = ch.table1_frame().set_index("row")
    assert t1.loc[16, "model"] == "ImageNet-1K-SD, class name + hypernym + background, guidance 7.5"
    assert ch.table2_frame().set_index("row").loc[8, "model"] == "ImageNet-1K-SD, class name + definition, guidance 2.0"
    assert "ImageNet-1K-SD (class name + definition, guidance 2.0)" in ch.poster_frame().columns
    p = ch.ImageNet1KParams(scale="paper")
    v = next(v for v in ch.imagenet1k_findings(p, []) if v.id == "in1k_transfer_low_guidance_better")
    assert "the probes of the 2.0 clone (class name + definition) (Table 2 row 8)" in v.reason


def test_the_mini_transfer_datasets_are_named_in_words():
    from fakeit_lib.chapters import tab2_transfer as ch
    from fakeit_lib.chapters.words import MINI_TRANSFER_NAMES, transfer_name
    from fakeit_lib.datasets.minidata import TRANSFER_SETS

    assert set(MINI_TRANSFER_NAMES) == set(TRANSFER_SETS)  # every dataset of the suite has its name
    assert transfer_name("letters") == "Font letters" and transfer_name("cars") == "Cars196"
    ours = {"real": [{"digits": 90.0, "mnist": 80.0, "letters": 70.0, "clipart": 30.0, "average": 67.5}] * 2}
    assert list(ch.run_frame(ours).columns) == ["trained on", "UCI digits", "MNIST", "Font letters", "Clip art", "average"]
    assert ch.averaged_datasets(ours, "this run")["this run"] == "UCI digits, MNIST, Font letters, Clip art"
    assert ch.averages_figure(ch.averages_frame(ours, "this run"), ch.averaged_datasets(ours, "this run")) \
        .layout.annotations[-1].text.endswith("average over UCI digits,<br>MNIST, Font letters, Clip art")
    for table in (ch.transfer_sets_frame("mini"), ch.transfer_sources_frame("mini")):
        assert table["dataset"].tolist() == ["UCI digits", "MNIST", "Font letters", "Clip art"]


def test_representation_measures_name_the_datasets_in_words(monkeypatch):
    from fakeit_lib.chapters import representations as ch

    result = {"datasets": {d: {"repmetrics_test": {"sparsity": 0.1, "coding_length": 100.0}}
                           for d in ("digits", "mnist", "letters", "clipart")}}
    monkeypatch.setattr(ch, "transfer_results", lambda *a, **k: result)
    model = SimpleNamespace(label="real", seeds=[0], checkpoints=[Path("/c/0")])
    long = ch.repmetrics_frame(SimpleNamespace(transfer_suite="mini", transfer_roots={}), [model])
    assert long["dataset"].unique().tolist() == ["UCI digits", "MNIST", "Font letters", "Clip art"]
    fig = ch.repmetrics_figure(long)
    assert list(fig.data[0].x) == ["UCI digits", "MNIST", "Font letters", "Clip art"]


def test_domain_shift_names_each_shift_with_its_capital_and_the_imagenet_set_it_stands_for():
    from fakeit_lib.chapters import domain_shift as ch

    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", eval_suite="mini", variants=["c", "c_dc"])
    table = ch.shift_table(p)
    assert table["test"].tolist() == ["Edge-map sketches", "Inverted renditions", "Gaussian noise", "Gaussian blur",
                                      "Low contrast"]
    assert table["stands in for"].tolist()[:2] == ["ImageNet-Sketch", "ImageNet-R"]
    scores = {"real": [{"in-domain": 80.0, "sketch": 30.0, "inverted": 20.0}] * 2}
    runs = {"real": runs_of("real", "real", None, None, [80.0, 80.0])}
    assert list(ch.shift_frame(runs, scores).columns)[3:] == [
        "in-domain top-1", "Edge-map sketches (as ImageNet-Sketch) top-1", "Inverted renditions (as ImageNet-R) top-1"]
    # at the paper scale `sketch` is ImageNet-Sketch itself, not the constructed edge maps
    paper = {"real": [{"in-domain": 80.0, "sketch": 30.0, "r": 20.0}] * 2}
    assert list(ch.shift_frame(runs, paper).columns)[4:] == ["IN-Sketch top-1", "IN-R top-1"]
    lags = ch.in1k_lags(p, {}, {}, "imagenet100")
    assert lags.reason.endswith("its shifted tests are edge-map sketches (as ImageNet-Sketch), inverted renditions "
                                "(as ImageNet-R), Gaussian noise (as ImageNet-C), Gaussian blur (as ImageNet-C), "
                                "low contrast (as ImageNet-C)")
    assert ch.test_words("sketch", shifted=False) == "ImageNet-Sketch"


def test_domain_shift_parts_name_the_tests_in_words(monkeypatch):
    from fakeit_lib.chapters import domain_shift as ch

    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", eval_suite="mini", variants=["c", "c_hc"],
                            train_seeds=[0, 1, 2], draws=2)
    runs = {k: r for k, r in table1_runs().items()}
    monkeypatch.setattr(ch, "draw_scores", lambda p, runs, scores: [])
    per = lambda base: [{"in-domain": base, "sketch": base - 40 + d, "inverted": base - 50 + d} for d in (0, 1, -1)]
    scores = {k: per(r.scores()[0]) for k, r in runs.items()}
    (v, *_) = ch.shift_findings(p, runs, scores)
    assert {"on the edge-map sketches (as ImageNet-Sketch), both named winners above real",
            "on the inverted renditions (as ImageNet-R), both named winners above real"} <= set(v.evidence)


def test_fig4_names_the_authors_code_by_its_paper():
    from fakeit_lib.chapters import fig4_scaling as ch

    text = ch.budget_text(ch.ScalingParams(multipliers=[1.0, 10.0]))
    assert "the authors' released code, that of t-ReX (Sariyildiz et al., 2023b), does (100 epochs" in text
    assert "naver" not in text


@pytest.mark.parametrize("name", ["fig2_qualitative", "fig4_scaling"])
def test_edited_notebooks_read_and_speak_words(name):
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    prose = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "`c, d_c`" not in prose and "under the prompt `c`" not in prose
    json.dumps(nb)  # plain JSON all through
