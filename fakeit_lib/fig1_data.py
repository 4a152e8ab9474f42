"""Fig. 1's data: the paper's axes and groups (ImageNet test sets top-5; small-scale, long-tail and ImageNet-CoG
transfer averages), its values where Tables 1-2 give them, and the same axes computed from a run's results.

The groups are declared in `data/paper_results.yaml` (fig1). The CoG levels' values are not in the paper's text:
they come back as None, and a figure shows that axis without the paper's point rather than an estimate.
"""

from __future__ import annotations



from .paper import TEST_SETS

AXIS_LABELS = {prefix: label for prefix, label in TEST_SETS.values()}  # "in_val" -> "IN-val", ...
GROUP_LABELS = {"small_scale": "small-scale (8 datasets)", "long_tail": "long-tail (iNat 2018, 2019)",
                "cog": "ImageNet-CoG (5 levels)"}


def _paper() -> dict:
    from .paper import paper_results

    return paper_results()


def _row(table: str, number: int) -> dict:
    t = _paper()[table]
    row = next(r for r in t["rows"] if r["row"] == number)
    return dict(zip(t["columns"], row["values"]))


def fig1_axes() -> list[str]:
    """The eight axes of Fig. 1, in the paper's order: five ImageNet test sets (top-5), three transfer groups."""
    return [f"{AXIS_LABELS[a]} (top-5)" for a in _paper()["fig1"]["imagenet_axes"]] + [
        f"{GROUP_LABELS[g]} (avg top-1)" for g in _paper()["fig1"]["groups"]]


def paper_fig1_groups() -> dict[str, dict[str, float | None]]:
    """The paper's Fig. 1 values per model: {model: {axis: value (%) or None where the text gives none}}, the
    transfer groups averaged over Table 2's columns (rounded to 0.1 as the paper's tables)."""
    fig = _paper()["fig1"]
    out = {}
    for model in fig["models"]:
        t1, t2 = _row("table1", model["table1_row"]), _row("table2", model["table2_row"])
        axes = {f"{AXIS_LABELS[a]} (top-5)": t1[f"{a}_top5"] for a in fig["imagenet_axes"]}
        for group, names in fig["groups"].items():
            values = [t2[n] for n in names if n in t2]
            axes[f"{GROUP_LABELS[group]} (avg top-1)"] = round(sum(values) / len(values), 1) if len(values) == len(names) else model.get(group)
        out[model["label"]] = axes
    return out


def run_fig1_groups(evaluation: dict, transfer: dict) -> dict[str, float | None]:
    """The same axes for one model of a run: top-5 (%) per ImageNet test set it was scored on, and each transfer
    group's average top-1 (%) over the group's datasets it was probed on (None when it has none of them)."""
    names = {key: prefix for key, (prefix, _) in TEST_SETS.items()}
    axes = {f"{AXIS_LABELS[names[k]]} (top-5)": round(100 * v["top5"], 1) for k, v in evaluation.get("datasets", {}).items() if k in names}
    probed = {k: 100 * v["top1"] for k, v in transfer.get("datasets", {}).items()}
    for group, members in _paper()["fig1"]["groups"].items():
        values = [probed[n] for n in members if n in probed]
        axes[f"{GROUP_LABELS[group]} (avg top-1)"] = round(sum(values) / len(values), 1) if values else None
    return axes
