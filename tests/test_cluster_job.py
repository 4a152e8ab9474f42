"""A paper run behaves like a well-kept cluster job: stopped, it leaves no rank running; ranks enter collectives
together; every rank takes a GPU of its own; transfer resumes per data set and spreads its probes; the Slurm job
requeues itself before its time limit. Several-process checks run 2 gloo ranks under torchrun on the CPU; what
needs a GPU runs under a CUDA double."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port
from test_lifetime import alive, descendants, kill_all, wait_for

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]


def rank_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


# ----------------------------------------------------------------------------------------- stopping a launch


@pytest.mark.integration
@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="follows processes through /proc")
def test_sigterm_to_a_launch_reaches_every_rank(tmp_path):
    # as `fakeit book` at paper scale launches a stage: torchrun under the runner's SIGTERM handler
    program = ("import sys\nfrom fakeit_lib.builder.runner import stop_on_sigterm\n"
               "from fakeit_lib.experiments.launch import run_command\n"
               "with stop_on_sigterm({'step': 'launching a stage'}):\n"
               f"    run_command({[*TORCHRUN, '--master_port', str(free_port()), str(ROOT / 'tests' / 'cluster_ranks.py'), 'sleeper', str(tmp_path)]!r})\n")
    parent = subprocess.Popen([sys.executable, "-c", program], env=rank_env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = {}
    try:
        wait_for(lambda: len(list(tmp_path.glob("rank*"))) == 2, 120, "two ranks did not start")
        procs = descendants(parent.pid)
        ranks = {int(p.read_text()) for p in tmp_path.glob("rank*")}
        assert ranks <= set(procs), (ranks, procs)  # the ranks run below the launch (torchrun's children)
        os.kill(parent.pid, signal.SIGTERM)
        assert parent.wait(timeout=90) != 0
        wait_for(lambda: not alive(procs), 30, f"processes {alive(procs)} of the stopped launch still run")
    finally:
        kill_all(procs)
        if parent.poll() is None:
            parent.kill()
