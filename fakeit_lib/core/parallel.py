"""Independent small jobs (a model per seed, an evaluation, a probe) run side by side in worker processes.

On a CPU, a small model gains little from a second thread, and two threads fighting over cores with other work can
run many times slower than one (OpenMP threads spin while they wait). So at the mini scale the library runs one job
per core instead, each in its own process with one thread: several seeds train at once. On a GPU, or with one core
(or `FAKEIT_JOBS=1`), jobs run one after another in this process. Workers are started with "spawn" (safe beside a
Jupyter kernel and torch's threads), once per process, and reused; jobs whose output is already finished run here,
since loading them costs less than starting a worker.

Workers end with the process that started them: each watches its parent and exits as soon as it is gone, however it
ended (a notebook's kernel killed with its build, `kill -9`, the OOM killer). Without that they lived on, orphaned,
holding their memory (a job is simply lost: every stage is resumable). Polling is used rather than Linux's
PR_SET_PDEATHSIG, which fires when the *thread* that started the child ends, and a pool grows from whichever thread
submits a job.
"""

from __future__ import annotations

import atexit
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

from .errors import FakeitError

_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
PARENT_POLL_SECONDS = 0.5  # how often a worker checks that the process which started it is still there


def job_slots() -> int:
    """How many jobs run at once: $FAKEIT_JOBS, else the CPU count, or 1 when a GPU does the work."""
    value = os.environ.get("FAKEIT_JOBS")
    if value:
        try:
            n = int(value)
        except ValueError:
            raise FakeitError(f"FAKEIT_JOBS must be a whole number of parallel jobs, got {value!r}") from None
        if n < 1:
            raise FakeitError(f"FAKEIT_JOBS must be at least 1, got {n}")
        return n
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, os.cpu_count() or 1)


def pin_threads(threads: int) -> dict[str, int]:
    """Every thread pool of this process set to `threads`: torch's, and through threadpoolctl the BLAS and OpenMP
    libraries of NumPy, SciPy and torch (loaded first, so that the limit reaches them). Without it OpenBLAS starts
    one thread per core: on a 2-core machine a small L-BFGS fit (2,000 x 128 features) ran 17x slower with two
    threads than with one. Returns {pool: threads} as set, to be printed beside a measurement."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, which scikit-learn's solvers use)
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    if threads < 1:
        raise FakeitError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    pools = {"torch": torch.get_num_threads()}
    for info in threadpool_info():
        pools[f"{info['internal_api']}:{os.path.basename(info['filepath'])}"] = info["num_threads"]
    return pools


def exit_with_parent(parent: int, interval: float = PARENT_POLL_SECONDS) -> None:
    """End this process at once when `parent` (the pid that started it) is no longer its parent: a daemon thread
    polls os.getppid(), which changes when the parent dies and the process is re-parented."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(parent: int) -> None:
    import signal

    exit_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the parent's to handle; it shuts the workers down
    pin_threads(1)  # one job per core: every pool of the worker on one thread
    os.environ["TQDM_DISABLE"] = "1"  # the parent shows the progress; workers' bars would interleave


def _pool(n: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != n:
        if _POOL is not None:
            _POOL.shutdown()
        import multiprocessing

        _POOL = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                                    initargs=(os.getpid(),))
        _POOL_SIZE = n
    return _POOL


@atexit.register
def _shutdown() -> None:
    if _POOL is not None:
        _POOL.shutdown(cancel_futures=True)


def run_jobs(fn: Callable, jobs: Sequence[tuple], finished: Sequence[bool] | None = None, desc: str = "") -> list:
    """fn(*job) for every job, in order: finished ones here, the others in worker processes when there are
    several to run and several slots. `fn` must be a module-level function (workers import it by name)."""
    from tqdm.auto import tqdm

    finished = list(finished) if finished is not None else [False] * len(jobs)
    results: list = [None] * len(jobs)
    todo = [i for i, done in enumerate(finished) if not done]
    for i, done in enumerate(finished):
        if done:
            results[i] = fn(*jobs[i])
    slots = min(job_slots(), len(todo))
    if slots <= 1:
        for i in tqdm(todo, desc=desc, disable=not todo or None):
            results[i] = fn(*jobs[i])
        return results
    futures = {i: _pool(slots).submit(fn, *jobs[i]) for i in todo}
    with tqdm(total=len(todo), desc=f"{desc} ({slots} at once)", disable=None) as bar:
        for i in todo:
            results[i] = futures[i].result()  # re-raises a worker's FakeitError as is
            bar.update(1)
    return results
