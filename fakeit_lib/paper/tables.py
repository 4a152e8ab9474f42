"""Table cells and labels shared by the chapters: means with intervals over seeds, run labels, model descriptions."""

from __future__ import annotations

import pandas as pd

from .stats import mean_interval

PAPER = "paper (reported)"


def run_label(scale: str) -> str:
    """How this run's rows are labelled beside the paper's: `this run (mini scale)`; the config hash that tells runs
    apart is in the page's provenance line."""
    return f"this run ({scale} scale)"


PM = "\u00a0±\u00a0"  # `mean ± half-width` in a table's cell: non-breaking spaces, so a narrow column never wraps at the ±


def interval_cell(values: list[float], digits: int = 1) -> str:
    """`mean ± half-width of the 95% interval` over seeds, or the single value for one seed."""
    est = mean_interval(values)
    if est.low is None:
        return f"{est.mean:.{digits}f}"
    return f"{est.mean:.{digits}f}{PM}{(est.high - est.low) / 2:.{digits}f}"


def interval_columns(values: list[float], name: str) -> dict:
    """Mean, lower and upper 95% bounds of per-seed values as three columns `name`, `name low`, `name high`."""
    est = mean_interval(values)
    return {name: est.mean, f"{name} low": est.low, f"{name} high": est.high}


def seeds_note(seeds: list[int]) -> str:
    """How the page states its seeds."""
    n = len(seeds)
    if n == 1:
        return f"one training seed ({seeds[0]}): no interval"
    return f"mean ± 95% Student-t interval over {n} training seeds ({', '.join(map(str, seeds))})"


def styled(df: pd.DataFrame, precision: int = 1):
    """A DataFrame styled for the book: index hidden, numbers at `precision`, missing values as a dash."""
    return df.style.hide(axis="index").format(precision=precision, na_rep="–")
