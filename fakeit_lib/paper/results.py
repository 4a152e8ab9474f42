"""The numbers the paper reports (Tables 1 and 2, `data/paper_results.yaml`), the names of its test sets and prompt
variants, and the classes its Fig. 2 shows."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

import yaml

from ..core.errors import FakeitError

# the paper's ImageNet test sets: key in our results -> (column prefix in paper_results.yaml, readable name)
TEST_SETS = {"val": ("in_val", "IN-val"), "v2": ("in_v2", "IN-v2"), "sketch": ("in_sketch", "IN-Sketch"),
             "r": ("in_r", "IN-R"), "a": ("in_a", "IN-A")}
VARIANT_LABELS = {"c": "c", "c_hc": "c, h_c", "c_dc": "c, d_c", "c_hc_inside_b": "c, h_c inside b",
                  "c_hc_inside_b_matched": "c, h_c inside b (matched)", "clip": "a photo of a c"}
# the same variants in words, for labels, legends and prose
VARIANT_NAMES = {"c": "class name", "c_hc": "class name + hypernym", "c_dc": "class name + definition",
                 "c_hc_inside_b": "class name + hypernym + background",
                 "c_hc_inside_b_matched": "class name + hypernym + matched background", "clip": "CLIP template"}


def variant_name(variant: str) -> str:
    """A prompt variant in words (`c_hc` -> `class name + hypernym`)."""
    if variant not in VARIANT_NAMES:
        raise FakeitError(f"unknown prompt variant {variant!r}; valid: {', '.join(VARIANT_NAMES)}")
    return VARIANT_NAMES[variant]


CITATION_KEY = "sariyildiz2023fakeit"
PAPER_EXAMPLES = ("n02086910", "n01820546", "n03947888")  # papillon, lorikeet, pirate ship (paper Fig. 2)


@functools.lru_cache(maxsize=1)
def paper_results() -> dict:
    """The numbers the paper reports (Tables 1 and 2), with their citation."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_results.yaml"))
    return yaml.safe_load(path.read_text())


def paper_rows(table: str, **match) -> list[dict]:
    """Rows of a paper table (`table1` or `table2`) whose fields equal `match`, values keyed by column."""
    t = paper_results()[table]
    out = []
    for row in t["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            out.append({**{k: v for k, v in row.items() if k != "values"}, **dict(zip(t["columns"], row["values"]))})
    return out


# Table 2's data sets as the paper names them (its columns' keys in paper_results.yaml are lowercase codes)
TRANSFER_NAMES = {"aircraft": "Aircraft", "cars": "Cars196", "dtd": "DTD", "eurosat": "EuroSAT", "flowers": "Flowers",
                  "pets": "Pets", "food101": "Food101", "sun397": "SUN397", "inat2018": "iNat18", "inat2019": "iNat19",
                  "average": "average"}


def paper_columns(table: str) -> list[str]:
    """The columns of a paper table."""
    return list(paper_results()[table]["columns"])


def train_set_of(class_set: str) -> str:
    """The paper's training set a run's class set is compared with: imagenet1k, else imagenet100."""
    return "imagenet1k" if class_set == "imagenet1k" else "imagenet100"


def table1_row(train: str, data: str, variant: str | None = None, guidance: float | None = None,
               multiplier: float = 1.0) -> dict | None:
    """The paper's Table 1 row for a setting, or None when the paper has none."""
    match = {"train": train, "data": data}
    if data == "synthetic":
        match.update(variant=variant, guidance=guidance, scale=multiplier)
    rows = paper_rows("table1", **match)
    return rows[0] if rows else None


def table1_value(train: str, variant: str | None, guidance: float | None, column: str = "in_val_top1",
                 multiplier: float = 1.0) -> float | None:
    """One Table 1 value: the real baseline when variant is None, else a clone; None when the paper has none."""
    row = table1_row(train, "real" if variant is None else "synthetic", variant, guidance, multiplier)
    if row is None and variant is None:
        row = (paper_rows("table1", train=train, data="real") or [None])[0]
    return row[column] if row else None
