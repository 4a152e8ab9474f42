"""How a synthetic dataset lands on disk: PNG files or tar shards, per-rank manifest files, their repair and merge,
and views.

Each rank appends the rows of a finished batch to `manifest.rank{r}.jsonl` in one flushed write, after the batch's
images were written: as PNG files (storage `folder`: temp file + atomic rename each), or appended to the batch's tar
shard and flushed to disk (storage `shards`, `datasets.shards`: a rank writes whole shards, sample after sample). A
killed run leaves at most a cut-short batch, which is dropped and drawn again; a shard is cut back to the end of its
last complete batch before it grows again, so it ends with the bytes of an uninterrupted run. When every batch has
its rows, each shard gets its end-of-archive blocks, the rank files are merged into `manifest.jsonl` (class, then
image order) and the `DONE` marker is written last. A view (a smaller clone of a larger finished one, see
generation.config) is a folder of relative symbolic links to the larger clone's files, or for a clone in shards a
manifest whose rows point into the larger clone's shards, with the rows a separate run would write.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
from pathlib import Path

from ..core import store
from ..core.errors import FakeitError
from ..datasets.shards import end_of_archive, sample_bytes, sample_end
from .config import Batch, GenerateConfig, ImageJob, is_prefix

MANIFEST = "manifest.jsonl"
MANIFEST_FIELDS = (
    "path", "class_index", "wnid", "variant", "text", "scene", "seed",
    "guidance", "steps", "generator", "revision", "size", "sha256",
)  # fmt: skip
SHARD_FIELDS = ("shard", "offset", "length")  # rows of a clone in shards: the tar file, the image's byte range in it
SHARD_DIR = "shards"


FINISH_LOCK = ".finish.lock"  # held while one process merges a clone's rank files (finish)
COST = "cost.json"  # the core-seconds spent drawing, summed over ranks and resumed runs; apart from DONE, which stays deterministic


def record_seconds(folder: Path, rank: int, seconds: float) -> None:
    """Add one process's drawing time to its rank's cost file (merged into cost.json by `finish`)."""
    path = folder / f"cost.rank{rank}.json"
    before = json.loads(path.read_text())["seconds"] if path.exists() else 0.0
    store.atomic_write_json(path, {"seconds": round(before + seconds, 1)})


def drawing_seconds(folder: Path) -> float:
    """The core-seconds a finished clone's drawing took (0 for a view, or one made before costs were recorded)."""
    try:
        return float(json.loads((folder / COST).read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return 0.0


def shard_path(folder: Path, rank: int) -> Path:
    """The manifest shard of one rank."""
    return folder / f"manifest.rank{rank}.jsonl"


def read_rows(path: Path) -> tuple[list[dict], int]:
    """The complete rows of a JSON-lines file and the byte length they span (a truncated last line is left out)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    rows, end = [], 0
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        end += len(line) + 1
    return rows, end


def complete_batches(rows: list[dict], batch_of: dict[str, int], sizes: list[int]) -> dict[int, list[dict]]:
    """The rows of the batches all of whose images have a row, by batch number."""
    found: dict[int, dict[str, dict]] = {}
    for r in rows:
        b = batch_of.get(r.get("path"))
        if b is not None:
            found.setdefault(b, {})[r["path"]] = r
    return {b: list(v.values()) for b, v in found.items() if len(v) == sizes[b]}


def append_rows(path: Path, rows: list[dict]) -> None:
    """Append rows in one write, flushed to disk: a batch's rows are all there or (after a crash) cut short."""
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def repair_shard(path: Path, keep: dict[int, list[dict]]) -> None:
    """Rewrite a shard to hold only rows of complete batches (drops a truncated line or a cut-short batch)."""
    rows, end = read_rows(path)
    n_keep = sum(len(v) for v in keep.values())
    if path.exists() and (end != path.stat().st_size or n_keep != len(rows)):
        store.atomic_write_bytes(path, b"".join((json.dumps(r) + "\n").encode() for b in sorted(keep) for r in keep[b]))


def done_batches(folder: Path, batch_of: dict[str, int], sizes: list[int]) -> dict[int, list[dict]]:
    """Complete batches found in manifest.jsonl and every rank's shard (the first source holding one wins)."""
    done: dict[int, list[dict]] = {}
    sources = [folder / MANIFEST] + sorted(folder.glob("manifest.rank*.jsonl"))
    for src in sources:
        for b, rows in complete_batches(read_rows(src)[0], batch_of, sizes).items():
            done.setdefault(b, rows)
    return done


def remove_temporaries(folder: Path, class_folders: list[str]) -> None:
    """Delete temp files a killed writer left in the class folders."""
    for name in class_folders:
        for tmp in (folder / name).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def finish(folder: Path, jobs: list[ImageJob], batch_of: dict[str, int], sizes: list[int], class_folders: list[str], summary: dict,
           shards: list[list[int]] | None = None) -> bool:
    """End every tar shard (`shards`: the batches of each), merge the rank files into a sorted manifest.jsonl and
    write DONE, if every batch is complete; True if so. Processes of one clone that finish together take turns (a
    lock file in the folder): one merges and removes the rank files, the others then find the clone done."""
    with open(folder / FINISH_LOCK, "a") as lock, _locked(lock):
        finished = store.is_done(folder) or _finish(folder, jobs, batch_of, sizes, class_folders, summary, shards)
        if finished:  # a process still waiting holds the removed file and finds DONE; a later one makes and removes its own
            (folder / FINISH_LOCK).unlink(missing_ok=True)
        return finished


@contextlib.contextmanager
def _locked(handle):
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def _finish(folder: Path, jobs: list[ImageJob], batch_of: dict[str, int], sizes: list[int], class_folders: list[str],
            summary: dict, shards: list[list[int]] | None) -> bool:
    done = done_batches(folder, batch_of, sizes)
    if len(done) < len(sizes):
        return False
    for s, batch_numbers in enumerate(shards or []):
        finish_shard(folder, shard_file(s), max(row_end(r) for b in batch_numbers for r in done[b]))
    by_path = {r["path"]: r for rows in done.values() for r in rows}
    text = "".join(json.dumps(by_path[j.path]) + "\n" for j in jobs)
    store.atomic_write_text(folder / MANIFEST, text)
    for shard in folder.glob("manifest.rank*.jsonl"):
        shard.unlink(missing_ok=True)
    rank_costs = sorted(folder.glob("cost.rank*.json"))
    if rank_costs:
        seconds = drawing_seconds(folder) + sum(json.loads(p.read_text())["seconds"] for p in rank_costs)
        store.atomic_write_json(folder / COST, {"seconds": round(seconds, 1)})
        for p in rank_costs:
            p.unlink(missing_ok=True)
    remove_temporaries(folder, class_folders)
    store.mark_done(folder, summary)
    return True


def check_output_folder(folder: Path, recorded: dict) -> bool:
    """Raise FakeitError if `folder` cannot take this dataset; True if it already holds it complete."""
    if folder.exists():
        if not folder.is_dir():
            raise FakeitError(f"output folder {folder} exists and is not a folder")
        existing = store.read_config(folder)
        if existing is not None:
            mine = {k: v for k, v in recorded.items() if k != "generator_revision"}
            theirs = {k: v for k, v in existing.items() if k != "generator_revision"}
            if mine != theirs:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise FakeitError(
                    f"output folder {folder} holds a dataset made with another config (differs in: {', '.join(diff)}); "
                    "choose another folder or remove it"
                )
            if store.is_done(folder):
                return True
        elif any(p.name != ".gitkeep" for p in folder.iterdir()):
            raise FakeitError(f"output folder {folder} is not empty and holds no {store.CONFIG_FILE}; choose an empty or new folder")
        if not _can_write_in(folder):
            raise FakeitError(f"output folder {folder} is not writable")
        return False
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise FakeitError(f"cannot create output folder {folder}: {parent} is a file, not a folder")
    if not _can_write_in(parent):
        raise FakeitError(f"cannot create output folder {folder}: {parent} is not writable")
    return False


def _can_write_in(folder: Path) -> bool:
    """Whether a file can be created in `folder`, by creating one (permission bits do not stop root; /proc does)."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".write-check-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_image(folder: Path, job: ImageJob, image, config: GenerateConfig, revision: str) -> dict:
    """Save one image as PNG (temp file + atomic rename) and return its manifest row."""
    data = _png(image)
    store.atomic_write_bytes(folder / job.path, data)
    return image_row(job, image, data, config, revision)


def image_row(job: ImageJob, image, data: bytes, config: GenerateConfig, revision: str) -> dict:
    """The manifest row of one image whose PNG bytes are `data`."""
    return {
        "path": job.path, "class_index": job.class_index, "wnid": job.wnid, "variant": config.variant,
        "text": job.text, "scene": job.scene, "seed": job.seed, "guidance": config.guidance, "steps": config.steps,
        "generator": config.generator, "revision": revision, "size": list(image.size),
        "sha256": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# Tar shards


def shard_file(number: int) -> str:
    """The path of tar shard `number`, relative to the clone's folder."""
    return f"{SHARD_DIR}/shard-{number:06d}.tar"


def _key(path: str) -> str:
    return path.rsplit(".", 1)[0]


def _meta(row: dict) -> bytes:
    """A sample's `.json` member: its manifest row as a folder clone records it."""
    return json.dumps({k: row[k] for k in MANIFEST_FIELDS}).encode()


def row_end(row: dict) -> int:
    """Where the sample of a shard row ends in its shard."""
    return sample_end(_key(row["path"]), row["offset"], row["length"], _meta(row))


def open_shard(folder: Path, name: str, rows: list[dict]) -> int:
    """Make shard `name` ready to grow after the samples of `rows` (its complete batches): whatever a killed run left
    beyond them is cut off. Returns where the next sample goes."""
    path = folder / name
    end = max((row_end(r) for r in rows), default=0)
    size = path.stat().st_size if path.exists() else None
    if size is not None and size < end:
        raise FakeitError(f"tar shard {path} holds {size} bytes but its manifest rows reach byte {end}: the shard lost "
                          f"data; remove {folder} and generate it again")
    path.parent.mkdir(parents=True, exist_ok=True)
    if size is None or size > end:
        with open(path, "r+b" if size is not None else "wb") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return end


def append_samples(folder: Path, name: str, start: int, jobs: tuple[ImageJob, ...], images: list, config: GenerateConfig,
                   revision: str) -> tuple[list[dict], int]:
    """Append one batch's samples (`<key>.png`, `<key>.json`) to shard `name` at byte `start`, flushed to disk;
    returns their manifest rows and the shard's new end."""
    parts, rows, pos = [], [], start
    for job, image in zip(jobs, images):
        data = _png(image)
        row = image_row(job, image, data, config, revision)
        blob, offset = sample_bytes(_key(job.path), data, _meta(row))
        rows.append({**row, "shard": name, "offset": pos + offset, "length": len(data)})
        parts.append(blob)
        pos += len(blob)
    with open(folder / name, "r+b") as f:
        f.seek(start)
        f.write(b"".join(parts))
        f.flush()
        os.fsync(f.fileno())
    return rows, pos


def finish_shard(folder: Path, name: str, end: int) -> None:
    """End shard `name`, whose last sample ends at byte `end`, with the end-of-archive blocks (once: a shard already
    ended is left as it is)."""
    path, tail = folder / name, end_of_archive(end)
    if path.stat().st_size == end + len(tail):
        return
    with open(path, "r+b") as f:
        f.truncate(end)
        f.seek(end)
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())


def check_storage(folder: Path, done: dict[int, list[dict]], shard_of: dict[int, int] | None) -> None:
    """Raise FakeitError if the batches a killed run finished were stored otherwise than this run would store them
    (another storage, or other shards: another shard_images)."""
    for b, rows in done.items():
        want = shard_file(shard_of[b]) if shard_of is not None else None
        got = rows[0].get("shard")
        if got != want:
            raise FakeitError(f"{folder} was begun with other storage settings (batch {b} is in {got or 'class folders'}, "
                              f"this run puts it in {want or 'class folders'}); resume it with the storage and "
                              "shard_images it was begun with, or remove it")


def batch_layout(batches: list[Batch]) -> tuple[dict[str, int], list[int]]:
    """(path of each kept image -> its batch number, number of kept images per batch)."""
    batch_of = {j.path: b for b, batch in enumerate(batches) for j in batch.kept}
    return batch_of, [batch.keep for batch in batches]


def find_superset(folder: Path, recorded: dict, slug: str) -> Path | None:
    """A finished dataset under `folder`'s parent, named `<slug>-*`, that holds `recorded` as a prefix, if any
    (the largest one; a view's own target when it is itself a view)."""
    best, best_total = None, -1
    parent = folder.parent
    if not parent.is_dir():
        return None
    for other in parent.glob(f"{slug}-*"):
        if other == folder or not store.is_done(other):
            continue
        theirs = store.read_config(other) or {}
        if is_prefix(recorded, theirs) and sum(theirs["counts"]) > best_total:
            best, best_total = other, sum(theirs["counts"])
    return best


def write_view(folder: Path, source: Path, jobs: list[ImageJob], recorded: dict) -> Path:
    """Make `folder` the dataset `recorded` as a view of the larger finished `source`: relative symbolic links to its
    images, or for a source in shards rows naming its shards (relative to `folder`), and the manifest rows a separate
    run would write (they do not depend on the clone's size; the shard fields say where the bytes are)."""
    rows = {}
    with open(source / MANIFEST) as f:
        for line in f:
            row = json.loads(line)
            rows[row["path"]] = row
    missing = [j.path for j in jobs if j.path not in rows]
    if missing:
        raise FakeitError(f"{source} lacks {len(missing)} image(s) of the view {folder.name}, e.g. {missing[0]}")
    store.claim_folder(folder, recorded)
    out = []
    for j in jobs:
        row = rows[j.path]
        if "shard" in row:  # the larger clone's shard, named relative to this folder (its file, if the source is a view too)
            shard = os.path.realpath(os.path.join(source, row["shard"]))
            out.append({**row, "shard": os.path.relpath(shard, os.path.realpath(folder))})
            continue
        link = folder / j.path
        target = Path(os.path.realpath(source / j.path))  # the file itself, when the source is a view too
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))
        out.append(row)
    store.atomic_write_text(folder / MANIFEST, "".join(json.dumps(r) + "\n" for r in out))
    storage = "shards" if out and "shard" in out[0] else "folder"
    summary = {"images": len(jobs), "classes": len({j.class_index for j in jobs}), "generator": recorded["generator"],
               "revision": recorded.get("generator_revision"), "storage": storage, "view_of": source.name}
    store.mark_done(folder, summary)
    return folder
