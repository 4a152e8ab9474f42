"""Names the pages show a reader, in words: the mini transfer datasets, the constructed shifts and the paper's prompt
templates inside its model labels. Results and caches keep their codes (`digits`, `sketch`, `c_dc`); only what a
page shows is translated, here, outside the modules hashed into the pipeline's stages (a wording change rebuilds
nothing)."""

from __future__ import annotations

import re

from ..evaluation.shifts import SHIFTS
from ..paper.results import TRANSFER_NAMES, VARIANT_LABELS, VARIANT_NAMES

# the mini suite's datasets (datasets.minidata.TRANSFER_SETS) as a reader names them: the 8x8 UCI digits of
# scikit-learn, MNIST, letters A-J rendered from fonts the way notMNIST was built, and Open Clip Art drawings
MINI_TRANSFER_NAMES = {"digits": "UCI digits", "mnist": "MNIST", "letters": "Font letters", "clipart": "Clip art"}


def transfer_name(key: str) -> str:
    """A transfer dataset in words: the mini suite's (`letters` -> `Font letters`) or the paper's (`cars` ->
    `Cars196`); an unknown key as it is."""
    return MINI_TRANSFER_NAMES.get(key) or TRANSFER_NAMES.get(key, key)


def shift_name(key: str) -> str:
    """A constructed shift in words, capitalised as a name (`sketch` -> `Edge-map sketches`); another key as it is."""
    if key not in SHIFTS:
        return key
    title = SHIFTS[key].title
    return title[0].upper() + title[1:]


def shift_pair(key: str) -> str:
    """A constructed shift with the ImageNet test set it stands for: `Edge-map sketches (as ImageNet-Sketch)`."""
    return f"{shift_name(key)} (as {SHIFTS[key].analogue})" if key in SHIFTS else key


_TEMPLATES = {label: VARIANT_NAMES[v] for v, label in VARIANT_LABELS.items()}
_IN_BRACKETS = re.compile(r"\(([^()]+?), guidance ([0-9.]+)\)")


def label_in_words(label: str) -> str:
    """A model label of the paper's data file with its prompt template in words: `ImageNet-1K-SD (c, d_c, guidance
    2.0)` -> `ImageNet-1K-SD (class name + definition, guidance 2.0)`; a label without a template as it is."""
    def words(m: re.Match) -> str:
        template = m.group(1)
        return f"({_TEMPLATES[template]}, guidance {m.group(2)})" if template in _TEMPLATES else m.group(0)

    return _IN_BRACKETS.sub(words, label)
