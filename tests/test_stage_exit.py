"""How a stage launched with torchrun ends, as a scheduler and `fakeit book` see it: torchrun exits with 1 whatever
its processes' codes, so each process writes its one line and code into torchrun's error file; torchrun's failure
report shows that line as its root cause, and `fakeit book` stops with 128 + the signal, as a stopped `fakeit`
command does, when the processes were stopped, and fails with 2 naming the first process's reason otherwise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
STOP_LINE = ("fakeit classes: stopped by SIGUSR1 at epoch 2, step 11 of 20; the checkpoint is saved: run the same "
             "command to resume")
REFUSAL = ("fakeit classes: error: training at 224 px crops (the paper recipe's size) is paper-scale work and --device "
           "auto found no GPU")


def torchrun_argv(how: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
            str(ROOT / "tests" / "cluster_ranks.py"), "command_ends", how]


def rank_env(**extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), **extra}


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_stopped_torchrun_shows_the_processes_line_and_code(tmp_path):
    error_file = tmp_path / "error.json"
    proc = subprocess.run(torchrun_argv("stopped"), env=rank_env(TORCHELASTIC_ERROR_FILE=str(error_file)),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1  # torchrun's own rule for any process that did not end with 0
    report = proc.stderr[proc.stderr.index("Root Cause"):]
    assert f"exitcode  : {128 + signal.SIGUSR1} " in report and STOP_LINE in report, report
    assert "To enable traceback" not in report  # torchrun's pointer to its documentation, in place of a reason
    message = json.loads(error_file.read_text())["message"]
    assert (message["message"], message["errorCode"]) == (STOP_LINE, 128 + signal.SIGUSR1)


@pytest.mark.integration
@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["stopped", "refused"])
def test_the_book_stops_with_the_signals_code_when_a_stages_processes_were_stopped(monkeypatch, how):
    from fakeit_lib.core.errors import FakeitError, Stopped
    from fakeit_lib.experiments import launch

    stage = SimpleNamespace(step="train", what="c_dc, gs 2, 1x", done=False)
    monkeypatch.setattr(launch, "plan", lambda *a, **k: [stage])
    monkeypatch.setattr(launch, "launch_argv", lambda s: torchrun_argv(how))
    monkeypatch.setattr(launch, "command_text", lambda s: "torchrun --nproc-per-node 2 -m fakeit_lib train ...")
    for name, value in rank_env().items():
        monkeypatch.setenv(name, value)
    if how == "stopped":
        with pytest.raises(Stopped) as e:
            launch.run_stages({}, 2, log=lambda *a: None)
        assert str(e.value) == f"stage train 'c_dc, gs 2, 1x' stopped: {STOP_LINE}"
        assert e.value.exit_code == 128 + signal.SIGUSR1  # `fakeit book` exits with it, as `fakeit train` would
    else:
        with pytest.raises(FakeitError) as e:
            launch.run_stages({}, 2, log=lambda *a: None)
        assert str(e.value) == ("stage train 'c_dc, gs 2, 1x' failed (exit 1): torchrun --nproc-per-node 2 -m fakeit_lib "
                                f"train ...; the first process to fail said: {REFUSAL}")


def test_a_stage_without_a_reason_is_judged_by_its_exit_code(tmp_path):
    from fakeit_lib.core.errors import FakeitError, Stopped
    from fakeit_lib.experiments import launch

    stage = SimpleNamespace(step="generate", what="c_dc, gs 2, 50x", command=["generate"], gpus=1)
    stopped = launch.stage_end(stage, 128 + signal.SIGTERM, tmp_path / "none.json")  # `fakeit generate` on one GPU
    assert isinstance(stopped, Stopped) and stopped.exit_code == 143
    assert str(stopped) == ("stage generate 'c_dc, gs 2, 50x' stopped by SIGTERM; what it finished is kept: run the "
                            "same command to resume")
    (tmp_path / "error.json").write_text(json.dumps({"message": {"message": "SignalException: Process 7 got signal: 15",
                                                                 "extraInfo": {"timestamp": "1"}}}))
    failed = launch.stage_end(stage, 1, tmp_path / "error.json")  # torchrun's own error, no process's code
    assert isinstance(failed, FakeitError) and str(failed).endswith(
        "failed (exit 1): fakeit generate; the first process to fail said: SignalException: Process 7 got signal: 15")
