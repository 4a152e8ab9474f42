"""Table 1's runs, shared by the pages that read its models (Table 1, the domain shifts, matched backgrounds): its
parameters, the models it trains (the real baseline, every prompt variant x guidance scale, the extra draws of one
clone) and how a model is named in its family."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import FakeitError
from ..prompts.variants import check_variant
from .params import PipelineParams, shared
from .stages import draw_setting as stages_draw_setting
from .stages import model_runs_many


def test_set_name(test: str) -> str:
    """A run's test set as a table names it: `fashion-mnist-test` -> `Fashion-MNIST test`, `val` -> `IN-val` (the
    paper's ImageNet sets by their short names); other names as they are."""
    from ..datasets.classes import CLASS_SET_NAMES
    from ..paper.results import TEST_SETS

    base = test.removesuffix("-test")
    if base != test and base in CLASS_SET_NAMES:
        return f"{CLASS_SET_NAMES[base]} test"
    return TEST_SETS[test][1] if test in TEST_SETS else test


def test_set_words(test: str) -> str:
    """A run's test set in words: `fashion-mnist-test` -> `the Fashion-MNIST test split`; other names as they are."""
    name = test_set_name(test)
    return f"the {name} split" if name.endswith(" test") and test.endswith("-test") else test


NO_SCENES = ("Fashion-MNIST images show one object on a black background and the mini generator draws no scene, so a "
             "background in the prompt cannot change what is drawn the way it does for Stable Diffusion")


@dataclass
class Table1Params(PipelineParams):
    """Parameters of Table 1: every prompt variant x guidance scale, plus the real baseline."""

    variants: list[str] = shared("variants")  # paper: these four
    guidances: list[float] = shared("guidances")  # paper: 7.5 (default) and 2.0
    draws: int = shared("draws")  # draws of the paper's best clone (generation seeds seed, seed + 1, ...) measuring the variance of a draw; mini: 4

    def validate(self) -> None:
        super().validate()
        for v in self.variants:
            check_variant(v)
        if not self.variants or not self.guidances or any(g < 0 for g in self.guidances):
            raise FakeitError(f"parameters variants={self.variants} and guidances={self.guidances} must be non-empty, guidances >= 0")
        if self.draws < 2:
            raise FakeitError(f"parameter draws={self.draws} must be at least 2: one draw cannot measure a draw's variance")


def draw_setting(p: Table1Params) -> tuple[str, float]:
    """The (variant, guidance) drawn a second time: the paper's best, c_dc at 2.0, when the run has it."""
    return stages_draw_setting(p.variants, p.guidances)


def draw_keys(p: Table1Params) -> list[str]:
    """The keys of the extra draws of the drawn clone: "second draw" (generation seed p.seed + 1), "draw 3", ..."""
    return ["second draw"] + [f"draw {d}" for d in range(3, p.draws + 1)]


def table1_runs(p: Table1Params) -> dict:
    """The real baseline ("real"), every (variant, guidance) clone at 1x, and the extra draws of one of them
    (`draw_keys`: the same settings, generation seeds p.seed + 1, + 2, ...), each trained per seed and evaluated
    together."""
    keys = ["real"] + [(v, float(g)) for g in p.guidances for v in p.variants]
    specs = [(None, None, 1.0, {})] + [(v, g, 1.0, {}) for v, g in keys[1:]]
    variant, guidance = draw_setting(p)
    extra = [(variant, guidance, 1.0, {}, p.seed + d) for d in range(1, p.draws)]
    return dict(zip(keys + draw_keys(p), model_runs_many(p, specs + extra)))


def table_runs(runs: dict) -> dict:
    """The models of Table 1 itself (without the extra draws of a clone)."""
    return {k: r for k, r in runs.items() if not (isinstance(k, str) and (k == "second draw" or k.startswith("draw ")))}


def key_label(key) -> str:
    """How a model of the page is named in its family: `real`, or `c_dc@2` (variant at guidance)."""
    return "real" if key == "real" else f"{key[0]}@{key[1]:g}"
