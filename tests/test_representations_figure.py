"""The representations page's figure names each panel by its measure and, where it has one, its unit."""

import pandas as pd

from fakeit_lib.chapters.representations import repmetrics_figure


def test_panels_are_titled_with_their_measure_and_unit():
    long = pd.DataFrame([{"model": m, "dataset": "digits", "metric": metric, "value": v + s, "seed": s}
                         for m in ("real", "synthetic") for metric, v in (("sparsity", 0.4), ("coding length", 900.0),
                                                                         ("intra-class distance", 0.7))
                         for s in (0, 1, 2)])
    titles = sorted(a.text for a in repmetrics_figure(long).layout.annotations)
    assert titles == ["coding length (bits)", "intra-class distance", "sparsity (share of zeros)"]
