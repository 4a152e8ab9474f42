"""The real-trained and the clone-trained encoder that Table 2, Fig. 1 and the representation chapter compare."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import FakeitError
from ..prompts.variants import check_variant
from .params import BestCloneParams, PipelineParams, TransferParams, shared
from .stages import ModelRuns, model_runs_many


@dataclass
class ComparisonParams(TransferParams, BestCloneParams, PipelineParams):
    """Parameters of the real-vs-synthetic chapters (Table 2, Fig. 1, representations): one model pair, shared."""

    draws: int = shared("draws")  # draws of the 1x compared clone (Table 1's drawn clone when it is the same) whose probes measure the variance of a draw in transfer; mini: 4

    def validate(self) -> None:
        super().validate()
        if self.draws < 1:
            raise FakeitError(f"parameter draws={self.draws} must be at least 1 (1: no draw measured)")
        check_variant(self.best_variant)
        if self.best_guidance <= 0 or self.best_multiplier <= 0:
            raise FakeitError(f"best_guidance ({self.best_guidance}) and best_multiplier ({self.best_multiplier}) must be positive")
        if self.transfer_suite not in ("paper", "mini"):
            raise FakeitError(f"parameter transfer_suite={self.transfer_suite!r} is not valid; valid: paper, mini")


def compared_runs(p: ComparisonParams) -> tuple[ModelRuns, ModelRuns]:
    """(real-trained, clone-trained) models, each trained once per seed (stages shared with the other chapters)."""
    real, synthetic = model_runs_many(p, [(None, None, 1.0, {}), (p.best_variant, p.best_guidance, p.best_multiplier, {})])
    return real, synthetic


def equal_size_runs(p: ComparisonParams, synthetic: ModelRuns) -> ModelRuns:
    """The compared clone's models at the real set's size (1x): `synthetic` itself when it is 1x, else the 1x clone
    of the same prompt and guidance (trained for Table 1 and Fig. 4, so loaded, not retrained)."""
    if synthetic.multiplier == 1.0:
        return synthetic
    (same,) = model_runs_many(p, [(p.best_variant, p.best_guidance, 1.0, {})])
    return same


def draw_runs(p: ComparisonParams, same: ModelRuns) -> list[ModelRuns]:
    """The draws of the 1x compared clone, each trained with the page's seeds: `same` (generation seed p.seed), then
    the clone drawn again with generation seeds p.seed + 1, ..., p.seed + draws - 1 (Table 1's extra draws when Table
    1 drew this clone, as at the mini preset: loaded, not retrained). [] with draws 1 (no draw measured)."""
    if p.draws < 2:
        return []
    extra = [(same.variant, same.guidance, 1.0, {}, p.seed + d) for d in range(1, p.draws)]
    return [same, *model_runs_many(p, extra)]
