"""Output folders of the pipeline's stages: atomic writes, config hashes, done markers, compute-or-load."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .errors import FakeitError

DONE_MARKER = "DONE"
CONFIG_FILE = "config.yaml"


def output_root() -> Path:
    """The root of heavy outputs: $FAKEIT_OUTPUT, else ./outputs."""
    return Path(os.environ.get("FAKEIT_OUTPUT", "outputs")).expanduser()


def cache_root() -> Path:
    """The root of prepared inputs (decompressed data, WordNet for nltk, class sets, rendered datasets, matched
    scenes): $FAKEIT_CACHE, else ~/.cache/fakeit. Every cache of the library lives under it."""
    return Path(os.environ.get("FAKEIT_CACHE", Path.home() / ".cache" / "fakeit")).expanduser()


def _plain(obj: Any) -> Any:
    """A JSON/YAML-safe copy of a config (dataclasses, paths and tuples made plain)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_hash(config: Any, length: int = 6) -> str:
    """A short stable hash of a config (canonical JSON, sha256)."""
    text = json.dumps(_plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def slug(text: str, sep: str = "-", keep: str = "") -> str:
    """`text` made fit for a folder name: lower case, each run of characters other than a-z, 0-9 and `keep` one
    `sep`, none at either end (classes: `slug(name, "_")`; stage folders: `slug(text, "-", keep=".")`)."""
    return re.sub(f"[^a-z0-9{re.escape(keep)}]+", sep, text.lower()).strip(sep)


def stage_dir(name: str, config: Any, root: Path | None = None) -> Path:
    """The folder of a stage's output: `<root>/<name>-<hash of config>`."""
    return (root or output_root()) / f"{name}-{config_hash(config)}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see either nothing or the whole content (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write a JSON file atomically (indented, keys in order given)."""
    atomic_write_text(path, json.dumps(_plain(obj), indent=2) + "\n")


def read_config(folder: Path) -> dict | None:
    """The config recorded in a stage folder, or None if there is none."""
    f = Path(folder) / CONFIG_FILE
    if not f.exists():
        return None
    return yaml.safe_load(f.read_text())


def claim_folder(folder: Path, config: Any) -> Path:
    """Create a stage folder holding `config.yaml`, or accept one holding the same config; else raise."""
    folder = Path(folder)
    plain = _plain(config)
    if folder.exists() and not folder.is_dir():
        raise FakeitError(f"output folder {folder} exists and is not a folder")
    existing = read_config(folder) if folder.exists() else None
    if existing is not None:
        if existing != plain:
            diff = sorted(k for k in set(existing) | set(plain) if existing.get(k) != plain.get(k))
            raise FakeitError(
                f"output folder {folder} holds a run with another config (differs in: {', '.join(diff)}); "
                "choose another folder or remove it"
            )
        return folder
    if folder.exists() and any(p.name != ".gitkeep" for p in folder.iterdir()):
        raise FakeitError(f"output folder {folder} is not empty and holds no {CONFIG_FILE}; choose an empty or new folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / CONFIG_FILE, yaml.safe_dump(plain, sort_keys=True))
    except OSError as e:
        raise FakeitError(f"cannot write to output folder {folder}: {e.strerror}") from None
    return folder


def is_done(folder: Path) -> bool:
    """True when a stage folder holds its done marker (written last)."""
    return (Path(folder) / DONE_MARKER).exists()


def mark_done(folder: Path, summary: dict | None = None) -> None:
    """Write the done marker last, atomically, with an optional summary."""
    atomic_write_json(Path(folder) / DONE_MARKER, summary or {})


# A stage's identity is its config, the content of its inputs and the version of the code that computes it: a result
# made by other code or from other data is never reused. The code of a stage is the source of the modules it runs
# (paths inside the package).
STAGE_CODE = {
    "generate": ("generation/generate.py", "generation/config.py", "generation/pipeline.py", "generation/writer.py",
                 "generation/mini/model.py", "prompts/variants.py", "prompts/scenes.py", "prompts/backgrounds.py",
                 "datasets/classes.py"),
    "train": ("training/train.py", "training/recipe.py", "training/loaders.py", "training/augment.py",
              "training/models.py", "datasets/images.py"),
    "evaluate": ("evaluation/evaluate.py", "training/models.py", "training/augment.py", "datasets/images.py",
                 "evaluation/minidata.py", "evaluation/shifts.py"),
    "transfer": ("evaluation/transfer.py", "evaluation/transfer_data.py", "evaluation/probe.py", "evaluation/repmetrics.py",
                 "training/models.py", "training/augment.py", "datasets/images.py", "evaluation/minidata.py"),
    "judge": ("evaluation/judge.py",),
    "real": ("datasets/images.py", "datasets/fashion_mnist.py"),
}


def code_version(stage: str) -> str:
    """A short hash of the source of the modules a stage runs (STAGE_CODE): changes whenever that code changes."""
    return _code_version(stage)


def _module_files(stage: str) -> list[Path]:
    if stage not in STAGE_CODE:
        raise FakeitError(f"unknown stage {stage!r}; valid: {', '.join(STAGE_CODE)}")
    package = Path(__file__).resolve().parents[1]
    return [package / m for m in STAGE_CODE[stage]]


def _code_version_uncached(stage: str) -> str:
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in _module_files(stage):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


_CODE_CACHE: dict[str, str] = {}


def _code_version(stage: str) -> str:
    if stage not in _CODE_CACHE:
        _CODE_CACHE[stage] = _code_version_uncached(stage)
    return _CODE_CACHE[stage]


def _is_input_key(key: str) -> bool:
    """Keys of a stage's identity that name its code or the content of its inputs, not a setting."""
    return key == "code" or key.endswith(("_content", "_sha256"))


def recompute_note(folder: Path, recorded: dict) -> str | None:
    """Why a stage is computed although a finished output with the same settings stands beside its folder
    (`<slug>-<hash>` siblings that differ only in the stage's code or its inputs' content): its code changed, or its
    inputs did. None when there is no such sibling (a stage with other settings is another stage, not a redo)."""
    folder = Path(folder)
    slug = folder.name.rsplit("-", 1)[0]
    if not folder.parent.is_dir():
        return None
    plain = _plain(recorded)
    for other in sorted(folder.parent.glob(f"{slug}-*"), key=lambda p: p.stat().st_mtime, reverse=True):
        if other == folder or other.name.rsplit("-", 1)[0] != slug or not is_done(other):
            continue
        theirs = read_config(other) or {}
        diff = sorted(k for k in set(theirs) | set(plain) if theirs.get(k) != plain.get(k))
        if diff and all(_is_input_key(k) for k in diff):
            why = "its code changed" if "code" in diff else "its inputs changed"
            return f"{folder.name}: computed anew beside finished {other.name} ({why}; differs in: {', '.join(diff)})"
    return None


def claim_explained(folder: Path, recorded: dict, explain: bool = True) -> Path:
    """`claim_folder`, printing first (on stderr) why the stage is computed when a finished output of the same name
    stands beside it (recompute_note); `explain` False for a folder the user named."""
    import sys

    note = recompute_note(folder, recorded) if explain and not Path(folder).exists() else None
    if note:
        print(note, file=sys.stderr)
    return claim_folder(folder, recorded)


def content_identity(path: Path | str, missing_ok: bool = False) -> str:
    """A short identity of a dataset folder's content. A stage output (a folder with a manifest and the config that
    made it) is named by its folder, whose name hashes that stage's own identity (config, inputs' content, code): its
    images follow from it, and a plan can name it before it is made. A user's ImageFolder is hashed by every image
    file's relative path and size."""
    folder = Path(path)
    is_stage = (folder / "manifest.jsonl").is_file() and (folder / CONFIG_FILE).is_file()
    if is_stage or (missing_ok and not folder.exists()):  # a plan names the outputs of stages not yet run
        return f"stage:{folder.name}"
    if not folder.is_dir():
        raise FakeitError(f"dataset {folder} does not exist")
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(f"{p.relative_to(folder).as_posix()}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:12]
