"""Every collective on the device its backend communicates on: `Ranks` is the package's only door to torch.distributed
(the source is scanned for any other), and train, evaluate, transfer and generate run under a process-group double
that rejects a tensor on any other device, with gloo's rule (the CPU) and with NCCL's (the process's GPU).

CUDA is not available here, so the NCCL-like mode fakes it: the backend reads "nccl", and a tensor moved to cuda:N
becomes a CPU tensor whose device reads cuda:N (it keeps its data, so the real one-process gloo group underneath
still communicates). A plain CPU tensor reaching a collective is refused, as NCCL refuses it. Under the double
(one process) every stage must give what it gives without a process group.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from fakeit_lib.core.distributed import Ranks, comm_device

PACKAGE = Path(__file__).resolve().parents[1] / "fakeit_lib"
OWNER = PACKAGE / "core" / "distributed.py"  # the one module that may talk to torch.distributed
COLLECTIVES = ("all_reduce", "all_gather", "all_gather_into_tensor", "all_gather_object", "reduce", "reduce_scatter",
               "reduce_scatter_tensor", "broadcast", "broadcast_object_list", "gather", "gather_object", "scatter",
               "scatter_object_list", "all_to_all", "all_to_all_single", "barrier", "monitored_barrier", "send", "recv",
               "isend", "irecv")
TENSOR_COLLECTIVES = ("all_reduce", "all_gather", "all_gather_into_tensor", "reduce", "reduce_scatter_tensor",
                      "broadcast", "gather", "scatter", "all_to_all_single")


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def raw_distributed_uses(source: str) -> list[str]:
    """Lines of `source` that reach torch.distributed without Ranks: imports of it, `torch.distributed.X`, and
    collectives called on a handle named dist/_dist/distributed."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name.startswith("torch.distributed") for a in node.names):
            found.append(f"line {node.lineno}: import torch.distributed")
        elif isinstance(node, ast.ImportFrom) and node.module and (
                node.module.startswith("torch.distributed")
                or node.module == "torch" and any(a.name == "distributed" for a in node.names)):
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and _dotted(node).startswith("torch.distributed."):
            found.append(f"line {node.lineno}: {_dotted(node)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in COLLECTIVES:
            receiver = _dotted(node.func.value)
            if receiver.rsplit(".", 1)[-1] in ("dist", "_dist", "distributed") and receiver != "torch.distributed":
                found.append(f"line {node.lineno}: {_dotted(node.func)}()")
    return sorted(set(found))


def test_the_scan_finds_raw_collectives():
    sample = ("import torch\nimport torch.distributed as dist\nfrom torch import distributed\n"
              "def f(x, ranks):\n    torch.distributed.all_reduce(x)\n    dist.barrier()\n    ranks._dist.all_gather([x], x)\n"
              "    ranks.gather(x, 3)\n    x.gather(1, x)\n")
    assert raw_distributed_uses(sample) == [
        "line 2: import torch.distributed", "line 3: from torch import ...", "line 5: torch.distributed.all_reduce",
        "line 6: dist.barrier()", "line 7: ranks._dist.all_gather()"]


def test_no_collective_outside_core_distributed():
    found = {str(p.relative_to(PACKAGE)): raw_distributed_uses(p.read_text())
             for p in sorted(PACKAGE.rglob("*.py")) if p != OWNER}
    assert {k: v for k, v in found.items() if v} == {}


def test_comm_device_per_backend():
    assert comm_device("gloo", "cuda:3", 1) == "cpu" and comm_device(None, "cuda:0", 0) == "cpu"
    assert comm_device("nccl", "cuda:3", 1) == "cuda:3"  # the device the stage resolved, not a guess
    assert comm_device("nccl", "cuda", 2) == "cuda:2" and comm_device("nccl", "cpu", 5) == "cuda:5"


# ---------------------------------------------------------------------------------------------------- the double


class OnFakeCuda(torch.Tensor):
    """A CPU tensor standing for one on a GPU: its device reads FakeGroup.cuda; `.cpu()`/`.to("cpu")` copy it back."""

    @property
    def device(self):
        return torch.device(FakeGroup.cuda)

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


def _device_of(args, kwargs):
    for a in (*args, kwargs.get("device")):
        if isinstance(a, (str, torch.device)):
            try:
                return torch.device(a)
            except RuntimeError:
                continue  # a dtype given as a string is not a device
        if isinstance(a, torch.Tensor):
            return a.device
    return None


class FakeGroup:
    """A real one-process gloo group whose tensor collectives check every tensor against the device the backend
    needs: the CPU (gloo), or cuda:0 (NCCL, faked). Refused calls raise; every call is recorded as (name, device)."""

    cuda = "cuda:0"

    def __init__(self, monkeypatch, tmp_path: Path, backend: str):
        self.backend, self.calls = backend, []
        self.required = self.cuda if backend == "nccl" else "cpu"
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            monkeypatch.delenv(name, raising=False)
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg-store'}", rank=0, world_size=1)
        for name in TENSOR_COLLECTIVES:
            monkeypatch.setattr(dist, name, self._checked(name, getattr(dist, name)))
        monkeypatch.setattr(dist, "barrier", self._barrier(dist.barrier))
        if backend == "nccl":
            monkeypatch.setattr(dist, "get_backend", lambda group=None: "nccl")
            real_to = torch.Tensor.to

            def to(t, *args, **kwargs):
                target = _device_of(args, kwargs)
                fake = isinstance(t, OnFakeCuda)
                base = t.as_subclass(torch.Tensor) if fake else t
                if target is not None and target.type == "cuda":
                    args = tuple("cpu" if isinstance(a, (str, torch.device)) and _device_of((a,), {}) == target else a
                                 for a in args)
                    kwargs = {**kwargs, **({"device": "cpu"} if "device" in kwargs else {})}
                    return real_to(base, *args, **kwargs).as_subclass(OnFakeCuda)
                out = real_to(base, *args, **kwargs)
                if fake and target is None:  # a dtype change stays on the GPU
                    return out.as_subclass(OnFakeCuda)
                return out.clone() if fake and out is base else out

            monkeypatch.setattr(torch.Tensor, "to", to)

    def check(self, name: str, t) -> None:
        device = str(t.device)
        on_fake_gpu = isinstance(t, OnFakeCuda)
        if device != self.required or on_fake_gpu != (self.backend == "nccl"):
            raise RuntimeError(f"{name}: a tensor on {device} reached the {self.backend} backend, which needs {self.required}")

    def _checked(self, name: str, real):
        def call(*args, **kwargs):
            plain = []
            for a in args:
                if isinstance(a, torch.Tensor):
                    self.check(name, a)
                    a = a.as_subclass(torch.Tensor)  # the same storage: the real collective writes into it
                elif isinstance(a, list) and a and all(isinstance(x, torch.Tensor) for x in a):
                    for x in a:
                        self.check(name, x)
                    a = [x.as_subclass(torch.Tensor) for x in a]
                plain.append(a)
            self.calls.append((name, self.required))  # reached only when every tensor passed
            return real(*plain, **kwargs)

        return call

    def _barrier(self, real):
        def barrier(group=None, async_op=False, device_ids=None):
            self.calls.append(("barrier", f"cuda:{device_ids[0]}" if device_ids else "cpu"))
            if self.backend == "nccl" and device_ids != [int(self.required.split(":")[1])]:
                raise RuntimeError(f"barrier: NCCL needs this process's GPU ({self.required}), got device_ids={device_ids}")
            if self.backend == "gloo" and device_ids is not None:
                raise RuntimeError(f"barrier: gloo takes no device_ids, got {device_ids}")
            return real(group=group, async_op=async_op)

        return barrier

    def close(self) -> None:
        dist.destroy_process_group()


@pytest.fixture(params=["gloo", "nccl"])
def group(request, monkeypatch, tmp_path):
    g = FakeGroup(monkeypatch, tmp_path, request.param)
    yield g
    g.close()


def test_the_double_refuses_a_tensor_off_the_backends_device_and_ranks_moves_it(group):
    if group.backend == "nccl":  # what `fakeit train` did at the end of epoch 1 before every collective went through Ranks
        with pytest.raises(RuntimeError, match=r"all_reduce: a tensor on cpu reached the nccl backend, which needs cuda:0"):
            dist.all_reduce(torch.zeros(5, dtype=torch.float64))
    else:  # a GPU tensor handed to gloo
        with pytest.raises(RuntimeError, match=r"all_gather: a tensor on cuda:0 reached the gloo backend, which needs cpu"):
            dist.all_gather([torch.zeros(2)], torch.zeros(2).as_subclass(OnFakeCuda))
    assert group.calls == []  # refused calls never reach the group
    ranks = Ranks("cpu")
    assert ranks.distributed and (ranks.rank, ranks.world) == (0, 1) and ranks.comm_device == group.required
    summed = ranks.all_reduce(torch.arange(5, dtype=torch.float64))
    gathered = ranks.gather(torch.arange(6).reshape(3, 2), 3)
    ranks.barrier()
    for t in (summed, gathered):  # handed back on the caller's device, as plain tensors
        assert type(t) is torch.Tensor and t.device == torch.device("cpu")
    assert summed.tolist() == [0, 1, 2, 3, 4] and gathered.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert group.calls[-3:] == [("all_reduce", group.required), ("all_gather", group.required), ("barrier", group.required)]
    ranks.close()
    assert dist.is_initialized()  # a group the caller started is the caller's to end


# ------------------------------------------------------------------------------------------ the stages under it


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Tiny inputs of every stage: four real Fashion-MNIST images per class, a tiny Stable Diffusion."""
    from tiny_sd import build_tiny_sd

    from fakeit_lib.datasets.images import export_fashion_mnist

    base = tmp_path_factory.mktemp("collectives")
    return {"real": export_fashion_mnist(base / "real4", "train", per_class=4), "sd": build_tiny_sd(base / "sd")}


def run_stages(inputs: dict, out: Path) -> dict:
    """train -> evaluate -> transfer, and generate, at smoke size on the CPU, with outputs under `out`."""
    from fakeit_lib.evaluation.evaluate import EvalConfig, evaluate
    from fakeit_lib.evaluation.transfer import transfer
    from fakeit_lib.evaluation.transfer_config import TransferConfig
    from fakeit_lib.generation.generate import GenerateConfig, generate_dataset
    from fakeit_lib.training.loop import read_metrics, train
    from fakeit_lib.training.train import make_config

    run = train(make_config("smoke", data=str(inputs["real"]), device="cpu"), out / "run")
    ckpt = str(run / "checkpoint.pt")
    ev = evaluate(EvalConfig(checkpoint=ckpt, suite="mini", workers=0, max_images=40, batch_size=16, device="cpu"), out / "eval")
    tr = transfer(TransferConfig(checkpoint=ckpt, suite="mini", mini_sets=["digits"], workers=0, max_iter=30, device="cpu"),
                  out / "transfer")
    gen = GenerateConfig(classes="fashion-mnist", variant="c", generator=str(inputs["sd"]), images_per_class=1, guidance=2.0,
                         steps=2, size=32, batch_size=1, seed=0, device="cpu")
    data = generate_dataset(gen, out / "gen", progress=False)
    return {"metrics": [{k: v for k, v in m.items() if k not in ("seconds", "images_per_s")} for m in read_metrics(run)],
            "weights": torch.load(run / "checkpoint.pt", weights_only=False)["model"],
            "eval": ev["datasets"]["fashion-mnist-test"], "transfer": tr["datasets"]["digits"]["top1"],
            # named by the checkpoint's sha256 (whose bytes hold the epochs' timings) and the dataset split
            "features": {p.name.split("-", 1)[1]: torch.load(p) for p in sorted((out / "features").iterdir())},
            "images": {p.relative_to(data).as_posix(): p.read_bytes() for p in sorted(data.rglob("*.png"))}}


@pytest.fixture(scope="module")
def alone(inputs, tmp_path_factory):
    """The stages' results without a process group."""
    import os

    out = tmp_path_factory.mktemp("alone")
    before, threads = os.environ.get("FAKEIT_OUTPUT"), torch.get_num_threads()
    os.environ["FAKEIT_OUTPUT"] = str(out)
    torch.set_num_threads(1)
    try:
        return run_stages(inputs, out)
    finally:
        if before is None:
            os.environ.pop("FAKEIT_OUTPUT", None)
        else:
            os.environ["FAKEIT_OUTPUT"] = before
        torch.set_num_threads(threads)


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_every_stage_communicates_on_the_backends_device(group, inputs, alone, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "out"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = run_stages(inputs, tmp_path / "out")
    finally:
        torch.set_num_threads(threads)
    names = [n for n, _ in group.calls]
    assert {d for _, d in group.calls} == {group.required}  # every call on the backend's device (else it raised)
    assert names.count("all_reduce") == 2  # train: one per epoch (the smoke recipe's two)
    assert names.count("all_gather") == 2 + 4  # evaluate: top-k and targets; transfer: x and y of two splits
    assert names.count("barrier") >= 8  # train, evaluate, transfer (cache and end), generate
    # one process in a group computes what it computes alone
    assert got["metrics"] == alone["metrics"] and len(got["metrics"]) == 2
    assert all(torch.equal(got["weights"][k], alone["weights"][k]) for k in alone["weights"])
    assert got["eval"] == alone["eval"] and got["transfer"] == alone["transfer"]
    assert got["features"].keys() == alone["features"].keys() and len(got["features"]) == 2
    assert all(torch.equal(got["features"][k]["x"], alone["features"][k]["x"]) for k in alone["features"])
    assert got["images"] == alone["images"] and len(got["images"]) == 10
