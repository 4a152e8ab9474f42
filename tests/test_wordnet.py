"""WordNet 3.0 offline: built from Debian's files with the lexnames table nltk needs."""

from pathlib import Path

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets import wordnet as wnmod


def test_lexnames_table():
    lines = wnmod.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"


@pytest.mark.skipif(not wnmod.DEBIAN_WORDNET.exists(), reason="Debian's wordnet-base is not installed")
def test_build_from_debian_files(tmp_path: Path, monkeypatch):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path), *nltk.data.path])  # nltk reads only under its data path
    root = wnmod.build_nltk_wordnet(tmp_path)
    folder = root / "corpora" / "wordnet"
    assert not any(p.is_symlink() for p in folder.iterdir())
    wn = WordNetCorpusReader(str(folder), None)
    assert wn.get_version() == "3.0"
    s = wn.synset_from_pos_and_offset("n", 2086910)
    assert s.name() == "papillon.n.01" and s.hypernyms()[0].name() == "toy_spaniel.n.01"


def test_missing_source_names_the_fix(tmp_path: Path):
    with pytest.raises(FakeitError, match="apt-get install wordnet-base wordnet-sense-index"):
        wnmod.build_nltk_wordnet(tmp_path / "out", source=tmp_path / "nowhere")


def test_malformed_wnid():
    with pytest.raises(FakeitError, match="malformed wnid 'x123'"):
        wnmod.synset_of_wnid("x123")


@pytest.mark.parametrize("text,ok", [("n02086910", True), ("n0208691", False), ("n020869100", False),
                                     ("N02086910", False), ("n02086910\n", False), ("n0208691x", False), (2086910, False)])
def test_is_wnid(text, ok):
    assert wnmod.is_wnid(text) is ok
