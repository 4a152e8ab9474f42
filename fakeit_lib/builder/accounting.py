"""What a build computed, read from the stage folders under the output root: images drawn and viewed, training runs,
evaluations and probes, each with the core-seconds it took; and what the book's levers saved, in the same units.

A stage counts as computed by the build when its done marker was written after the build started; stages finished
before (an earlier build, a command run by hand) were loaded. Seconds are those of one core: a build running two
jobs side by side takes about half of their sum in wall time.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.store import DONE_MARKER, read_config
from ..experiments.params import preset_params
from ..generation.writer import drawing_seconds


def _done(folder: Path) -> dict | None:
    try:
        return json.loads((folder / DONE_MARKER).read_text())
    except (OSError, ValueError):
        return None


def build_accounting(root: Path, since: float) -> dict:
    """Per stage kind: folders computed since `since` (a time.time()), folders loaded, core-seconds computed, and
    for clones images drawn against images viewed (smaller clones made of a larger one's files)."""
    acc = {k: {"computed": 0, "loaded": 0, "seconds": 0.0} for k in ("generate", "train", "evaluate", "transfer")}
    acc["generate"].update(drawn=0, viewed=0, kept=0)
    acc["train"].update(epochs=0, images=0)
    if not root.is_dir():
        return acc
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and (p / DONE_MARKER).exists()):
        summary, config = _done(folder) or {}, read_config(folder) or {}
        kind = ("train" if folder.name.startswith("train-") else "evaluate" if folder.name.startswith("eval-") else
                "transfer" if folder.name.startswith("transfer-") else "generate" if "counts" in config else None)
        if kind is None:
            continue
        new = (folder / DONE_MARKER).stat().st_mtime >= since
        acc[kind]["computed" if new else "loaded"] += 1
        if not new:
            continue
        if kind == "generate":
            images = int(summary.get("images", 0))
            if "view_of" in summary:
                acc[kind]["viewed"] += images
            else:
                acc[kind]["drawn"] += int(summary.get("drawn", images))
                acc[kind]["kept"] += images
                acc[kind]["seconds"] += drawing_seconds(folder)
        elif kind == "train":
            rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
            acc[kind]["seconds"] += sum(r.get("seconds", 0.0) for r in rows)
            acc[kind]["epochs"] += len(rows)
            acc[kind]["images"] += sum(r.get("images", 0) for r in rows)
        else:
            acc[kind]["seconds"] += float(summary.get("seconds", 0.0))
            if kind == "evaluate" and config.get("suite") == "mini":  # the in-domain test alone
                acc[kind]["in_domain_seconds"] = acc[kind].get("in_domain_seconds", 0.0) + float(summary.get("seconds", 0.0))
    return acc


def found_finished(acc: dict) -> int:
    """How many finished stages the output folder held when the build started (the budget is judged on none)."""
    return sum(a["loaded"] for a in acc.values())


def levers_markdown(acc: dict, params: dict) -> str:
    """What this build computed, and what each of the book's levers saved it, in core-seconds measured here."""
    g, t, e, p = acc["generate"], acc["train"], acc["evaluate"], acc["transfer"]
    if not any(a["computed"] for a in acc.values()):
        return "Every stage of this build was already finished: it loaded them all and computed none.\n"
    per_image = g["seconds"] / g["kept"] if g["kept"] else None
    per_epoch = t["seconds"] / t["epochs"] if t["epochs"] else None
    lines = ["The table says how many stages of each kind this build computed and how many it found finished (an "
             "earlier build's, or commands run by hand), and the list below it what each of the book's levers saved, "
             "in core-seconds measured by the build itself (one core's seconds: two jobs side by side take about half "
             "their sum in wall time).", "",
             "| stage | computed | found finished | core-seconds |", "|---|---:|---:|---:|"]
    for name, a in (("clones (generation)", g), ("training runs", t), ("evaluations", e), ("transfer probes", p)):
        lines.append(f"| {name} | {a['computed']} | {a['loaded']} | {a['seconds']:,.0f} |")
    lines += ["", "What the book's levers saved this build (core-seconds, at this build's own measured rates):", ""]
    if per_image is not None:
        lines.append(f"- **Views of larger clones**: {g['viewed']:,} images of smaller clones and sweep points are the "
                     f"first images of larger ones, drawn once; at this build's {per_image * 1000:,.0f} ms a drawn image, "
                     f"drawing them would have cost {g['viewed'] * per_image:,.0f} core-seconds more.")
    q = preset_params(params)
    multipliers = [m for m in q.multipliers if m > 1.0]
    seeds = len(q.train_seeds)
    if q.scaling_budget == "steps" and multipliers and per_epoch:
        from ..training.train import make_config

        epochs = make_config(q.recipe, data="-").epochs
        extra = sum((m - 1) * epochs for m in multipliers) * seeds
        lines.append(f"- **Fig. 4's clones at the 1x step budget**: the clones of {', '.join(f'{m:g}x' for m in multipliers)} "
                     f"trained as many steps as the 1x clone; at the recipe's {epochs} epochs each they would have taken "
                     f"about {extra * per_epoch:,.0f} core-seconds more ({seeds} seeds, at this build's "
                     f"{per_epoch:.2f} s per epoch of a 1x-size set).")
    if q.eval_max_images and e.get("in_domain_seconds"):
        n = q.eval_max_images
        lines.append(f"- **Test sets no larger than the interval needs**: the in-domain evaluations read the first {n:,} "
                     f"of the 10,000 real test images and took {e['in_domain_seconds']:,.0f} core-seconds; reading all "
                     f"would have cost at most {e['in_domain_seconds'] * (10000 / n - 1):,.0f} more (each evaluation's "
                     "fixed cost, loading the model, counted as if it grew with the images too).")
    lines.append("- **Each model trained once**: every (model, seed) is a stage folder named by its settings and the "
                 f"content of its data; {_runs_loaded(t['loaded'])}, and every page that "
                 "shows a model loads the run the first page that needed it trained.")
    lines.append("- **Channels-last, and bf16 where the CPU has fast bf16 kernels**: a training step of the mini "
                 "recipe ran 1.2x to 1.9x faster than with contiguous tensors in side-by-side runs on 2-core machines (`python "
                 "benchmarks/train_step.py`); fusing five seeds into one network as grouped convolutions measured "
                 "0.96x to 1.2x and is not used.")
    return "\n".join(lines) + "\n"


def _runs_loaded(n: int) -> str:
    """How many training runs a build found finished, in words."""
    if n == 0:
        return "this build trained every run it shows (none was finished before)"
    return f"the {n} run{'s' if n != 1 else ''} loaded here {'were' if n != 1 else 'was'} finished before"
