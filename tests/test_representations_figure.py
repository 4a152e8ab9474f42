"""The representations page's figure names each panel by its measure and, where it has one, its unit."""

import pandas as pd
import pytest

from fakeit_lib.chapters.representations import repmetrics_figure


def test_panels_are_titled_with_their_measure_and_unit():
    long = pd.DataFrame([{"model": m, "dataset": "digits", "metric": metric, "value": v + s, "seed": s}
                         for m in ("real", "synthetic") for metric, v in (("sparsity", 0.4), ("coding length", 900.0),
                                                                         ("intra-class distance", 0.7))
                         for s in (0, 1, 2)])
    titles = sorted(a.text for a in repmetrics_figure(long).layout.annotations)
    assert titles == ["coding length (bits)", "intra-class distance", "sparsity (share of zeros)"]


def test_a_share_s_error_bars_stop_at_zero_and_one():
    # sparsity 0.01, 0.02, 0.00: mean 0.01, t(2) interval +-0.0248 would reach -0.0148; 0.97, 0.99, 1.00 would pass 1
    long = pd.DataFrame([{"model": m, "dataset": "digits", "metric": "sparsity", "value": v, "seed": s}
                         for m, vals in (("real", (0.01, 0.02, 0.0)), ("synthetic", (0.97, 0.99, 1.0)))
                         for s, v in enumerate(vals)])
    bars = {t.name: t for t in repmetrics_figure(long).data}
    real, synthetic = bars["real"], bars["synthetic"]
    assert real.error_y.arrayminus[0] == pytest.approx(0.01)  # down to 0, not below
    assert real.error_y.array[0] == pytest.approx(4.303 * 0.01 / 3**0.5, abs=1e-3)  # up: the t interval
    assert synthetic.error_y.array[0] == pytest.approx(1.0 - 0.98666667)  # up to 1, not above
