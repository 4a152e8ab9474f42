"""Memory of a training process and its forked loader workers for a large clone's manifest, before and after the
samples were held as arrays.

Writes a synthetic manifest of `--rows` rows (default 1,000,000: the 50x ImageNet-100 clone has 6.3 M) shaped as
`fakeit generate` writes them for a clone stored as tar shards, then, each side in a fresh process:
- before: the rows read as Python dicts (`datasets.images.read_manifest`) and turned into a list of (shards.Member,
  label) tuples, as `training_samples` did;
- after: `datasets.images.training_samples`, which reads the manifest row by row into a `SampleTable` (numpy arrays).
The process then forks `--workers` children that read every sample once, as DataLoader workers do over an epoch, and
the proportional memory (PSS: shared pages counted once, split between the processes sharing them) of the process and
its workers is summed from /proc (Linux). Printed per side: bytes per sample held, the process's peak resident memory
while loading, and the PSS of the process with its workers; last line `ratio <PSS before / PSS after>`.

    python benchmarks/manifest_memory.py [--rows 1000000] [--workers 4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def write_manifest(folder: Path, rows: int) -> None:
    """A manifest of `rows` rows of a 100-class clone in tar shards of 2,500 images, as `fakeit generate` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.jsonl", "w") as f:
        for i in range(rows):
            c = i % 100
            wnid = f"n{1440764 + c:08d}"
            row = {"path": f"{wnid}/{wnid}_{i // 100:06d}.png", "class_index": c, "wnid": wnid, "variant": "c_dc",
                   "text": f"a photo of class {c}, a thing of the synthetic kind {c}", "scene": None, "seed": i,
                   "guidance": 2.0, "steps": 50, "generator": "CompVis/stable-diffusion-v1-4",
                   "revision": "133a221b8aa7292a167afc5127cb63fb5005638b", "size": [512, 512],
                   "sha256": f"{i:064x}", "shard": f"shards/shard-{i // 2500:06d}.tar", "offset": 512 * (i % 2500) * 800,
                   "length": 400_000 + i % 1000}
            f.write(json.dumps(row) + "\n")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def load(side: str, folder: Path):
    from fakeit_lib.datasets.images import image_source, read_manifest, training_samples

    if side == "before":
        rows = read_manifest(folder)
        samples = [(image_source(folder, r), r["class_index"]) for r in rows]
        del rows
        return samples
    return training_samples(folder)[0]


def measure(side: str, folder: Path, workers: int) -> dict:
    """Load the samples one way, fork `workers` readers of every sample, and return the memory figures (kB)."""
    import fakeit_lib.datasets.images  # noqa: F401 (its imports are not the samples' memory)

    gc.collect()
    base = rss_kb()
    samples = load(side, folder)
    gc.collect()
    held = rss_kb() - base
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = []
    for _ in range(workers):
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # a loader worker: reads every sample once (an epoch), then waits to be measured
            os.close(ready_r)
            os.close(go_w)
            n = 0
            for i in range(len(samples)):
                member, label = samples[i]
                n += label
            os.write(ready_w, b"1")
            os.read(go_r, 1)
            os._exit(0)
        os.close(ready_w)
        os.close(go_r)
        children.append((pid, ready_r, go_w))
    for _, ready_r, _ in children:
        os.read(ready_r, 1)
    total = pss_kb(os.getpid()) + sum(pss_kb(pid) for pid, _, _ in children)
    for pid, _, go_w in children:
        os.write(go_w, b"1")
        os.waitpid(pid, 0)
    return {"samples": len(samples), "held_kb": held, "peak_kb": peak, "pss_kb": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="manifest rows (default 1,000,000)")
    ap.add_argument("--workers", type=int, default=4, help="forked loader workers reading every sample (default 4)")
    ap.add_argument("--side", choices=["before", "after"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # one side, in a fresh process
        print(json.dumps(measure(args.side, Path(args.folder), args.workers)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clone"
        print(f"writing a manifest of {args.rows:,} rows ...", flush=True)
        write_manifest(folder, args.rows)
        got = {}
        for side in ("before", "after"):
            out = subprocess.run([sys.executable, __file__, "--side", side, "--folder", str(folder), "--workers",
                                  str(args.workers)], capture_output=True, text=True, check=True)
            got[side] = json.loads(out.stdout.strip().splitlines()[-1])
            g = got[side]
            print(f"{side}: {1024 * g['held_kb'] / g['samples']:.0f} bytes per sample held; peak resident memory while "
                  f"loading {g['peak_kb'] / 1024**2:.2f} GB; the process with its {args.workers} workers after an "
                  f"epoch: {g['pss_kb'] / 1024**2:.2f} GB (PSS)", flush=True)
    print(f"ratio {got['before']['pss_kb'] / got['after']['pss_kb']:.2f}")


if __name__ == "__main__":
    main()
