"""The settings of `fakeit transfer` (TransferConfig): which encoder, which transfer datasets (the paper's, from the
user's roots, or the mini suite's offline sets) and the linear probe's settings; what a results folder is named by."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..core.devices import check_device, precision_of
from ..core.errors import FakeitError
from ..core.store import code_version, data_identity
from ..datasets.minidata import TRANSFER_SETS
from ..datasets.transfer_data import ALL_SETS, COG_LEVELS
from .probe import SOLVERS, SGDSettings


MINI_SETS = tuple(TRANSFER_SETS)


ROOTED = tuple(n for n in ALL_SETS if n not in COG_LEVELS)  # one root each; the CoG levels share cog_root


NOT_IDENTITY = ("checkpoint", "batch_size", "workers", "device")  # the checkpoint counts by its content


@dataclass
class TransferConfig:
    """Which encoder, which datasets, and the probe's settings."""

    checkpoint: str = ""  # our checkpoint.pt, the authors' resnet50 .pth (an encoder without fc is fine), or random:<arch>
    suite: str = "paper"  # paper (Table 2's ten datasets, CoG levels, ImageNet-1K; user roots) or mini (offline)
    aircraft_root: str | None = None  # FGVC-Aircraft (fgvc-aircraft-2013b/ with data/images_variant_*.txt)
    cars_root: str | None = None  # Stanford Cars (cars_annos.mat, car_ims/)
    dtd_root: str | None = None  # DTD (images/, labels/train1.txt ...)
    eurosat_root: str | None = None  # EuroSAT RGB (the 10 class folders, or eurosat/2750/ above them)
    flowers_root: str | None = None  # Flowers-102 (jpg/, imagelabels.mat, setid.mat)
    pets_root: str | None = None  # Oxford-IIIT Pets (images/, annotations/trainval.txt, test.txt)
    food101_root: str | None = None  # Food-101 (images/, meta/train.txt, test.txt)
    sun397_root: str | None = None  # SUN397 (ClassName.txt, Training_01.txt, Testing_01.txt, SUN397/<class>/...)
    inat2018_root: str | None = None  # iNaturalist 2018 root: train2018.json, val2018.json, train_val2018/
    inat2019_root: str | None = None  # iNaturalist 2019 root: train2019.json, val2019.json, train_val2019/
    in1k_root: str | None = None  # ImageNet-1K (train/, val/ in wnid folders): the linear probe of the CoG protocol
    cog_root: str | None = None  # ImageNet-CoG: the ImageNet-21K images the CoG split files name (all five levels)
    cog_levels_file: str | None = None  # ImageNet-CoG: the levels' concept lists (pickle published with CoG)
    cog_splits_file: str | None = None  # ImageNet-CoG: each concept's train/test images (pickle published with CoG)
    mini_sets: list[str] = field(default_factory=lambda: list(MINI_SETS))  # mini: out-of-domain datasets probed
    weight_decays: list[float] | None = None  # L-BFGS grid searched on the val split; None: the suite's (probe.py)
    val_fraction: float = 0.2  # share of the training split held out to choose hyper-parameters; the authors: 0.2
    max_iter: int = 300  # L-BFGS iterations per fit
    solver: str = "auto"  # auto (by size, see probe.py), lbfgs (full batch) or sgd (minibatch)
    sgd_lrs: list[float] = field(default_factory=lambda: list(SGDSettings().lrs))  # minibatch solver: learning rates searched
    sgd_wds: list[float] = field(default_factory=lambda: list(SGDSettings().wds))  # minibatch solver: weight decays searched
    sgd_epochs: int = 100  # minibatch solver: epochs per fit; the authors: 100
    sgd_batch_size: int = 1024  # minibatch solver: batch; the authors: 1024
    check_sizes: bool = True  # refuse a paper dataset whose split sizes differ from the authors' published ones
    batch_size: int = 128  # feature extraction batch per process
    workers: int | None = None  # DataLoader worker processes; None: 0 on the CPU, up to 8 per GPU
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu
    seed: int = 0  # seeds the validation split, the minibatch solver, EuroSAT's split and a random encoder
    random_init: bool = False  # probe the checkpoint's network at its own initialisation (its training seed, before any
    # step): Table 2 row 1's "random weights" for this very architecture and preprocessing

    def validate(self) -> None:
        if not self.checkpoint:
            raise FakeitError("parameter checkpoint is empty; give a checkpoint file")
        if self.suite not in ("paper", "mini"):
            raise FakeitError(f"parameter suite={self.suite!r} is not valid; valid: 'paper', 'mini'")
        if self.suite == "paper" and not self.roots():
            raise FakeitError(f"suite paper needs at least one dataset root: {', '.join(n + '_root' for n in ROOTED)}, cog_root")
        unknown = sorted(set(self.mini_sets) - set(MINI_SETS))
        if unknown or not self.mini_sets:
            raise FakeitError(f"parameter mini_sets={self.mini_sets} must list datasets of {', '.join(MINI_SETS)}")
        if not 0 < self.val_fraction < 1:
            raise FakeitError(f"parameter val_fraction={self.val_fraction} must be in (0, 1)")
        if self.weight_decays is not None and (not self.weight_decays or min(self.weight_decays) < 0):
            raise FakeitError(f"parameter weight_decays={self.weight_decays} must be a non-empty list of values >= 0 or null")
        if self.solver not in SOLVERS:
            raise FakeitError(f"parameter solver={self.solver!r} is not valid; valid: {', '.join(SOLVERS)}")
        if not self.sgd_lrs or not self.sgd_wds or self.sgd_epochs < 1 or self.sgd_batch_size < 1:
            raise FakeitError("parameters sgd_lrs and sgd_wds must be non-empty, sgd_epochs and sgd_batch_size >= 1")
        check_device(self.device)

    def roots(self) -> dict[str, str]:
        """Dataset name -> root, for the roots given (the five CoG levels when cog_root is given)."""
        out = {n: getattr(self, f"{n}_root") for n in ROOTED if getattr(self, f"{n}_root")}
        out.update({n: self.cog_root for n in COG_LEVELS if self.cog_root})
        return {n: out[n] for n in ALL_SETS if n in out}

    def identity(self, sha256: str) -> dict:
        """What a result folder is named by: the encoder's content, the datasets' content and the probe's settings,
        and the precision its features are extracted in on the device the config names (devices.precision_of), not
        where it ran nor where the datasets are mounted (root_identity)."""
        plain = {k: v for k, v in asdict(self).items() if k not in NOT_IDENTITY}
        for k, v in plain.items():
            if k.endswith(("_root", "_file")) and v:
                plain[k] = root_identity(k, v)
        return {**plain, "precision": precision_of("auto", self.device, True, self.suite == "paper"), "checkpoint_sha256": sha256, "code": code_version("fakeit_lib.evaluation.transfer")}

    def sgd(self) -> SGDSettings:
        return SGDSettings(self.sgd_lrs, self.sgd_wds, self.sgd_epochs, self.sgd_batch_size)


def root_identity(field_name: str, path: str) -> str:
    """The identity of a transfer dataset's root or file (store.data_identity: files' names and sizes, a file's
    bytes). ImageNet-CoG's root is the ImageNet-21K tree (14 M files): the images a probe reads are those its split
    file names, so that root counts by name alone and the split file by its bytes."""
    if field_name == "cog_root":
        return "imagenet-21k (the images cog_splits_file names)"
    return data_identity(path)
