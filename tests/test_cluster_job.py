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
    program = ("import sys\nfrom fakeit_lib.builder.html import stop_on_sigterm\n"
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


# --------------------------------------------------------------------------------- one decision for all ranks


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A finished smoke training run on four real Fashion-MNIST images per class, and its data."""
    import torch

    from fakeit_lib.datasets.images import export_fashion_mnist
    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import make_config

    base = tmp_path_factory.mktemp("smoke-run")
    real = export_fashion_mnist(base / "real4", "train", per_class=4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train(make_config("smoke", data=str(real), device="cpu"), base / "run", log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    return real, run


def stale_launch(kind: str, target: Path, out: Path, report: Path, output_root: Path) -> subprocess.CompletedProcess:
    report.mkdir(parents=True, exist_ok=True)
    env = {**rank_env(), "FAKEIT_OUTPUT": str(output_root)}
    return run_ranks([str(ROOT / "tests" / "cluster_ranks.py"), "stale_on_rank1", kind, str(target), str(out), str(report)],
                     env, 240)


def run_ranks(argv: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """torchrun over 2 processes running `argv`; when it outlives `timeout` (ranks waiting for each other), every
    process below it is killed (ranks run in sessions of their own) and the test fails saying so."""
    proc = subprocess.Popen([*TORCHRUN, "--master_port", str(free_port()), *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all(descendants(proc.pid))
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the ranks did not end within {timeout} s (one waits in a collective the other left)") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_finished_run_is_reused_by_every_rank_when_one_does_not_see_it(smoke_run, tmp_path):
    import json

    real, run = smoke_run
    before = (run / "checkpoint.pt").read_bytes()
    proc = stale_launch("train", real, run, tmp_path / "report", tmp_path / "outputs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = [json.loads((tmp_path / "report" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert got[0] == got[1] and "DONE" in got[0]  # both took the finished run
    assert (run / "checkpoint.pt").read_bytes() == before  # and neither trained it again


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_cached_features_are_taken_by_every_rank_when_one_does_not_see_them(smoke_run, tmp_path):
    import json

    import torch

    from fakeit_lib.evaluation.transfer import transfer
    from fakeit_lib.evaluation.transfer_config import TransferConfig

    ckpt = smoke_run[1] / "checkpoint.pt"
    config = TransferConfig(checkpoint=str(ckpt), suite="mini", mini_sets=["digits"], workers=0, max_iter=30, device="cpu")
    os.environ["FAKEIT_OUTPUT"], before = str(tmp_path / "outputs"), os.environ.get("FAKEIT_OUTPUT")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        digits = transfer(config, tmp_path / "alone")["datasets"]["digits"]  # caches the features
        alone, n_test = digits["top1"], digits["test_images"]
    finally:
        torch.set_num_threads(threads)
        os.environ.pop("FAKEIT_OUTPUT") if before is None else os.environ.update(FAKEIT_OUTPUT=before)
    def cache() -> dict:  # each feature file the cache holds: its time and bytes
        return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "outputs" / "features").iterdir()}

    written = cache()
    proc = stale_launch("transfer", ckpt, tmp_path / "two", tmp_path / "report", tmp_path / "outputs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the cache files the single process wrote are the ones the ranks took: none rewritten, none added
    assert cache() == written
    got = [json.loads((tmp_path / "report" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert got[0] == got[1]
    # the probe on the same features, in a torchrun process (OMP_NUM_THREADS=1) rather than this one: on a CPU
    # without AVX-512 its float32 rounding moved one test image of 899; results are stored to 6 decimals
    assert abs(got[0] - alone) <= 1 / n_test + 1e-6, (got, alone)


# ----------------------------------------------------------------------------------------- a GPU per process


@pytest.fixture
def cuda_double(monkeypatch):
    """CUDA made to look available with two GPUs; the device made current is recorded instead of set."""
    import torch

    current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: current.append(str(d)))
    for name in ("LOCAL_RANK", "RANK", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return current


def test_each_process_takes_and_holds_the_gpu_of_its_local_rank(cuda_double, monkeypatch):
    from fakeit_lib.core.devices import resolve_device

    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert resolve_device("auto") == resolve_device("cuda") == "cuda:1"
    assert cuda_double == ["cuda:1", "cuda:1"]  # made current: pinned memory opens no context on GPU 0


@pytest.mark.parametrize("procs, device, message", [
    ("3", "auto", "3 processes on this machine (torchrun --nproc-per-node 3) but 2 GPU(s) visible: launch at most 2 "
                  "processes per machine, one per GPU"),
    ("2", "cuda:0", "--device cuda:0 puts all 2 processes of this machine on one GPU; pass --device auto (each process "
                    "takes the GPU of its LOCAL_RANK)"),
])
def test_two_processes_on_one_gpu_are_refused_in_one_line(cuda_double, monkeypatch, procs, device, message):
    from fakeit_lib.core.devices import resolve_device
    from fakeit_lib.core.errors import FakeitError

    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", procs)
    with pytest.raises(FakeitError) as e:
        resolve_device(device)
    assert str(e.value) == message and cuda_double == []


@pytest.mark.parametrize("argv, work", [
    (["evaluate", "{ckpt}", "--suite", "imagenet", "--val", "{tmp}"], "evaluating on the ImageNet test sets"),
    (["transfer", "{ckpt}", "--suite", "paper", "--dtd", "{tmp}"], "probing the paper suite's transfer datasets"),
])
def test_evaluate_and_transfer_at_paper_scale_refuse_the_cpu_without_a_flag(smoke_run, tmp_path, argv, work):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    words = [w.format(ckpt=smoke_run[1] / "checkpoint.pt", tmp=tmp_path) for w in argv]
    res = subprocess.run([sys.executable, "-m", "fakeit_lib", *words, "--out", str(tmp_path / "out")], env=rank_env(),
                         capture_output=True, text=True, timeout=300)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith(f"fakeit {argv[0]}: error: {work} is paper-scale work and --device auto found no GPU: ")
    assert lines[0].endswith("or pass --device cpu to run it on the CPU anyway")


# ------------------------------------------------------------------------------- transfer, per data set


def mini_transfer(ckpt: Path, out: Path, sets=("digits", "clipart")):
    import torch

    from fakeit_lib.evaluation.transfer import transfer
    from fakeit_lib.evaluation.transfer_config import TransferConfig

    config = TransferConfig(checkpoint=str(ckpt), suite="mini", mini_sets=list(sets), workers=0, max_iter=30, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return transfer(config, out)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_stopped_transfer_resumes_with_the_data_sets_still_to_probe(smoke_run, tmp_path, monkeypatch):
    from fakeit_lib.core.errors import Stopped
    from fakeit_lib.evaluation import transfer as stage

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    ckpt, real_probe, fitted = smoke_run[1] / "checkpoint.pt", stage.probe_features, []

    def stopped_after_one(xtr, ytr, xte, yte, config, device="cpu"):
        if fitted:
            raise Stopped("stopped by SIGTERM while probing", 15)
        fitted.append(len(ytr))
        return real_probe(xtr, ytr, xte, yte, config, device)

    monkeypatch.setattr(stage, "probe_features", stopped_after_one)
    with pytest.raises(Stopped):
        mini_transfer(ckpt, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run" / "datasets").iterdir()) == ["digits.json"]
    assert not (tmp_path / "run" / "results.json").exists()
    fitted.clear()
    monkeypatch.setattr(stage, "probe_features", lambda *a, **k: fitted.append(len(a[1])) or real_probe(*a, **k))
    resumed = mini_transfer(ckpt, tmp_path / "run")
    monkeypatch.setattr(stage, "probe_features", real_probe)
    straight = mini_transfer(ckpt, tmp_path / "straight")
    assert len(fitted) == 1  # clipart alone: digits' probe was kept
    assert {n: d["top1"] for n, d in resumed["datasets"].items()} == {n: d["top1"] for n, d in straight["datasets"].items()}
    assert list(resumed["datasets"]) == ["digits", "clipart"]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_two_processes_share_the_probes(smoke_run, tmp_path):
    import json

    env = {**rank_env(), "FAKEIT_OUTPUT": str(tmp_path / "outputs")}
    proc = run_ranks(["-m", "fakeit_lib", "transfer", str(smoke_run[1] / "checkpoint.pt"), "--suite", "mini",
                      "--mini-sets", "digits", "clipart", "--device", "cpu", "--out", str(tmp_path / "two")], env, 400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "two" / "results.json").read_text())
    assert sorted(d["probed_by_process"] for d in results["datasets"].values()) == [0, 1]


# ------------------------------------------------------------------------------------------ time limits


def slurm_stand_ins(bin_dir: Path, record: Path) -> None:
    """srun standing for the ranks (it marks its start, and a SIGTERM), scontrol recording what it is asked."""
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(f'#!/bin/bash\ntrap \'echo TERM >> "{record}"; exit 143\' TERM\n'
                                  f'echo started >> "{record}"\nwhile true; do sleep 0.1; done\n')
    (bin_dir / "scontrol").write_text(f'#!/bin/bash\necho "scontrol $*" >> "{record}"\necho 127.0.0.1\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)


def test_the_slurm_job_stops_its_ranks_and_requeues_itself_before_the_time_limit(tmp_path):
    script = (ROOT / "examples" / "generate_slurm.sbatch").read_text()
    assert "#SBATCH --signal=B:USR1@900" in script and "#SBATCH --exclusive" in script
    assert "--cpus-per-task" not in script  # the node's cores, whatever their number
    record = tmp_path / "record"
    slurm_stand_ins(tmp_path / "bin", record)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "REAL_TRAIN": str(tmp_path),
           "SLURM_JOB_NODELIST": "node1", "SLURM_NNODES": "1", "SLURM_JOB_ID": "42", "SLURM_GPUS_ON_NODE": "2"}
    job = subprocess.Popen(["bash", str(ROOT / "examples" / "generate_slurm.sbatch")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: record.exists() and "started" in record.read_text(), 30, "the ranks did not start")
        job.send_signal(signal.SIGUSR1)  # what Slurm sends 900 s before the limit
        _, err = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, err
    assert record.read_text().splitlines() == ["scontrol show hostnames node1", "started", "TERM", "scontrol requeue 42"]
    assert err.strip().splitlines()[-1] == "time limit near: stopping the ranks and requeueing job 42"


def test_the_plans_slurm_array_requeues_its_tasks_before_the_time_limit(tmp_path):
    from types import SimpleNamespace

    from fakeit_lib.experiments import report

    stage = SimpleNamespace(step="generate", done=False, gpus=2, command=["generate", "--classes", "imagenet1k"])
    text = report.slurm_array([stage])
    assert "#SBATCH --signal=B:USR1@900" in text and "--cpus-per-task" not in text
    record = tmp_path / "record"
    slurm_stand_ins(tmp_path / "bin", record)
    (tmp_path / "bin" / "torchrun").write_bytes((tmp_path / "bin" / "srun").read_bytes())  # the task's ranks
    (tmp_path / "bin" / "torchrun").chmod(0o755)
    script = text.split("\n", 1)[1]  # below the line saying what it is
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "43",
           "SLURM_ARRAY_TASK_ID": "0"}
    job = subprocess.Popen(["bash", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: record.exists() and "started" in record.read_text(), 30, "the task did not start")
        job.send_signal(signal.SIGUSR1)
        job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0 and record.read_text().splitlines() == ["started", "TERM", "scontrol requeue 43"]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_signal_saves_training_within_its_epoch_and_the_resumed_run_equals_an_uninterrupted_one(smoke_run, tmp_path,
                                                                                                    monkeypatch):
    import torch

    from fakeit_lib.core.errors import Stopped
    from fakeit_lib.training import loop as training
    from fakeit_lib.training.train import make_config

    real = smoke_run[0]
    config = make_config("smoke", data=str(real), batch_size=2, device="cpu")  # 20 steps an epoch
    straight = training.train(config, tmp_path / "straight", log=lambda *a: None)
    real_lr, calls = training.lr_at, []

    def lr_then_usr1(*a, **k):  # Slurm's warning before the time limit, in the middle of epoch 2
        calls.append(1)
        if len(calls) == 33:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_lr(*a, **k)

    monkeypatch.setattr(training, "lr_at", lr_then_usr1)
    with pytest.raises(Stopped) as stopped:
        training.train(config, tmp_path / "run", log=lambda *a: None)
    assert str(stopped.value) == ("stopped by SIGUSR1 at epoch 2, step 11 of 20; the checkpoint is saved: run the same "
                                  "command to resume") and stopped.value.exit_code == 128 + signal.SIGUSR1
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert (state["epoch"], state["step_in_epoch"]) == (1, 11) and not (tmp_path / "run" / "DONE").exists()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # the handler is gone with the run
    monkeypatch.setattr(training, "lr_at", real_lr)
    lines = []
    training.train(config, tmp_path / "run", log=lines.append)
    assert lines[0] == f"resuming {tmp_path / 'run'} after epoch 1, step 11"
    a, b = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (straight, tmp_path / "run"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    drop = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_s")} for r in rows]  # noqa: E731
    assert drop(a["history"]) == drop(b["history"]) and len(a["history"]) == 2


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_training_saves_its_checkpoint_by_wall_time_within_an_epoch(smoke_run, tmp_path, monkeypatch, one_thread):
    from fakeit_lib.training import loop as training
    from fakeit_lib.training.train import make_config

    written = []
    real_write = training.atomic_write_bytes
    monkeypatch.setattr(training, "atomic_write_bytes", lambda path, data: written.append(path.name) or real_write(path, data))
    config = make_config("smoke", data=str(smoke_run[0]), batch_size=2, device="cpu", checkpoint_minutes=0)
    training.train(config, tmp_path / "run", log=lambda *a: None)
    assert written.count("checkpoint.pt") == 2 * 20  # 19 within each epoch (no minute to wait), 1 at its end


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_process_waiting_past_its_stages_timeout_names_itself_and_where_it_was(tmp_path):
    from fakeit_lib.core.distributed import STAGE_TIMEOUT_MINUTES, Ranks

    assert Ranks("cpu", stage="train").timeout.total_seconds() == 60 * STAGE_TIMEOUT_MINUTES["train"] < 12 * 3600
    run_ranks([str(ROOT / "tests" / "cluster_ranks.py"), "late_rank", str(tmp_path)], rank_env(), 120)
    line = (tmp_path / "rank0.txt").read_text()
    assert line.startswith("process 0 of 2 gave up in a barrier at epoch 2, step 7 of 20: another process stopped, "
                           "failed or hangs (the stage's timeout is 0:00:03); "), line


# -------------------------------------------------------------------------------------- the node's cores


@pytest.mark.parametrize("cores, procs, workers, threads", [(64, 8, 7, 8), (128, 8, 14, 16), (48, 8, 5, 6), (2, 1, 1, 2)])
def test_loader_workers_and_probe_threads_take_the_nodes_cores(monkeypatch, cores, procs, workers, threads):
    from fakeit_lib.core import devices

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(procs))
    assert devices.training_workers(14) == workers and devices.cores_per_process() == threads
    assert devices.training_workers(0) == 0  # the memory loader's none stays none


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_the_probe_runs_on_its_share_of_the_cores_not_torchruns_one_thread(smoke_run, tmp_path, monkeypatch):
    import torch

    from fakeit_lib.evaluation import transfer as stage

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    real_probe, seen = stage.probe_features, []
    monkeypatch.setattr(stage, "probe_features", lambda *a, **k: seen.append(torch.get_num_threads()) or real_probe(*a, **k))
    mini_transfer(smoke_run[1] / "checkpoint.pt", tmp_path / "run", sets=("digits",))  # under one thread, as torchrun sets
    assert seen == [3] and torch.get_num_threads() != 3
