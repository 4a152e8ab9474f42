"""`fakeit fetch`: what a preset's stages read from outside this repository, fetched ahead of the run, for compute
nodes without network.

The entries are those `fakeit book --preset P --plan` lists (data/paper_artefacts.yaml, experiments.report
needed_artefacts):
- a generator on the Hugging Face hub (Stable Diffusion v1.4) goes into the hub's cache (`HF_HOME`), the very cache
  `fakeit generate` reads; with `HF_HUB_OFFLINE=1` on the compute nodes it is found there. The hub commit fetched is
  printed (each generated dataset records it too).
- a published checkpoint with a direct `url` goes into `--to` (default: the working folder, where the plan's
  evaluate and transfer commands name it), downloaded under a temporary name, checked, then moved into place: a
  broken download never sits where a run would load it. Its check is what its source publishes: the sha256 prefix
  in its file name (torch.hub's convention) or a full sha256. A file already there that passes the check is kept.
- the authors' checkpoints (behind their project page) and the data sets (registration) cannot be fetched by a
  command: each is listed with where to get it.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..core.errors import FakeitError

KINDS = ("generators", "models")
HASH_PREFIX = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")  # torch.hub's convention: name-<sha256 prefix>.ext


def expected_sha256(name: str, entry: dict) -> str | None:
    """The sha256 (or its published prefix) a file must have: the entry's `sha256`, else the prefix in its name."""
    if entry.get("sha256"):
        return str(entry["sha256"]).lower()
    m = HASH_PREFIX.search(name)
    return m.group(1) if m else None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, expected: str | None) -> str:
    """The file's sha256; FakeitError naming the file and both hashes if it does not begin with `expected`."""
    found = sha256_of(path)
    if expected and not found.startswith(expected):
        raise FakeitError(f"{path.name}: sha256 {found} does not begin with the published {expected}; the file is "
                          "not the published one (a broken or changed download)")
    return found


def download(url: str, target: Path, expected: str | None, progress: bool = True) -> str:
    """`url` into `target` through a temporary file in the same folder, checked before it is moved into place;
    the file's sha256."""
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            size = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
                for block in iter(lambda: r.read(1 << 20), b""):
                    f.write(block)
                    bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
        found = check_file(tmp, expected)
        os.replace(tmp, target)
        return found
    except (urllib.error.URLError, OSError) as e:
        raise FakeitError(f"could not fetch {url}: {getattr(e, 'reason', e)}; on a machine without network, fetch on "
                          "one with network and copy the file") from e
    finally:
        tmp.unlink(missing_ok=True)


def fetch_model(name: str, entry: dict, to: Path, dry_run: bool = False, progress: bool = True) -> str:
    """One published checkpoint into `to`: a line saying what was done."""
    target, expected = to / name, expected_sha256(name, entry)
    check = f"sha256 {expected}..." if expected else "no published checksum"
    if not entry.get("url"):
        return f"{name}: fetch by hand (no direct download): {entry['where']}"
    if target.is_file():
        if dry_run:
            return f"{name}: already at {target} (checked when fetched for real; {check})"
        check_file(target, expected)
        return f"{name}: already at {target}, checked ({check})"
    if dry_run:
        return f"{name}: would fetch {entry['url']} -> {target} ({check})"
    found = download(entry["url"], target, expected, progress)
    return f"{name}: fetched {entry['url']} -> {target}, sha256 {found}"


def fetch_generator(repo_id: str, dry_run: bool = False) -> str:
    """A generator of the hub into its cache: a line with the commit fetched."""
    if Path(repo_id).expanduser().exists():
        raise FakeitError(f"generator {repo_id!r} is a local folder: nothing to fetch (name a hub model such as "
                          "CompVis/stable-diffusion-v1-4)")
    if dry_run:
        return f"{repo_id}: would fetch from the Hugging Face hub into its cache (HF_HOME)"
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(repo_id))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        raise FakeitError(f"could not fetch {repo_id} from the Hugging Face hub: {e} (its licence accepted on its "
                          "page and `hf auth login` done?)") from e
    return f"{repo_id}: in the hub cache at {folder} (commit {folder.name}); compute nodes set HF_HUB_OFFLINE=1"


def fetch(params: dict, to: Path, only: tuple[str, ...] = KINDS, dry_run: bool = False, progress: bool = True) -> list[str]:
    """Fetch what a preset's stages read (its generator, the published checkpoints of its class set): one line each,
    then the entries that are fetched by hand."""
    from .plan import artefacts
    from .report import needed_artefacts

    bad = sorted(set(only) - set(KINDS))
    if bad:
        raise FakeitError(f"unknown kind {', '.join(bad)} to fetch; valid: {', '.join(KINDS)}")
    gens, models = artefacts()["generators"], artefacts()["models"]
    lines, by_hand = [], []
    for name, entry in needed_artefacts(params):
        if name in gens and "generators" in only:
            lines.append(fetch_generator(name, dry_run))
        elif name in models and "models" in only:
            lines.append(fetch_model(name, entry, to, dry_run, progress))
        elif name not in gens and name not in models:
            by_hand.append(f"{name}: fetched by hand: {entry['where']}")
    if by_hand:
        lines += ["Data sets (registration or archives to unpack; fetched by hand):", *by_hand]
    return lines or ["Nothing from outside this repository: this preset's stages read only what it ships."]


def configure_parser(parser) -> None:
    parser.add_argument("--preset", default="paper", help="preset name or YAML file (default: paper)")
    parser.add_argument("--only", choices=KINDS, action="append", help="fetch only generators or only models (repeatable)")
    parser.add_argument("--to", default=".", help="folder for the published checkpoints (default: the working folder, "
                                                 "where the plan's commands name them)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be fetched, and what is already there; "
                                                               "no network")


def run(args) -> int:
    from .presets import load_preset, project_root

    params = load_preset(args.preset, project_root())
    for line in fetch(params, Path(args.to), tuple(args.only or KINDS), args.dry_run, sys.stderr.isatty()):
        print(line)
    return 0
