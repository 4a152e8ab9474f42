"""The 365 scene categories of Places365 (the backgrounds b of the `c, h_c inside b` prompts), in label order."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path


def readable_scene(name: str) -> str:
    """A Places365 category name as words: underscores become spaces, and `x/q` becomes `q x`.

    e.g. `apartment_building/outdoor` -> "outdoor apartment building", `field/wild` -> "wild field".
    """
    base, _, qualifier = name.partition("/")
    words = f"{qualifier} {base}" if qualifier else base
    return words.replace("_", " ").strip()


@functools.lru_cache(maxsize=1)
def load_scenes() -> tuple[str, ...]:
    """The 365 Places365 scene categories in label order, made readable (see readable_scene)."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "places365_categories.txt"))
    names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    return tuple(readable_scene(n) for n in names)
