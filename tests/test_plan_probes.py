"""The plan counts transfer's probes as transfer runs them: spread over the processes (the largest data set first,
each to the least busy process), each with its own GPU and its share of the node's cores, so the stage's probes last
as long as the busiest process's sum, not the sum of all. Hours follow from arithmetic written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_plan import HAND_RATES

from fakeit_lib.builder import runner
from fakeit_lib.evaluation.transfer import probe_owners
from fakeit_lib.experiments import plan

ROOT = Path(__file__).resolve().parents[1]
FEATURES, WDS, EVALUATIONS = 2048, 13, 40  # ResNet-50's features; the L-BFGS path's weight decays and evaluations a fit


def transfer_stage(roots: list[str], gpus: int, cpus: int):
    p = {**runner.load_preset("paper-1k", ROOT), "transfer_roots": {n: f"/x/{n}" for n in roots}}
    return next(s for s in plan.plan(p, gpus, cpus, HAND_RATES) if s.step == "transfer" and s.what.endswith("at initialisation"))


def sgd(trainval: int, classes: int) -> float:
    """Seconds of a minibatch probe at the test's 5 TFLOP/s: 16 fits on 80% and the refit on all, 100 epochs of
    forward and weight gradient (4 n d K); the features stay on the GPU."""
    return 100 * (16 * int(trainval * 0.8) + trainval) * 4 * FEATURES * classes / 5e12


def lbfgs(trainval: int, classes: int, cores: int) -> float:
    """Seconds of a full-batch probe on `cores` cores of 100 GFLOP/s: 13 weight decays on 80% and the refit on all,
    40 evaluations each of 4 n d K + 4 d d K."""
    per = lambda n: 4 * n * FEATURES * classes + 4 * FEATURES * FEATURES * classes  # noqa: E731
    return EVALUATIONS * (WDS * per(int(trainval * 0.8)) + per(trainval)) / (cores * 1e11)


def test_probes_on_two_processes_last_as_long_as_the_busiest_ones_share():
    # ImageNet-1K (1,281,167 images) goes to process 0, iNaturalist 2019 (265,213) to process 1, DTD (3,760) to process 1
    assert probe_owners({"in1k": 1281167, "inat2019": 265213, "dtd": 3760}, 2) == {"in1k": 0, "inat2019": 1, "dtd": 1}
    in1k, inat, dtd = sgd(1281167, 1000), sgd(265213, 1010), lbfgs(3760, 47, 8)  # 16 cores, 8 a process
    assert in1k > inat + dtd  # process 0's ImageNet-1K is the longer share: 2,897 s against 606 s
    # 1,281,167 + 50,000 + 265,213 + 3,030 + 3,760 + 1,880 images; 2 x 8 loader workers (14 of 16 cores: one a process
    # kept) decode 50 images/s each
    features = (1281167 + 50000 + 265213 + 3030 + 3760 + 1880) / (14 * 50)
    stage = transfer_stage(["in1k", "inat2019", "dtd"], 2, 16)
    assert stage.hours == pytest.approx((features + in1k) / 3600, rel=1e-3)  # + the bias's few FLOPs
    assert stage.bound.endswith(", probes 0.8 h spread over 2 processes (the busiest one's share; 1.0 h of work in all)")
    # counted as one process's work, the same probes made the stage 0.17 h longer
    assert (features + in1k + inat + dtd) / 3600 - stage.hours > 0.16


def test_full_batch_probes_take_a_process_share_of_the_cores():
    # Aircraft (6,667) to process 0; DTD (3,760) and Flowers (2,040) to process 1; each process with 24 / 2 = 12 cores
    assert probe_owners({"aircraft": 6667, "dtd": 3760, "flowers": 2040}, 2) == {"aircraft": 0, "dtd": 1, "flowers": 1}
    shares = [lbfgs(6667, 100, 12), lbfgs(3760, 47, 12) + lbfgs(2040, 102, 12)]
    features = (6667 + 3333 + 3760 + 1880 + 2040 + 6149) / (16 * 50)  # 2 x 8 workers within 24 - 2 cores
    stage = transfer_stage(["aircraft", "dtd", "flowers"], 2, 24)
    assert stage.hours == pytest.approx((features + max(shares)) / 3600, rel=1e-9)
    # on one process every probe is its own, on all 24 cores
    alone = transfer_stage(["aircraft", "dtd", "flowers"], 1, 24)
    one = lbfgs(6667, 100, 24) + lbfgs(3760, 47, 24) + lbfgs(2040, 102, 24)
    assert alone.hours == pytest.approx(((6667 + 3333 + 3760 + 1880 + 2040 + 6149) / (8 * 50) + one) / 3600, rel=1e-9)
    assert alone.bound.endswith(f", probes {one / 60:.1f} min on one process")
