"""WordNet 3.0 through nltk: nltk's own data where present, else a copy built from Debian's wordnet packages.

ImageNet wnids are WordNet 3.0 noun offsets (`n02086910` is noun offset 2086910), so the version must be 3.0;
any other data is refused rather than silently used.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import cache_root

DEBIAN_WORDNET = Path("/usr/share/wordnet")
# The files nltk's WordNetCorpusReader reads (plus `lexnames`, which Debian does not ship).
_WORDNET_FILES = [
    "data.noun", "data.verb", "data.adj", "data.adv",
    "index.noun", "index.verb", "index.adj", "index.adv", "index.sense",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc", "cntlist.rev",
]
# The lexicographer file table of WordNet 3.0 (`man 5 lexnames`): number, name, syntactic category.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive "
    "noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation "
    "noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception "
    "verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_POS_NUMBER = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

INSTALL_HINT = (
    "WordNet 3.0 is not available: run `python -c \"import nltk; nltk.download('wordnet')\"` (needs internet) "
    "or install Debian's packages (apt-get install wordnet-base wordnet-sense-index)"
)


def lexnames_text() -> str:
    """The `lexnames` file of WordNet 3.0: `NN<TAB>name<TAB>pos-number` lines."""
    return "".join(f"{i:02d}\t{n}\t{_POS_NUMBER[n.split('.')[0]]}\n" for i, n in enumerate(_LEXNAMES))


def build_nltk_wordnet(target: Path, source: Path = DEBIAN_WORDNET) -> Path:
    """Copy Debian's WordNet files into `<target>/corpora/wordnet/` with a lexnames file; returns `target`."""
    missing = [f for f in _WORDNET_FILES if not (source / f).exists()]
    if missing:
        raise FakeitError(f"{INSTALL_HINT} (missing in {source}: {', '.join(missing)})")
    dest = Path(target) / "corpora" / "wordnet"
    tmp = dest.with_name("wordnet.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for f in _WORDNET_FILES:
        shutil.copyfile(source / f, tmp / f)  # copies, not links: nltk refuses links leaving its root
    (tmp / "lexnames").write_text(lexnames_text())
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return Path(target)


def _cache_dir() -> Path:
    return cache_root() / "nltk_data"


@functools.lru_cache(maxsize=1)
def wordnet():
    """nltk's WordNet 3.0 corpus reader, from nltk's data or built offline from Debian's files."""
    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    warnings.filterwarnings("ignore", message="The multilingual functions are not available")

    try:
        root = nltk.data.find("corpora/wordnet")
        wn = WordNetCorpusReader(root, None)
        source = str(root)
    except LookupError:
        cache = _cache_dir()
        if not (cache / "corpora" / "wordnet" / "lexnames").exists():
            build_nltk_wordnet(cache)
        if str(cache) not in nltk.data.path:
            nltk.data.path.append(str(cache))
        wn = WordNetCorpusReader(str(cache / "corpora" / "wordnet"), None)
        source = str(cache)
    if wn.get_version() != "3.0":
        raise FakeitError(f"WordNet at {source} is version {wn.get_version()}, ImageNet wnids need 3.0; {INSTALL_HINT}")
    return wn


def is_wnid(text: str) -> bool:
    """True for an ImageNet-style WordNet noun id: `n` and 8 digits, such as `n02086910`."""
    return isinstance(text, str) and re.fullmatch(r"n[0-9]{8}", text) is not None


def synset_of_wnid(wnid: str):
    """The WordNet 3.0 synset of an ImageNet-style wnid such as `n02086910`."""
    if not is_wnid(wnid):
        raise FakeitError(f"malformed wnid {wnid!r}; expected 'n' followed by 8 digits, e.g. n02086910")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            synset = wordnet().synset_from_pos_and_offset("n", int(wnid[1:]))
        except Exception:
            synset = None
    if synset is None:
        raise FakeitError(f"wnid {wnid} is not a noun synset of WordNet 3.0")
    return synset


def wnid_of(synset) -> str:
    """The wnid (`n` + 8-digit offset) of a noun synset."""
    return f"n{synset.offset():08d}"
