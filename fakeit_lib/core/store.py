"""Output folders of the pipeline's stages: atomic writes, config hashes, done markers, compute-or-load."""

from __future__ import annotations

import ast
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
from .imports import PACKAGE_DIR, import_closure, module_file

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
# made by other code or from other data is never reused. The code of a stage is the syntax of every module of this
# package that its entry module imports, directly or not, at the top or inside a function (core.imports): the stage
# names its entry module, so no list of files can fall behind the imports. Every reachable module counts, the paper's
# reference numbers (paper/results.py) included: evaluation reads the names of its test sets there. The package's data
# files (`data/`: class lists, scene lists, weights) are read, not imported, and are not part of it.


def code_version(module: str) -> str:
    """A short hash of the source of the stage whose entry module is `module` (a dotted name, e.g.
    "fakeit_lib.training.loop") and of every module of the package it imports: changes whenever that code changes.
    Computed once per process."""
    if module not in _CODE_CACHE:
        _CODE_CACHE[module] = _code_version_uncached(module)
    return _CODE_CACHE[module]


def _code_version_uncached(module: str, root: Path = PACKAGE_DIR) -> str:
    """`code_version` of the package's copy at `root` (its folder), computed anew."""
    h = hashlib.sha256()
    for name in import_closure(module, root):
        path = module_file(name, root)
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + _code_of(path).encode() + b"\0")
    return h.hexdigest()[:12]


def _code_of(path: Path) -> str:
    """What a module computes, without what it says: its syntax tree with docstrings removed, written out without line
    numbers. A comment, a docstring or a reformatted line does not change it, so fixing the text of a module under a
    50x clone (days of GPU time) does not make the clone stale; any change to what runs does."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


_CODE_CACHE: dict[str, str] = {}


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


def is_stage_output(folder: Path | str) -> bool:
    """True when `folder` is (or is being made as) the output of a stage of this library: it records the config that
    made it, and that config names its code version (a user's ImageFolder does neither)."""
    config = Path(folder) / CONFIG_FILE
    if not config.is_file():
        return False
    if (Path(folder) / "manifest.jsonl").is_file():
        return True
    try:
        recorded = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(recorded, dict) and "code" in recorded


def content_identity(path: Path | str, missing_ok: bool = False) -> str:
    """A short identity of a dataset folder's content, never of where it is. A stage output (a clone, an exported real
    set: a folder recording the config that made it) is named by its folder, whose name hashes that stage's own
    identity (config, inputs' content, code): its images follow from it, a plan names it before it is made, and it
    keeps its name wherever the output root is mounted. A user's ImageFolder is hashed by every file's relative path and
    size (`folder_listing_identity`, cached)."""
    folder = Path(path)
    if is_stage_output(folder) or (missing_ok and not folder.exists()):  # a plan names the outputs of stages not yet run
        return f"stage:{folder.name}"
    if not folder.is_dir():
        raise FakeitError(f"dataset {folder} does not exist")
    return folder_listing_identity(folder)


def data_identity(path: Path | str) -> str:
    """The identity of an input a stage reads from the user's disks (a test or transfer set's root, a split file):
    a folder by its files' relative paths and sizes, a file by its bytes' sha256; never by where it is mounted. A
    path that does not exist yet is named by its path (the stage cannot run before it is there)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return content_identity(p)
    if p.is_file():
        return file_identity(p)
    return f"missing:{os.path.normpath(p)}"


_FILE_IDS: dict[tuple, str] = {}


def file_identity(path: Path | str) -> str:
    """sha256 (first 16 hex digits) of a file's bytes, computed once per (path, size, mtime) in a process."""
    p = Path(path)
    st = p.stat()
    key = (os.path.realpath(p), st.st_size, st.st_mtime_ns)
    if key not in _FILE_IDS:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILE_IDS[key] = "sha256:" + h.hexdigest()[:16]
    return _FILE_IDS[key]


# A listing identity is cached per folder (its real path) with the modification time of every directory under it:
# adding, removing or renaming a file changes its directory's time, so the stat of the directories alone (1,000 for
# ImageNet-1K's train split) tells whether the 1.28 M files' listing must be read again. A file rewritten in place under
# the same name (same directory entry) is not seen; times newer than LISTING_SETTLE_SECONDS are not trusted (a
# directory's time has a coarse clock: a change within the same tick would keep it), so such a listing is not cached.
LISTING_SETTLE_SECONDS = 2.0
_LISTINGS: dict[str, dict] = {}


def _walk(root: Path):
    """(relative directory, its mtime_ns, its image files' (name, size)) of every directory under `root`, links to
    folders followed once (an ImageNet-100 made of links into ImageNet-1K is read through them)."""
    seen = set()
    stack = [""]
    while stack:
        rel = stack.pop()
        here = root / rel if rel else root
        real = os.path.realpath(here)
        if real in seen:
            continue
        seen.add(real)
        files, dirs = [], []
        with os.scandir(here) as it:
            for e in it:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    dirs.append(e.name)
                elif e.is_file():
                    files.append((e.name, e.stat().st_size))
        stack.extend(f"{rel}/{d}" if rel else d for d in sorted(dirs, reverse=True))
        yield rel, os.stat(here).st_mtime_ns, sorted(files)


def _dir_times(root: Path, dirs: list[str]) -> list[int] | None:
    try:
        return [os.stat(root / d if d else root).st_mtime_ns for d in dirs]
    except OSError:
        return None


def folder_listing_identity(root: Path | str) -> str:
    """sha256 (12 hex digits) of the sorted relative paths and sizes of the files under `root` (hidden ones left
    out), cached per folder in the cache root and in this process; the cache holds while no directory under `root`
    changed (see LISTING_SETTLE_SECONDS). Reading the listing costs a directory walk and one stat per file."""
    import time

    root = Path(root)
    real = os.path.realpath(root)
    cache_file = cache_root() / "listings" / f"{hashlib.sha256(real.encode()).hexdigest()[:24]}.json"
    entry = _LISTINGS.get(real)
    if entry is None and cache_file.is_file():
        try:
            entry = json.loads(cache_file.read_text())
        except (OSError, json.JSONDecodeError):
            entry = None
    if entry is not None and entry.get("root") == real and _dir_times(root, entry["dirs"]) == entry["times"]:
        _LISTINGS[real] = entry
        return entry["identity"]
    h = hashlib.sha256()
    lines, dirs, times = [], [], []
    for rel, mtime, files in _walk(root):
        dirs.append(rel)
        times.append(mtime)
        lines.extend(f"{rel}/{name}:{size}" if rel else f"{name}:{size}" for name, size in files)
    for line in sorted(lines):
        h.update(f"{line}\n".encode())
    entry = {"root": real, "identity": h.hexdigest()[:12], "files": len(lines), "dirs": dirs, "times": times}
    if max(times, default=0) < time.time_ns() - LISTING_SETTLE_SECONDS * 1e9:
        _LISTINGS[real] = entry
        try:
            atomic_write_json(cache_file, entry)
        except OSError:
            pass  # a read-only cache root: the listing is read again next time
    return entry["identity"]
